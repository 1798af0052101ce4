"""Batches for the integration tests, created through the hook on the fake server."""

from __future__ import annotations

from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.testing.seed import nextflow_item


def create_batch(idempotency_key: str, *refs: str, project_id: str = "proj") -> str:
    """A Nextflow batch with one item per ``userReference`` (markers in them drive the fake)."""
    body = {"nextflowItems": [nextflow_item(ref) for ref in refs]}
    return str(IcaHook().create_analysis_creation_batch(project_id, body, idempotency_key).id)
