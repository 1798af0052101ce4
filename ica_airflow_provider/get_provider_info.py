"""Provider metadata read by Airflow's ProvidersManager (a plain dict: cheap to load)."""

from __future__ import annotations

from typing import Any

# The connection form, declared here so Airflow 3.2+ renders it without importing the hook.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "project_id": {
        "label": "Default project ID",
        "description": "ICA project used when an operator or sensor gives none.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Read timeout per request, or [connect, read]. Default [10, 60].",
        "schema": {"type": ["string", "null"]},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of a request after 429, 5xx or a network error. Default 5.",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "retry_backoff": {
        "label": "Retry backoff (seconds)",
        "description": "First wait before a retry; it doubles per retry, with jitter. Default 1.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "retry_backoff_max": {
        "label": "Max retry backoff (seconds)",
        "description": "Cap of the wait between retries. Default 60.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "max_requests_per_second": {
        "label": "Max requests per second",
        "description": "Requests to ICA per second from one Airflow process (all its tasks and waits"
        " together); halved for a while after a 429. 0 = unlimited. Default 20.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "Verify the server's TLS certificate. Default true. A CA bundle path can go in the extra JSON.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "allow_insecure_http": {
        "label": "Allow plain http",
        "description": "Allow an http:// host that is not on loopback. Default false.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "sqs_queue": {
        "label": "Notifications SQS queue URL",
        "description": "Waits sleep until ICA's notifications on this queue wake them (REST still decides"
        " when a batch is done). Empty: waits poll. Set up with ica-notifications-setup.",
        "schema": {"type": ["string", "null"]},
    },
    "aws_conn_id": {
        "label": "AWS connection ID",
        "description": "The Airflow AWS connection that reads the queue (region, role, keys, endpoint URL)."
        " Default aws_default.",
        "schema": {"type": ["string", "null"]},
    },
    "reconcile_interval": {
        "label": "Reconcile interval (seconds)",
        "description": "A woken wait still polls ICA at least this often, in case a notification"
        " was lost. Default 900.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"host": "ICA API base URL", "password": "API key"},
    "placeholders": {
        "host": "https://ica.illumina.com/ica/rest",
        "password": "ICA API key",
        "project_id": "e.g. 3f2a6c1e-…",
        "timeout": "60",
        "max_retries": "5",
        "max_requests_per_second": "20",
        "sqs_queue": "https://sqs.<region>.amazonaws.com/<account>/<queue>",
        "aws_conn_id": "aws_default",
        "reconcile_interval": "900",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "ica-airflow-provider",
        "name": "Illumina Connected Analytics",
        "description": "Launch and wait for ICA analysis creation batches from Airflow.",
        "integrations": [
            {
                "integration-name": "Illumina Connected Analytics",
                "external-doc-url": "https://help.ica.illumina.com/",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": "Illumina Connected Analytics",
                "python-modules": ["ica_airflow_provider.operators.ica"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Illumina Connected Analytics",
                "python-modules": ["ica_airflow_provider.sensors.ica"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Illumina Connected Analytics",
                "python-modules": ["ica_airflow_provider.hooks.ica"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Illumina Connected Analytics",
                "python-modules": ["ica_airflow_provider.triggers.ica"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "ica",
                "hook-class-name": "ica_airflow_provider.hooks.ica.IcaHook",
                "hook-name": "Illumina Connected Analytics",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "extra-links": [
            "ica_airflow_provider.links.IcaProjectAnalysesLink",
            "ica_airflow_provider.links.IcaAnalysisLink",
        ],
    }
