"""Regenerate constraints/airflow-X.Y.txt: each Airflow line's newest patch, pinned as of its release.

The official Airflow constraint files are not reachable from CI, so the pins are resolved
here instead: ``uv pip compile --universal --exclude-newer <release day>`` over PyPI, for
``apache-airflow==<patch>`` plus the provider's ``test`` extra, valid on every Python the
release supports (markers). A user installing that release then got the same versions.

Maintainers only (needs network and uv; CI just reads the files):

    python3 -m venv /tmp/uv && /tmp/uv/bin/pip install uv
    python3 scripts/pin_constraints.py --uv /tmp/uv/bin/uv            # every line
    python3 scripts/pin_constraints.py --uv /tmp/uv/bin/uv 3.0 3.1    # some lines
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "constraints"
LINES = ["2.10", "2.11", "3.0", "3.1", "3.2", "3.3"]
PYPI = "https://pypi.org/pypi/apache-airflow/json"
FINAL = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def newest_patches(lines: list[str]) -> dict[str, tuple[str, str]]:
    """``{"3.0": ("3.0.6", "2025-08-29T15:56:11Z"), ...}``: newest final release of each line."""
    with urllib.request.urlopen(PYPI, timeout=60) as response:
        releases = json.load(response)["releases"]
    found: dict[str, tuple[tuple[int, ...], str, str]] = {}
    for version, files in releases.items():
        match = FINAL.match(version)
        if not match or not files:
            continue
        line = f"{match[1]}.{match[2]}"
        key = tuple(int(part) for part in match.groups())
        if line in lines and (line not in found or key > found[line][0]):
            found[line] = (key, version, min(f["upload_time_iso_8601"] for f in files))
    missing = set(lines) - set(found)
    if missing:
        raise SystemExit(f"no release on PyPI for Airflow {', '.join(sorted(missing))}")
    return {line: (version, uploaded) for line, (_, version, uploaded) in found.items()}


def pin(uv: str, line: str, version: str, uploaded: str) -> Path:
    extras = ["test"]  # the dev tools and `make e2e`'s deploy extra are pinned by pyproject.toml
    # The end of the release day: providers released alongside it are included.
    released = datetime.fromisoformat(uploaded.replace("Z", "+00:00")).date()
    cutoff = f"{released + timedelta(days=1)}T00:00:00Z"
    target = CONSTRAINTS / f"airflow-{line}.txt"
    with tempfile.TemporaryDirectory() as tmp:
        requirement = Path(tmp, "airflow.in")
        requirement.write_text(f"apache-airflow=={version}\n")
        compiled = subprocess.run(
            [uv, "pip", "compile", "--quiet", "--universal", "--python-version", "3.10",
             "--exclude-newer", cutoff, "--no-header", "--no-annotate",
             str(REPO / "pyproject.toml"), *(f"--extra={extra}" for extra in extras), str(requirement)],
            check=True, capture_output=True, text=True, cwd=REPO,
        ).stdout  # fmt: skip
    header = (
        f"# Airflow {version} and the provider's extras {', '.join(extras)}, resolved from PyPI as they were on\n"
        f"# {released} (its release): uv pip compile --universal --exclude-newer {cutoff}.\n"
        "# Regenerate with scripts/pin_constraints.py; install: pip install -c <this file> apache-airflow -e .[test,events]\n"
    )
    target.write_text(header + compiled + kept_extras(target))
    return target


EXTRAS_MARKER = "# The dev, deploy and distributed extras"


def kept_extras(target: Path) -> str:
    """The hand-kept block of newer extras' pins at the end of a file (see its comment), kept as is."""
    text = target.read_text() if target.exists() else ""
    start = text.find(EXTRAS_MARKER)
    return "\n" + text[start:] if start >= 0 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines", nargs="*", default=LINES, help=f"Airflow lines (default: {' '.join(LINES)})")
    parser.add_argument("--uv", default="uv", help="the uv executable")
    args = parser.parse_args()
    for line, (version, uploaded) in sorted(newest_patches(args.lines).items()):
        print(f"Airflow {line}: {version} (released {uploaded[:10]}) -> {pin(args.uv, line, version, uploaded).name}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
