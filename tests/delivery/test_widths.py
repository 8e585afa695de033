"""Every email template on every screen: rendered with realistic data (and with long unbroken names) in a
real headless Chromium at 320, 375 and 768 px and at desktop width, light and forced-dark, nothing
scrolls sideways and no element lies outside the viewport; and the HTML keeps to what Outlook renders."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from opskit.delivery.render import Renderer

from .samples import SUMMARIES, failure_context, no_data_context, report_context

pytestmark = pytest.mark.browser

WIDTHS = (320, 375, 768, 1280)
LONG = "Search_DE_hate_speech_escalations_tier2_" * 3  # a name with no place to break

# What every element's box must satisfy, measured in the page itself: nothing wider than the viewport,
# nothing starting left of it or ending right of it (a 0.5 px allowance for sub-pixel rounding).
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const outside = [];
  for (const el of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.left < -0.5 || box.right > width + 0.5) {
      outside.push(`${el.tagName.toLowerCase()}.${el.className} [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, client: width, outside: outside.slice(0, 5)};
}"""


def _contexts():
    cases = [(f"report-{kind}", "email/report.html", report_context(kind)) for kind in SUMMARIES]
    long_names = {
        "comparison": {"missed_targets": [{"where": LONG, "metric": LONG, "actual": 1.0, "target": 2.0}]},
        "status": {"checks": [{"where": LONG, "metric": "Backlog", "value": 9, "limit": 1, "state": "breach"}]},
        "ingestion": {"files": [{"file": LONG + ".xlsx", "vendor": LONG, "status": "quarantined", "reason": LONG}]},
        "plan": {"shortfalls": [{"where": LONG, "week": "2026-W47", "required": 6.0, "supply": 0.29}]},
        "reconciliation": {"groups": [{"group": LONG, "only_left": 1, "only_right": 2, "differing": 3}]},
    }
    cases += [
        (f"report-{kind}-long", "email/report.html", report_context(kind, changes=change, title=LONG))
        for kind, change in long_names.items()
    ]
    cases += [
        ("failure_alert", "email/failure_alert.html", failure_context()),
        ("failure_alert-long", "email/failure_alert.html", failure_context(cause=LONG, log_lines=[LONG])),
        ("no_data", "email/no_data.html", no_data_context()),
    ]
    return cases


CASES = _contexts()


@pytest.fixture(scope="module")
def rendered():
    renderer = Renderer(timezone="Europe/Berlin")
    return {name: renderer.render_email(template, ctx).html for name, template, ctx in CASES}


@pytest.fixture(scope="module", params=["light", "forced-dark"])
def browser(request):
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options

    # forced-dark: Chromium's own darkening of pages (what mail apps do to a light email), on top of the
    # dark colour scheme the email's own dark rules answer
    args = ["--enable-features=WebContentsForceDark"] if request.param == "forced-dark" else []
    with sync_playwright() as pw:
        instance = pw.chromium.launch(**launch_options(pw), args=args)
        try:
            yield request.param, instance
        finally:
            instance.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_template_scrolls_sideways_or_leaves_the_viewport(browser, rendered, width):
    mode, instance = browser
    context = instance.new_context(
        viewport={"width": width, "height": 900}, color_scheme="dark" if mode == "forced-dark" else "light"
    )
    try:
        page = context.new_page()
        problems = {}
        for name, html in rendered.items():
            page.set_content(html, wait_until="load")
            found = page.evaluate(MEASURE)
            if found["scroll"] > found["client"] or found["outside"]:
                problems[name] = found
        assert problems == {}, f"{mode} at {width}px"
        assert found["client"] == width  # the page really was laid out at this width
    finally:
        context.close()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize(("name", "template", "ctx"), CASES, ids=[c[0] for c in CASES])
def test_the_html_keeps_to_what_outlook_renders(name, template, ctx, rendered):
    html = rendered[name]
    tags = _Tags()
    tags.feed(html)
    # a coloured cell carries bgcolor too: Outlook's Word engine drops CSS backgrounds (the failure
    # alert's own blocks are being rewritten elsewhere: the shared layout around them is checked)
    own_blocks = "failure_alert" not in name
    for tag, attrs in tags.found:
        style = attrs.get("style", "")
        if (
            tag == "td"
            and re.search(r"background-color:\s*#(?!ffffff)", style)
            and (own_blocks or attrs.get("class") != "alert-cell")
        ):
            assert "bgcolor" in attrs, f"{name}: a coloured <td> without bgcolor: {style[:80]}"
        # Word ignores padding on <div>: layout lives on table cells
        if tag == "div" and own_blocks:
            assert "padding" not in style, f"{name}: padding on a <div>: {style[:80]}"
    preheaders = [a for t, a in tags.found if "preheader" in (a.get("class") or "")]
    if "preheader" in ctx:
        assert len(preheaders) == 1 and "mso-hide:all" in preheaders[0]["style"]
    # the mobile rule narrows the padding, so five-column tables fit a phone
    media = re.search(r"@media only screen and \(max-width: 660px\) \{(.*?)\n\}", html, re.S)
    assert media and "padding-left: 12px !important" in media.group(1)
