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


MORE_FORMS = {
    "submit buttons without a value": '<form action="/s"><input name="a" value="1">'
    '<input type="submit" id="submit" name="act"></form>',
    "options: disabled, in a disabled group, a list box, two checked radios": """
<form action="/s">
  <select name="dis"><option value="1">One</option><option value="2" selected disabled>Two</option></select>
  <select name="grp"><optgroup disabled><option>no</option></optgroup><option>yes</option></select>
  <select name="box" size="3"><option>a</option><option>b</option></select>
  <select name="multi" multiple><option selected disabled>x</option><option selected>y</option></select>
  <input type="radio" name="r" value="first" checked><input type="radio" name="r" value="last" checked>
  <button id="submit">Go</button>
</form>""",
    "values as browsers clean them": """
<form action="/s" novalidate>
  <input name="text" value="two&#10;lines"><input type="number" name="num" value="abc">
  <input type="number" name="ok" value="-1.5e3"><input type="email" name="mail" value="  a@b.example ">
  <input type="date" name="bad" value="2026-13-45"><input type="date" name="day" value="2026-11-09">
  <input type="time" name="t" value="08:30"><input type="search" name="s" value="x&#13;y">
  <input type="hidden" name="_charset_"><input type="weird" name="w" value="w">
  <textarea name="ta">

x</textarea>
  <button id="submit">Go</button>
</form>""",
    "nested disabled fieldsets": """
<form action="/s">
  <fieldset disabled><legend><fieldset disabled><legend><input name="deep" value="1"></legend></fieldset>
  <input name="legend" value="2"></legend></fieldset>
  <fieldset><legend>ok</legend><input name="open" value="3"></fieldset>
  <button id="submit">Go</button>
</form>""",
}
FORMS.update(MORE_FORMS)


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
    with pytest.raises(NeedsBrowser, match="input type=file"):
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


INVALID = {
    "a required field left empty": '<input name="a" required>',
    "a required box not ticked": '<input type="checkbox" name="a" required>',
    "a required radio group with none chosen": '<input type="radio" name="r" value="1" required>',
    "a value against its pattern": '<input name="a" value="abc" pattern="[0-9]+">',
    "a number below its min": '<input type="number" name="n" value="3" min="5">',
    "a date after its max": '<input type="date" name="d" value="2026-12-01" max="2026-11-30">',
    "an email that is not one": '<input type="email" name="e" value="not-an-email">',
    "a url that is not one": '<input type="url" name="u" value="example.com">',
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_a_form_chromium_would_not_send_is_left_to_the_browser(page, case):
    html = f'<form action="/s">{INVALID[case]}<button id="submit">Go</button></form>'
    page.set_content(f"<html><body>{html}</body></html>")
    assert page.evaluate("document.querySelector('form').checkValidity()") is False  # Chromium would not send
    static = StaticPage(PAGE, f"<html><body>{html}</body></html>")
    with pytest.raises(NeedsBrowser, match="the browser would not send the form"):
        static.request_for_click(static.select("#submit")[0])
    novalidate = html.replace("<form ", "<form novalidate ")
    static = StaticPage(PAGE, f"<html><body>{novalidate}</body></html>")
    assert static.request_for_click(static.select("#submit")[0])[0] == "GET"  # novalidate: sent as it is


TEXTS = {
    "line break": "hello<br>world",
    "paragraphs": "<p>a</p><p>b</p>text after",
    "inline elements and spaces": "  x   <span> y </span>\n  <b>z</b>  ",
    "a list": "<ul><li>one</li><li>two <i>2</i></li></ul>",
    "a table": "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td> 2 </td></tr></table>",
    "a closed details": "<details><summary>More</summary>hidden text</details>after",
    "an open details": "<details open><summary>More</summary>shown text</details>",
    "preformatted": "<pre>  a\n    b</pre>c",
    "hidden and scripts": "<span hidden>no</span>yes<script>var x</script><span style='display: none'>no</span>",
    "headings and divs": "<h1>Title</h1><div>one</div><div><div>two</div></div>three",
}


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_text_is_read_as_chromium_reads_it(page, case):
    html = f'<div id="x">{TEXTS[case]}</div>'
    page.set_content(f"<html><body>{html}</body></html>")
    static = StaticPage(PAGE, f"<html><body>{html}</body></html>")
    assert StaticPage.text(static.select("#x")[0]) == page.inner_text("#x").strip()


VALUES = """
<select id="v1"><option selected disabled>Choose</option><option>One</option></select>
<select id="v2" multiple><option>a</option><option selected disabled>x</option><option selected>y</option></select>
<select id="v3"><optgroup disabled><option>no</option></optgroup><option label="Uno">One</option></select>
<input id="v4" type="number" value="12abc"><input id="v5" type="date" value="2026-02-30">
<input id="v6" value="a&#10;b"><textarea id="v7">
x</textarea><input id="v8" type="email" value=" a@b.example ">
"""


def test_field_values_are_read_as_chromium_reads_them(page):
    page.set_content(f"<html><body>{VALUES}</body></html>")
    static = StaticPage(PAGE, f"<html><body>{VALUES}</body></html>")
    for n in range(1, 9):
        want = page.eval_on_selector(f"#v{n}", "e => e.value")
        assert StaticPage.value(static.select(f"#v{n}")[0]) == want, n
    labels = page.eval_on_selector("#v3", "s => Array.from(s.options).flatMap(o => [o.value, o.label])")
    assert StaticPage.options(static.select("#v3")[0]) == labels
