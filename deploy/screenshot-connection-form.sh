#!/usr/bin/env bash
# Manual step (not in CI): refresh docs/ica-connection-form.png, the Airflow UI's "Add Connection"
# form with type `ica`, from a real API server. Needs root (or passwordless sudo) on Debian/Ubuntu:
# installs Debian's chromium and, in a throw-away venv, Playwright (which drives that chromium;
# Playwright's own browser download is never used). Run from the repo root after `make e2e` has
# created .venv with the `deploy` extra:  bash deploy/screenshot-connection-form.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON_AIRFLOW=${PYTHON_AIRFLOW:-.venv/bin/python}
PW_VENV=${PW_VENV:-/tmp/ica-playwright-venv}
PLAYWRIGHT_VERSION=${PLAYWRIGHT_VERSION:-1.65.2}

if [ ! -x /usr/bin/chromium ]; then
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo -n"
    $sudo_ apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q chromium
fi
if [ ! -x "$PW_VENV/bin/python" ]; then
    python3 -m venv "$PW_VENV"
    "$PW_VENV/bin/pip" install --quiet --disable-pip-version-check "playwright==$PLAYWRIGHT_VERSION"
fi
"$PYTHON_AIRFLOW" deploy/screenshot_connection_form.py --playwright-python "$PW_VENV/bin/python" "$@"
