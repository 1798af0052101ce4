"""Manual step: refresh ``docs/ica-connection-form.png``, the UI's form for an ``ica`` connection.

Brings up PostgreSQL and the API server alone (as ``deploy/e2e.py`` does, same settings),
then runs ``deploy/capture_connection_form.py`` with the Python of a venv that has Playwright,
and tears everything down. Use ``deploy/screenshot-connection-form.sh``, which installs
Chromium and that venv first; or directly, with the Airflow venv's Python:

    .venv/bin/python deploy/screenshot_connection_form.py --playwright-python /tmp/pw/bin/python
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``deploy`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.airflow_e2e.deployment import REPO, Deployment, Settings

CAPTURE = Path(__file__).resolve().parent / "capture_connection_form.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot the 'ica' connection form of the Airflow UI")
    parser.add_argument("--playwright-python", required=True, help="Python of a venv with playwright")
    parser.add_argument("--out", default=str(REPO / "docs" / "ica-connection-form.png"))
    args = parser.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with Deployment(Settings(components=("api-server",))) as deployment:
        print(f"capturing {deployment.api_url}/connections -> {args.out}", flush=True)
        code = subprocess.run(
            [args.playwright_python, str(CAPTURE), deployment.api_url, args.out], check=False
        ).returncode
    print("screenshot saved" if code == 0 else f"capture failed (exit code {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
