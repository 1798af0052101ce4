"""`make demo-events` runs end to end: the demo's batch woken by notifications, then polled."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "airflow.providers.amazon", reason="apache-airflow-providers-amazon is not installed (the 'events' extra)"
)
pytest.importorskip("moto", reason="moto is not installed (the 'test' extra)")

REPO = Path(__file__).resolve().parents[2]


def row(output: str, label: str) -> list[str]:
    """The cells of the summary table's row ``label`` (woken run, polled run)."""
    found = re.search(rf"^ *{re.escape(label)} +(\S+) +(\S+)$", output, re.MULTILINE)
    assert found, f"no row {label!r} in:\n{output[-2000:]}"
    return [found.group(1), found.group(2)]


@pytest.mark.e2e
def test_demo_events() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo_events.py"), "NA12878"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, output[-3000:] + result.stderr[-3000:]
    assert "Demo succeeded" in output
    # The setup call ran twice: the second found the channel and both subscriptions.
    assert output.count(": already there") == 3
    woken, polled = row(output, "times the wait was woken by them")
    assert int(woken) >= 1 and polled == "-"
    applied, _ = row(output, "status changes applied (no request)")
    assert int(applied) >= 1
    assert all(int(n) > 0 for n in row(output, "REST requests to ICA (the whole run)"))
    # A worker that ran a woken wait exits without calling its queue unreadable.
    assert "Cannot read SQS queue" not in output
