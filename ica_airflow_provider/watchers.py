"""Assets watched for ICA's events, in one line, and batch items from the events that started a run.

For Airflow 3's event-driven scheduling (docs/asset-watchers.md)::

    fastq = ica_uploads_asset("run_fastq", sqs_queue=QUEUE, project_id=PROJECT, path_glob="/runs/*/fastq/*.fastq.gz")

    with DAG("launch", schedule=[fastq], ...):
        @task
        def items(triggering_asset_events=None):
            return fastq_batch_items(triggering_asset_events, pipeline_id=PIPELINE, parameter_code="reads")

The asset functions need Airflow 3.0 or later; :func:`event_payloads` and
:func:`fastq_batch_items` read plain data and work everywhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ica_airflow_provider import _compat
from ica_airflow_provider.core.ica_events import ANALYSIS_SUCCEEDED, DATA_UPLOADED

log = logging.getLogger(__name__)

# Illumina's FASTQ names: <sample>_S1_L001_R1_001.fastq.gz, and the short <sample>_R1.fastq.gz.
FASTQ_NAME = r"(?P<sample>.+?)(?:_S\d+)?(?:_L\d{3})?_R(?P<read>[12])(?:_\d{3})?\.f(?:ast)?q(?:\.gz)?"


def ica_uploads_asset(
    name: str,
    *,
    sqs_queue: str,
    project_id: str,
    path_glob: str,
    aws_conn_id: str | None = "aws_default",
    data_formats: Iterable[str] = (),
    tags: Iterable[str] = (),
    files_per_sample: int | None = None,
    name_pattern: str = FASTQ_NAME,
) -> Any:
    """An asset with a watcher: one asset event per file uploaded (``ICA_DATA_108``) whose path matches.

    With ``files_per_sample`` (2 for R1 and R2), one asset event per sample instead, once that many
    of its files (same folder, same ``sample`` of ``name_pattern`` on the name) were uploaded.
    """
    grouping = {} if files_per_sample is None else {"group_pattern": name_pattern, "group_size": files_per_sample}
    return _watched_asset(
        name, sqs_queue=sqs_queue, aws_conn_id=aws_conn_id, event_codes=[DATA_UPLOADED], project_id=project_id,
        path_glob=path_glob, data_formats=list(data_formats), tags=list(tags), **grouping,
    )


def ica_analyses_succeeded_asset(
    name: str,
    *,
    sqs_queue: str,
    project_id: str,
    pipeline_codes: Iterable[str] = (),
    aws_conn_id: str | None = "aws_default",
    tags: Iterable[str] = (),
) -> Any:
    """An asset with a watcher: one asset event per analysis that succeeded (``ICA_EXEC_002``) of these pipelines."""
    return _watched_asset(
        name, sqs_queue=sqs_queue, aws_conn_id=aws_conn_id, event_codes=[ANALYSIS_SUCCEEDED], project_id=project_id,
        pipeline_codes=list(pipeline_codes), tags=list(tags),
    )


def _watched_asset(name: str, **trigger_arguments: Any) -> Any:
    from ica_airflow_provider.triggers.watcher import (
        IcaNotificationTrigger,  # ImportError on Airflow 2, saying why
    )

    trigger = IcaNotificationTrigger(**trigger_arguments)
    return _compat.Asset(name=name, watchers=[_compat.AssetWatcher(name=f"{name}_watcher", trigger=trigger)])


def watched_event_codes(*assets: Any) -> list[str]:
    """The ICA event codes the assets' ICA watchers read: what ``IcaHook.ensure_notifications`` must subscribe."""
    codes: dict[str, None] = {}
    for asset in assets:
        for watcher in getattr(asset, "watchers", None) or ():
            _, kwargs = watcher.trigger.serialize()
            if isinstance(kwargs.get("event_codes"), list) and "sqs_queue" in kwargs:
                codes.update(dict.fromkeys(kwargs["event_codes"]))
    return list(codes)


def event_payloads(triggering_asset_events: Any) -> list[dict[str, Any]]:
    """The ICA payloads of the asset events that started this run, oldest first, each event once.

    A group's event (``files_per_sample``) gives the payload of each of its files.

    Takes the context's ``triggering_asset_events`` (a mapping of asset to events), a list of
    asset events, or of their ``extra`` dicts; events not made by an ICA watcher are skipped.
    """
    events: Iterable[Any]
    if triggering_asset_events is None:
        return []
    if isinstance(triggering_asset_events, Mapping):
        events = [event for group in triggering_asset_events.values() for event in group]
    else:
        events = triggering_asset_events
    payloads: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event in events:
        extra = event.get("extra", event) if isinstance(event, Mapping) else getattr(event, "extra", None)
        payload = extra.get("payload") if isinstance(extra, Mapping) else None
        if not (isinstance(payload, Mapping) and "event_code" in payload and "id" in payload):
            continue
        # A group's event stands for its files: each file's payload, as if it had come alone.
        files = payload.get("files") if payload.get("kind") == "data_group" else None
        for one in files if isinstance(files, list) else [payload]:
            key = (one.get("id"), one.get("event_code"), one.get("time_modified") or one.get("timestamp"))
            payloads.setdefault(key, dict(one))
    return sorted(payloads.values(), key=lambda p: str(p.get("timestamp") or ""))


def fastq_batch_items(
    triggering_asset_events: Any,
    *,
    pipeline_id: str,
    parameter_code: str = "reads",
    name_pattern: str = FASTQ_NAME,
    reference_suffix: str = "",
) -> list[dict[str, Any]]:
    """One ``nextflowItems`` entry per sample of the uploaded FASTQs, ``userReference`` the sample name.

    The sample is the ``sample`` group of ``name_pattern`` on the file name; the data ids of
    a sample's files in one folder go to the input ``parameter_code``, sorted by name. A sample
    whose files lie in several folders (two sequencing runs) gets one item per folder, the
    folder's name added to its ``userReference``: reads of different runs are never merged.
    Files whose name does not match are skipped (logged).
    """
    pattern = re.compile(name_pattern)
    if "sample" not in pattern.groupindex:
        raise ValueError(f"name_pattern: needs a group named 'sample', got {name_pattern!r}")
    groups: dict[tuple[str, str], dict[str, str]] = {}  # (sample, folder) -> file name -> data id
    for payload in event_payloads(triggering_asset_events):
        if payload.get("kind") != "data" or not payload.get("name"):
            continue
        match = pattern.fullmatch(payload["name"])
        if match is None:
            log.info("Skipping %s: its name is no FASTQ of a sample (%s)", payload.get("path"), name_pattern)
            continue
        folder = str(payload.get("path") or "").rpartition("/")[0]
        groups.setdefault((match.group("sample"), folder), {})[payload["name"]] = payload["id"]
    in_folders: dict[str, int] = {}
    for sample, _ in groups:
        in_folders[sample] = in_folders.get(sample, 0) + 1
    return [
        {
            "userReference": _reference(sample, folder, in_folders[sample] > 1) + reference_suffix,
            "pipelineId": pipeline_id,
            "analysisInput": {
                "inputs": [{"parameterCode": parameter_code, "dataIds": [files[n] for n in sorted(files)]}]
            },
        }
        for (sample, folder), files in sorted(groups.items())
    ]


def _reference(sample: str, folder: str, several: bool) -> str:
    """The sample, with its folder's name (in the characters a userReference allows) when it is in several."""
    if not several:
        return sample
    name = next((part for part in reversed(folder.split("/")) if part not in ("", "fastq", "FASTQ")), "root")
    return f"{sample}-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}"
