"""Render each email template with sample data in Chromium and save docs/img/email-<name>.png.

Run: .venv/bin/python bench/screenshots_email.py
The inline chart (cid: in a real email) is swapped for a data: URI so the browser can show it.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.delivery.samples import (  # noqa: E402
    failure_context,
    no_data_context,
    report_context,
    trend_series,
)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options
    from opskit.delivery.charts import trend_chart_png
    from opskit.delivery.render import Renderer

    renderer = Renderer(timezone="Europe/Berlin")
    chart = (
        "data:image/png;base64,"
        + base64.b64encode(trend_chart_png(trend_series(), "AHT (seconds), last 12 weeks")).decode()
    )
    emails = {
        "report": (
            "email/report.html",
            report_context(
                chart_cid="trend@opskit",
                warnings=["Rows: 118,402, 31% below the last good run's 171,660 (at most 30% fewer allowed)"],
            ),
        ),
        "failure_alert": ("email/failure_alert.html", failure_context()),
        "no_data": ("email/no_data.html", no_data_context()),
    }
    out_dir = ROOT / "docs" / "img"
    out_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(pw))
        page = browser.new_page(viewport={"width": 720, "height": 600}, device_scale_factor=1)
        for name, (template, context) in emails.items():
            html = renderer.render_email(template, context).html.replace("cid:trend@opskit", chart)
            page.set_content(html, wait_until="load")
            path = out_dir / f"email-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"wrote {path.relative_to(ROOT)}")
        browser.close()


if __name__ == "__main__":
    main()
