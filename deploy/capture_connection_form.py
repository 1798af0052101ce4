"""Screenshot the Airflow UI's "Add Connection" form with connection type ``ica`` selected.

Uses the deployment's browser (Debian's Chromium driven by Playwright, see
``deploy/airflow_e2e/browser.py``). Called by ``deploy/screenshot_connection_form.py``, which
brings the API server up first.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from deploy.airflow_e2e.browser import browser_page

HOOK_NAME = "Illumina Connected Analytics"
TIMEOUT_MS = 60_000


def capture(base_url: str, out: str) -> None:
    with browser_page(TIMEOUT_MS) as page:
        page.set_viewport_size({"width": 1000, "height": 1400})
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

