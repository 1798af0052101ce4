#!/usr/bin/env bash
# Manual step (not in CI): refresh docs/ica-connection-form.png, the Airflow UI's "Add Connection"
# form with type `ica`, from a real API server. Needs root (or passwordless sudo) on Debian/Ubuntu:
# Debian's chromium is installed if missing, and Playwright (the `deploy` extra) drives it;
# Playwright's own browser download is never used. Run from the repo root:
#   bash deploy/screenshot-connection-form.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make .venv/.e2e-installed
.venv/bin/python deploy/screenshot_connection_form.py "$@"
