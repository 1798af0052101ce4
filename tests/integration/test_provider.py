"""Airflow discovers the provider: entry point, connection type, form fields."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ica_airflow_provider import _compat
from ica_airflow_provider.get_provider_info import get_provider_info
from ica_airflow_provider.hooks.ica import IcaHook

AIRFLOW = str(Path(sys.executable).parent / "airflow")
# The notification settings' fields: label, and the placeholder the form shows.
NOTIFICATION_FIELDS = {
    "sqs_queue": ("Notifications SQS queue URL", "https://sqs.<region>.amazonaws.com/<account>/<queue>"),
    "aws_conn_id": ("AWS connection ID", "aws_default"),
    "reconcile_interval": ("Reconcile interval (seconds)", "900"),
}


def airflow_json(*args: str) -> Any:
    out = subprocess.run([AIRFLOW, *args, "-o", "json"], capture_output=True, text=True, timeout=120, check=True)
    # Log lines may come first; the JSON document is the line that starts with "[{".
    (document,) = [line for line in out.stdout.splitlines() if line.startswith("[{")]
    return json.loads(document)


def test_airflow_lists_the_provider_and_its_connection_type() -> None:
    providers = {p["package_name"]: p for p in airflow_json("providers", "list")}
    assert "ica-airflow-provider" in providers
    hooks = {h["connection_type"]: h for h in airflow_json("providers", "hooks")}
    assert hooks["ica"]["class"] == "ica_airflow_provider.hooks.ica.IcaHook"


def test_provider_info_declares_every_class_it_names() -> None:
    import importlib

    info = get_provider_info()
    assert info["package-name"] == "ica-airflow-provider"
    modules = [m for key in ("operators", "sensors", "hooks", "triggers") for e in info[key] for m in e["python-modules"]]
    for module in modules:
        importlib.import_module(module)
    classes = [info["connection-types"][0]["hook-class-name"], *info["extra-links"]]
    for path in classes:
        module, name = path.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), path


def test_connection_form_is_declared_for_airflow_3_and_2() -> None:
    conn_type = get_provider_info()["connection-types"][0]
    assert conn_type["connection-type"] == IcaHook.conn_type == "ica"
    fields = conn_type["conn-fields"]
    assert set(fields) == {
        "project_id", "timeout", "max_retries", "retry_backoff", "retry_backoff_max", "verify", "allow_insecure_http",
        "max_requests_per_second", "sqs_queue", "aws_conn_id", "reconcile_interval",
    }
    assert all(f["label"] and f["schema"]["type"] for f in fields.values())
    behaviour = IcaHook.get_ui_field_behaviour()  # Airflow 2 reads it from the hook
    assert behaviour["relabeling"] == {"host": "ICA API base URL", "password": "API key"}
    assert "login" in behaviour["hidden_fields"]


def test_airflow_renders_the_notification_fields_in_the_form() -> None:
    """Through Airflow's own ProvidersManager: 3.2+ builds the form from conn-fields, 2.x from the hook's widgets."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    if not _compat.READS_CONN_FIELDS and importlib.util.find_spec("flask_appbuilder") is None:
        # Airflow 3.0/3.1 without the FAB provider: the generic form, extras as JSON (docs/connection.md).
        assert "ica" not in manager.field_behaviours
        assert not [name for name in manager.connection_form_widgets if name.startswith("extra__ica__")]
        return
    widgets, behaviour = manager.connection_form_widgets, manager.field_behaviours["ica"]
    for name, (label, placeholder) in NOTIFICATION_FIELDS.items():
        widget = widgets[f"extra__ica__{name}"]
        assert widget.hook_class_name.rsplit(".", 1)[-1] == "IcaHook"  # Airflow 2 gives the class name alone
        field = widget.field
        shown = field["schema"]["title"] if isinstance(field, dict) else str(field.args[0])  # a wtforms field
        assert shown == label, (name, field)
        assert behaviour["placeholders"][f"extra__ica__{name}"] == placeholder
    # A number the form checks before it saves: more than 0 seconds.
    assert get_provider_info()["connection-types"][0]["conn-fields"]["reconcile_interval"]["schema"] == {
        "type": ["number", "null"], "exclusiveMinimum": 0,
    }


def test_connections_test_command_mints_a_token(ica_fake_server: Any, tmp_path: Path) -> None:
    import os

    env = dict(os.environ)
    env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    env["AIRFLOW_CONN_ICA_DEFAULT"] = json.dumps(
        {"conn_type": "ica", "host": ica_fake_server.url, "password": "fake-api-key"}
    )
    ok = subprocess.run([AIRFLOW, "connections", "test", "ica_default"], env=env, capture_output=True, text=True, timeout=120)
    assert "Connection success!" in ok.stdout, ok.stdout + ok.stderr
    env["AIRFLOW_CONN_ICA_DEFAULT"] = json.dumps(
        {"conn_type": "ica", "host": ica_fake_server.url, "password": "wrong-key"}
    )
    bad = subprocess.run([AIRFLOW, "connections", "test", "ica_default"], env=env, capture_output=True, text=True, timeout=120)
    assert "401" in bad.stdout + bad.stderr
    assert "wrong-key" not in bad.stdout + bad.stderr
