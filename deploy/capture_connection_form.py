"""Screenshot the Airflow UI's "Add Connection" form with connection type ``ica`` selected.

Runs in a venv that has ``playwright`` (not the Airflow one) and drives Debian's Chromium
(``/usr/bin/chromium``; Playwright's own browser download is not used). Called by
``deploy/screenshot_connection_form.py``, which brings the API server up first:

    python deploy/capture_connection_form.py http://127.0.0.1:PORT docs/ica-connection-form.png
"""

from __future__ import annotations

import base64
import html
import sys
import tempfile
from typing import Any

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOOK_NAME = "Illumina Connected Analytics"
TIMEOUT_MS = 60_000


def capture(base_url: str, out: str) -> None:
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1000, "height": 1400},
            device_scale_factor=1,
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{base_url.rstrip('/')}/connections", wait_until="networkidle")
        page.get_by_role("button", name="Add Connection").click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for()
        dialog.get_by_role("textbox").first.fill("ica_default")
        dialog.get_by_role("combobox").first.click()
        page.keyboard.type("Illumina")
        page.get_by_role("option", name=HOOK_NAME).click()
        # The form's sections are an accordion that opens one at a time: one shot of each.
        shots = []
        for section, first_label in SECTIONS:
            open_section(dialog, section)
            dialog.get_by_text(first_label, exact=True).first.wait_for(state="visible")
            page.evaluate("document.activeElement && document.activeElement.blur()")
            page.wait_for_timeout(600)  # the accordion's animation
            shots.append((section, dialog.screenshot()))
        side_by_side(page, shots, out)
        context.close()


SECTIONS = (("Standard Fields", "ICA API base URL"), ("Extra Fields", "Default project ID"))


def open_section(dialog: Any, section: str) -> None:
    toggle = dialog.get_by_role("button", name=section, exact=True).first
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def side_by_side(page: Any, shots: list[tuple[str, bytes]], out: str) -> None:
    """One PNG with the shots next to each other, drawn by the same browser."""
    cells = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{html.escape(section)} open</figcaption></figure>"
        for section, png in shots
    )
    page.set_viewport_size({"width": 2000, "height": 800})
    page.set_content(
        "<html><body style='margin:0;background:#e5e7eb;font:14px sans-serif'>"
        f"<div id='all' style='display:flex;gap:16px;padding:16px;align-items:flex-start'>{cells}</div>"
        "<style>figure{margin:0} figcaption{text-align:center;color:#374151;padding-top:6px}"
        "img{display:block;box-shadow:0 1px 4px #0003}</style></body></html>"
    )
    page.wait_for_load_state("load")
    page.locator("#all").screenshot(path=out)


if __name__ == "__main__":
    capture(sys.argv[1], sys.argv[2])
