"""Forms sent over HTTP (``browser.http: auto``) are byte for byte what Chromium sends for the same click.

Each form is loaded in a real headless Chromium at a made-up address (answered by ``page.route``); the
request its click sends is caught and compared with what ``static.StaticPage`` builds from the same HTML.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from opskit.browser.selectors import translate
from opskit.browser.static import NeedsBrowser, StaticPage, to_css

pytestmark = pytest.mark.browser
ORIGIN = "http://forms.test"
PAGE = f"{ORIGIN}/app/page?old=1"

FORMS = {
    "every kind of field": """
<form action="/submit?ignored=1" method="get">
  <input name="text" value="a b&c">
  <input name="blank">
  <input type="hidden" name="hidden" value="h">
  <input type="checkbox" name="on" checked>
  <input type="checkbox" name="off" value="x">
  <input type="checkbox" name="many" value="1" checked><input type="checkbox" name="many" value="2" checked>
  <input type="radio" name="r" value="a"><input type="radio" name="r" value="b" checked>
  <select name="first"><option disabled>no</option><option>Yes</option><option value="v">label</option></select>
  <select name="chosen"><option value="1">One</option><option value="2" selected>Two</option></select>
  <select name="multi" multiple>
    <option selected>A</option><option>B</option><option selected value="c">C</option>
  </select>
  <textarea name="note">line one
line two</textarea>
  <input name="off-form" value="no" disabled>
  <fieldset disabled>
    <input name="in-disabled" value="no"><legend><input name="in-legend" value="yes"></legend>
  </fieldset>
  <input value="no name">
  <button name="go" value="1" id="submit">Go</button>
  <button name="other" value="2">Other</button>
</form>
<input name="outside" value="o" form="f2">""",
    "a post with its own button value and a field outside the form": """
<form id="f" action="submit" method="post">
  <input name="q" value="ünïcødé ✓">
  <input type="checkbox" name="agree" value="yes" checked>
  <button type="submit" name="format" value="csv" id="submit">CSV</button>
  <button type="submit" name="format" value="xlsx">XLSX</button>
</form>
<input name="outside" value="o" form="f">""",
    "formaction and formmethod on the button": """
<form action="/never" method="post">
  <input name="a" value="1">
  <input type="submit" id="submit" formaction="/other#frag" formmethod="get" name="s" value="Send">
</form>""",
    "an image button and a base href": """
<head><base href="/base/dir/"></head>
<form action="target" method="post">
  <input name="x1" value="y"><input type="image" id="submit" name="img" src="i.png">
</form>""",
}


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(pw, shell=True))
        yield browser.new_page()
        browser.close()


def sent_by_chromium(page, html: str, charset: str = "utf-8") -> tuple[str, str, list[tuple[str, str]] | None]:
    """(method, URL, form entries) of the request Chromium sends when #submit is clicked."""
    caught = []

    def answer(route):
        request = route.request
        if request.url == PAGE:
            body = f"<html><body>{html}</body></html>".encode(charset)
            route.fulfill(status=200, content_type=f"text/html; charset={charset}", body=body)
            return
        caught.append((request.method, request.url, request.post_data))
        route.fulfill(status=200, content_type="text/html", body="<p>done</p>")

    page.route(f"{ORIGIN}/**", answer)
    try:
        page.goto(PAGE)
        with page.expect_request(lambda r: r.url != PAGE and "i.png" not in r.url):
            page.click("#submit")
        page.wait_for_load_state()
    finally:
        page.unroute(f"{ORIGIN}/**")
    method, url, body = next(c for c in caught if "i.png" not in c[1])
    return method, url, parse_qsl(body, keep_blank_values=True, encoding=charset) if method == "POST" else None


@pytest.mark.parametrize("case", sorted(FORMS))
def test_a_form_is_sent_as_chromium_sends_it(page, case):
    html = FORMS[case]
    static = StaticPage(PAGE, f"<html><body>{html}</body></html>")
    method, url, data = static.request_for_click(static.select("#submit")[0])
    want_method, want_url, want_data = sent_by_chromium(page, html)
    if data and want_data and "image" in case:  # an image button sends where it was clicked: not the same
        data = [(k, "?" if k.startswith("img.") else v) for k, v in data]
        want_data = [(k, "?" if k.startswith("img.") else v) for k, v in want_data]
    assert (method, data) == (want_method, want_data)
    if method == "GET":  # the query: same pairs in the same order (Chromium encodes spaces as +, as we do)
        assert urlsplit(url)._replace(query="") == urlsplit(want_url)._replace(query="")
        assert parse_qsl(urlsplit(url).query, keep_blank_values=True) == parse_qsl(
            urlsplit(want_url).query, keep_blank_values=True
        )
    else:
        assert url == want_url


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_page_in_another_character_set_sends_its_forms_in_it(page, method):
    html = f"""<form method="{method}" action="/s"><input name="q" value="café £5 ½">
    <button id="submit" name="b" value="é">Go</button></form>"""
    static = StaticPage(PAGE, f"<html><body>{html}</body></html>", charset="cp1252")
    got_method, url, data = static.request_for_click(static.select("#submit")[0])
    want_method, want_url, want_data = sent_by_chromium(page, html, "windows-1252")
    assert (got_method, data) == (want_method, want_data)
    assert url == want_url  # the query's bytes too: caf%E9+%A35+%BD
    if method == "get":
        assert "caf%E9" in url
    with pytest.raises(NeedsBrowser, match="character set"):  # a browser would send &#...; entities: not us
        static.fill(static.select("[name=q]")[0], "日本")
        static.request_for_click(static.select("#submit")[0])


def test_typed_values_and_choices_are_what_is_sent(page):
    html = FORMS["every kind of field"]
    static = StaticPage(PAGE, f"<html><body>{html}</body></html>")
    static.fill(static.select("[name=text]")[0], "typed")
    StaticPage.choose(static.select("[name=chosen]")[0], "One")  # by label
    static.check(static.select("[name=off]")[0], True)
    static.check(static.select("input[name=r][value=a]")[0], True)
    static.fill(static.select("textarea")[0], "new note")
    _, url, _ = static.request_for_click(static.select("#submit")[0])
    sent = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    assert sent["text"] == "typed" and sent["chosen"] == "1" and sent["off"] == "x" and sent["r"] == "a"
    assert sent["note"] == "new note"
    assert StaticPage.value(static.select("[name=chosen]")[0]) == "1"


def test_what_needs_the_browser_says_why():
    def page(body: str) -> StaticPage:
        return StaticPage(PAGE, f"<html><body>{body}</body></html>")

    assert page("<script>go()</script>").needs_scripts() == "the page has scripts"
    assert page('<script type="application/ld+json">{}</script>').needs_scripts() is None
    assert page('<button onclick="go()">x</button>').needs_scripts() == "the page has an inline onclick handler"
    assert page('<a href="javascript:void(0)">x</a>').needs_scripts() == "the page has javascript: links"
    with pytest.raises(NeedsBrowser, match="needs the page's scripts"):
        p = page('<div id="d">click me</div>')
        p.request_for_click(p.select("#d")[0])
    with pytest.raises(NeedsBrowser, match="uploads files"):
        p = page('<form method=post><input type=file name=f><button id="b">Up</button></form>')
        p.request_for_click(p.select("#b")[0])
    with pytest.raises(NeedsBrowser, match="browser's selector engines"):
        page("<p>x</p>").select(translate('role=button[name="Save"]'))
    with pytest.raises(NeedsBrowser, match="browser's selector engines"):
        page("<p>x</p>").select("p:has-text('x')")
    with pytest.raises(NeedsBrowser, match="not CSS"):
        page("<p>x</p>").select("p[")
    assert page('<meta http-equiv="refresh" content="1">').meta_refresh() == (1.0, None)
    assert page("<meta http-equiv=refresh content='0; url=/next'>").meta_refresh() == (0.0, f"{ORIGIN}/next")


def test_our_selector_forms_are_read_from_the_html():
    html = """<label for="e">Email address</label><input id="e" name="email">
    <label>Note <textarea name="note"></textarea></label><input aria-label="Search" name="q">
    <input placeholder="Find a case" name="find"><button data-testid="save">Save</button>"""
    p = StaticPage(PAGE, f"<html><body>{html}</body></html>")

    def names(selector: str) -> list[str]:
        return [t.attributes.get("name") or t.tag for t in p.select(translate(selector))]

    assert names("label=email") == ["email"] and names('label="Email address"') == ["email"]
    assert names('label="Email"') == []  # exact: the whole text
    assert names("label=Note") == ["note"] and names("label=search") == ["q"]
    assert names("placeholder=find a") == ["find"] and names("testid=save") == ["button"]
    assert to_css(translate("testid=save")) == '[data-testid="save"]'
    assert to_css("xpath=//p") is None and to_css("#a >> text=b") is None
