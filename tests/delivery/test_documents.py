from __future__ import annotations

import struct
from datetime import date

import pytest

from opskit.delivery.charts import trend_chart_png
from opskit.delivery.render import Renderer, html_to_pdf

from .samples import failure_context, no_data_context, report_context, trend_series


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_trend_chart_is_a_small_retina_png():
    data = trend_chart_png(trend_series(), "AHT, last 12 weeks")
    assert png_size(data) == (1200, 440)  # 600 x 220 CSS pixels at 2x
    assert 5_000 < len(data) < 150_000


def test_trend_chart_handles_gaps_and_percentages():
    series = {"SLA": [(date(2026, 11, d), v) for d, v in [(1, 0.91), (2, None), (3, 0.95)]]}
    data = trend_chart_png(series, "SLA", percent=True, width_px=300, height_px=150, scale=1)
    assert png_size(data) == (300, 150)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options

    with sync_playwright() as pw:
        b = pw.chromium.launch(**launch_options(pw))
        yield b
        b.close()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("template", "context"),
    [
        (
            "email/report.html",
            report_context(
                chart_cid="trend@opskit",
                warnings=["rows 41% below"],
                summary='<img src="https://tracker.example/p.gif"> hi',
            ),
        ),
        ("email/failure_alert.html", failure_context()),
        ("email/no_data.html", no_data_context()),
    ],
)
def test_email_html_loads_no_external_resource(browser, template, context):
    html = Renderer(timezone="Europe/Berlin").render_email(template, context).html
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.route("**/*", lambda route: (requested.append(route.request.url), route.abort()))
    try:
        page.set_content(html, wait_until="load")
        assert page.locator("h1").inner_text() == context["title"]
        width = page.evaluate("document.querySelector('table.container').getBoundingClientRect().width")
        assert width <= 642
    finally:
        page.close()
    assert all(u.split(":", 1)[0] in ("data", "cid", "about") for u in requested), requested


@pytest.mark.browser
def test_html_to_pdf_can_reuse_a_running_browser(browser, tmp_path):
    out = html_to_pdf("<h1>Hello</h1>", tmp_path / "hello.pdf", browser=browser)
    assert out.read_bytes().startswith(b"%PDF-")


@pytest.mark.browser
def test_the_request_listener_does_see_external_loads(browser):
    # the control for the test above: an external image is seen (and blocked)
    page = browser.new_page()
    requested: list[str] = []
    page.route("**/*", lambda route: (requested.append(route.request.url), route.abort()))
    try:
        page.set_content('<img src="http://127.0.0.1:9/pixel.png">', wait_until="load")
    finally:
        page.close()
    assert requested == ["http://127.0.0.1:9/pixel.png"]
