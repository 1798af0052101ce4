"""DAG files import the operator and the sensor on every parse: those imports stay light."""

from __future__ import annotations

import json
import subprocess
import sys

# What a DAG file's import of the operator and the sensor loads of ours: the task side, the
# core's wait and tracker, the hook and the models load when a task runs.
LIGHT = {
    "ica_airflow_provider",
    "ica_airflow_provider._compat",
    "ica_airflow_provider.arguments",
    "ica_airflow_provider.core",
    "ica_airflow_provider.core.status",
    "ica_airflow_provider.core.wake",
    "ica_airflow_provider.defaults",
    "ica_airflow_provider.links",
    "ica_airflow_provider.operators",
    "ica_airflow_provider.operators.ica",
    "ica_airflow_provider.sensors",
    "ica_airflow_provider.sensors.ica",
    "ica_airflow_provider.task_mixin",
}


def test_operator_and_sensor_import_no_client_models_or_http_libraries() -> None:
    code = (
        "import json, sys\n"
        "try:\n    import airflow.sdk\nexcept ImportError:\n    import airflow.models\n"
        "before = set(sys.modules)\n"
        "import ica_airflow_provider.operators.ica, ica_airflow_provider.sensors.ica\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    new = set(json.loads(out.stdout.strip().splitlines()[-1]))
    ours = {m for m in new if m.startswith("ica_airflow_provider")}
    # (Airflow 3 may have loaded the package itself already, for the provider info.)
    assert ours <= LIGHT
    assert {"ica_airflow_provider.operators.ica", "ica_airflow_provider.sensors.ica"} <= ours
    assert not {"httpx", "pydantic", "requests"} & {m.split(".")[0] for m in new}
