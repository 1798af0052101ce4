"""Manual step: refresh ``docs/ica-connection-form.png``, the UI's form for an ``ica`` connection.

Brings up PostgreSQL and the API server alone (as ``deploy/e2e.py`` does, same settings),
screenshots the form with ``deploy/capture_connection_form.py`` (Debian's chromium, installed
if missing, driven by Playwright from the ``deploy`` extra), and tears everything down:

    make .venv/.e2e-installed && .venv/bin/python deploy/screenshot_connection_form.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``deploy`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.airflow_e2e.browser import ensure_chromium
from deploy.airflow_e2e.deployment import REPO, Deployment, Settings
from deploy.capture_connection_form import capture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot the 'ica' connection form of the Airflow UI")
    parser.add_argument("--out", default=str(REPO / "docs" / "ica-connection-form.png"))
    args = parser.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    ensure_chromium()
    with Deployment(Settings(components=("api-server",))) as deployment:
        print(f"capturing {deployment.api_url}/connections -> {args.out}", flush=True)
        capture(deployment.api_url, args.out)
    print("screenshot saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
