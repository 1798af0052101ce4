"""A headless Chromium from the machine's Debian packages, driven by Playwright from PyPI.

Playwright's own browser download is never used: ``chromium`` comes from apt (installed
here when ``/usr/bin/chromium`` is missing) and Playwright starts that executable with a
fresh profile directory, thrown away afterwards.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.airflow_e2e.procs import apt_install

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
# Fonts: without them the screenshots show boxes instead of letters.
PACKAGES = ("chromium", "fonts-liberation", "fonts-dejavu-core")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # root in CI: Chromium's sandbox refuses to run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}


def ensure_chromium() -> dict[str, float]:
    """Install Debian's chromium if it is missing; the time it took, by step."""
    if CHROMIUM.exists():
        return {}
    started = time.monotonic()
    apt_install(*PACKAGES)
    if not CHROMIUM.exists():
        raise RuntimeError(f"apt-get installed {', '.join(PACKAGES)} but {CHROMIUM} is still missing")
    return {"apt-get install chromium": time.monotonic() - started}


@contextlib.contextmanager
def browser_page(timeout_ms: float = 30_000) -> Iterator[Any]:
    """One page of a headless Chromium with a fresh ``--user-data-dir``, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="ica-e2e-chromium-") as profile:
        # launch_persistent_context passes ``profile`` as --user-data-dir.
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport=VIEWPORT,
            device_scale_factor=1,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            context.close()
