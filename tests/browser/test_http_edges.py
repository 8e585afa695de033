"""``browser.http: auto`` where it is easy to get wrong: a form post is never sent twice, a page that came from
a post is never reopened with a GET, tables hand over from their first page, cookies stay with their host
and are renewed, character sets are read as browsers read them. Against a small Flask site (a real server on
127.0.0.1) and a real Chromium for every hand-over."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.cookiejar import CookieJar
from urllib.request import Request

import pytest
from flask import Flask, make_response, redirect, request
from werkzeug.serving import make_server

from opskit.browser import saved_signin
from opskit.browser.session import BrowserError

pytestmark = pytest.mark.browser
HTTP = {"http": "auto", "action_timeout": "3s"}
SCRIPT = "<script>document.title = 'app'</script>"
ITEMS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


def site() -> tuple[Flask, Counter, list[str]]:
    app = Flask(__name__)
    counts: Counter = Counter()
    seen_cookies: list[str] = []

    @app.before_request
    def count():
        counts[(request.method, request.path)] += 1
        seen_cookies.append(request.cookies.get("sid", ""))

    def page(body: str, *, script: bool = False) -> str:
        return f"<!doctype html><html><head><title>t</title></head><body>{body}{SCRIPT if script else ''}</body></html>"

    @app.get("/form")
    def form():
        response = make_response(
            page(
                """<form method="post" action="/save"><input name="note" id="note">
                <button id="save">Save</button></form>
                <form method="post" action="/search"><input name="q" id="q"><button id="search">Search</button></form>
                <form method="post" action="/scripted"><button id="scripted">Go</button></form>
                <form method="post" action="/slow"><button id="slow">Slow</button></form>
                <div hidden><input type="password" name="never-shown"></div>"""
            )
        )
        turn = counts[("GET", "/form")]
        response.set_cookie("sid", f"v{turn}")  # a session id the server renews at every page
        return response

    @app.post("/save")
    def save():
        return redirect(f"/saved?note={request.form['note']}", code=303)

    @app.get("/saved")
    def saved():
        return page(f"<p id='done'>Saved {request.args['note']}</p>", script=True)

    @app.post("/search")
    def search():
        found = [i for i in ITEMS if request.form["q"] in i]
        return page("<ul>" + "".join(f"<li>{i}</li>" for i in found) + "</ul>")

    @app.post("/scripted")
    def scripted():
        return page("<p id='done'>posted</p>", script=True)

    @app.get("/list")
    def listing():
        n = int(request.args.get("page", 1))
        rows = "".join(f"<tr><td>{n}-{i}</td><td>{ITEMS[i]}</td></tr>" for i in range(2))
        more = (
            f'<li><a id="next" href="/list?page={n + 1}">Next</a></li>'
            if n < 3
            else '<li class="disabled"><a id="next" href="/list?page=4">Next</a></li>'
        )
        return page(f"<table id='t'><tr><th>Id</th><th>Item</th></tr>{rows}</table><ul>{more}</ul>", script=n == 2)

    @app.post("/slow")
    def slow():  # the gateway gave up; the server may have saved it all the same
        return make_response(page("<h1>Gateway timeout</h1>"), 504)

    @app.get("/odd")
    def odd():
        return page(
            """<a id="mail" href="mailto:lead@example.com">Mail</a>
            <form id="form\u00e9" method="get" action="/echo"><button id="go">Go</button></form>
            <input name="outside" value="1" form="form\u00e9">
            <noscript><p id="ns">enable scripts</p></noscript>
            <select id="pick"><option value="" selected disabled>Choose</option>
            <option label="Uno" value="1">One</option></select>
            <a id="hidden-next" href="/list?page=2" style="display:none">Next</a>
            <p id="marker" hidden>signed in</p>"""
        )

    @app.get("/echo")
    def echo():
        return page(f"<p id='got'>{request.query_string.decode()}</p>")

    @app.get("/same")
    def same():
        return page("<table id='t'><tr><th>A</th></tr><tr><td>1</td></tr></table><a id='next' href='/same'>Next</a>")

    @app.get("/utf16")
    def utf16():
        form = '<form method="post" action="/echo-post"><input name="q" value="caf\u00e9">'
        html = page(form + '<button id="go">Go</button></form>')
        return make_response(html.encode("utf-16"), 200, {"Content-Type": "text/html; charset=utf-16"})

    @app.post("/echo-post")
    def echo_post():
        return page(f"<p id='got'>{request.get_data().decode('latin-1')}</p>")

    @app.get("/meta16")
    def meta16():
        body = '<html><head><meta charset="utf-16"></head><body><p class="p">a</p><p class="p">\u00e9</p></body></html>'
        return make_response(body.encode("utf-8"), 200, {"Content-Type": "text/html"})

    @app.get("/base64")
    def base64():
        return make_response(page("<p id='p'>x</p>"), 200, {"Content-Type": "text/html; charset=base64"})

    @app.get("/broken-link")
    def broken_link():
        return page('<a id="bad" href="http://[oops/x">bad</a>')

    @app.get("/latin")
    def latin():
        body = page("<p id='p'>\u20ac 5 \u2019s</p>").encode("cp1252")  # bytes 0x80, 0x92
        return make_response(body, 200, {"Content-Type": "text/html; charset=iso-8859-1"})

    @app.get("/undeclared")
    def undeclared():
        return make_response(page("<p id='p'>caf\xe9</p>").encode("cp1252"), 200, {"Content-Type": "text/html"})

    @app.get("/report.html")
    def report():
        return make_response("<html><body>a report</body></html>", 200, {"Content-Type": "text/html"})

    return app, counts, seen_cookies


@pytest.fixture
def forms_site():
    app, counts, cookies = site()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", counts, cookies
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def site_ctx(make_ctx, forms_site):
    """A RunContext whose source 'site' needs no sign-in (so a session starts over HTTP at once)."""
    from opskit.config.browser import BrowserSettings
    from opskit.config.model import SourceConfig

    url = forms_site[0]

    def make(**browser):
        ctx = make_ctx(None, url=url, task="edges")
        ctx.sources = {"site": SourceConfig(url=url, browser=BrowserSettings(**{**HTTP, **browser}))}
        return ctx

    return make


def test_a_post_that_lands_on_a_page_with_scripts_is_not_sent_again(site_ctx, forms_site):
    _, counts, _ = forms_site
    with site_ctx().browser("site") as s:
        s.goto("/form")
        assert s.over_http  # the hidden password field is not a sign-in form
        s.fill("#note", "hello")
        s.click("#save")  # 303 to a page with a script: the browser opens that page, the form is not sent again
        assert not s.over_http
        assert s.text("#done") == "Saved hello"
    assert counts[("POST", "/save")] == 1


def test_a_post_answered_in_place_is_shown_to_the_browser_as_it_came(site_ctx, forms_site):
    _, counts, _ = forms_site
    with site_ctx().browser("site") as s:
        s.goto("/form")
        s.click("#scripted")  # 200 with a script: the browser is shown that answer, nothing is posted again
        assert not s.over_http
        assert s.text("#done") == "posted"
    with site_ctx().browser("site") as s:  # the same inside run(): no re-run

        def step() -> None:
            s.goto("/form")
            s.click("#scripted")

        s.run(step)
        assert s.text("#done") == "posted"
    assert counts[("POST", "/scripted")] == 2 and counts[("GET", "/scripted")] == 0


def test_a_page_that_answered_a_post_is_never_asked_for_again(site_ctx, forms_site):
    _, counts, _ = forms_site
    with site_ctx().browser("site") as s:
        s.goto("/form")
        s.fill("#q", "al")
        s.click("#search")
        assert s.count("li") == 1 and s.over_http  # alpha
        assert s.count("role=listitem") == 1  # roles need the browser: it is shown the same answer
        assert not s.over_http
    assert counts[("POST", "/search")] == 1 and counts[("GET", "/search")] == 0


def test_a_server_error_answering_a_post_is_not_posted_again(site_ctx, forms_site):
    _, counts, _ = forms_site
    with site_ctx(retries=2).browser("site") as s:

        def step() -> None:
            s.goto("/form")
            s.click("#slow")

        s.run(step)  # as after a browser's click: the answer is the page, and the step is not run again
        assert s.text("h1") == "Gateway timeout" and s.over_http
    assert counts[("POST", "/slow")] == 1


def test_odd_pages_read_as_the_browser_reads_them(site_ctx, forms_site):
    with site_ctx().browser("site") as s:
        s.goto("/odd")
        assert s.count("#ns") == 0  # <noscript> content is text where scripts run
        assert s.value("#pick") == "" and s.texts("#pick option") == ["Choose", "One"]
        assert s.signed_in()  # no marker configured
        s.click("#go")  # a form named by an id with an accent still owns its outside field
        assert s.text("#got") == "outside=1" and s.over_http
        s.goto("/odd")
        s.click("#mail")  # a mailto: link is the browser's business
        assert not s.over_http
    with site_ctx(login={"signed_in": "#marker"}).browser("site") as s:
        s.goto("/form")
        assert not s.signed_in()  # the marker is not on the page
    with pytest.raises(BrowserError, match="did not change"), site_ctx().browser("site") as s:
        s.goto("/same")
        s.table("#t", next="#next")  # a "next" that shows the same rows again is an error, as in the browser


def test_a_table_handed_over_mid_way_is_read_again_from_its_first_page(site_ctx, forms_site):
    with site_ctx().browser("site") as s:
        s.goto("/list")
        table = s.table("#t", next="#next")  # page 2 has a script: the browser reads from page 1 again
        assert not s.over_http
    assert [row[0] for row in table.rows] == ["1-0", "1-1", "2-0", "2-1", "3-0", "3-1"]
    with site_ctx().browser("site") as s:  # over HTTP all along: a "next" inside .disabled is the end
        s.goto("/list?page=3")
        assert [row[0] for row in s.table("#t", next="#next").rows] == ["3-0", "3-1"] and s.over_http


def test_renewed_cookies_are_saved_and_handed_to_the_browser(site_ctx, forms_site, tmp_path):
    _, _, cookies = forms_site
    state = tmp_path / "var" / "browser" / "site.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    host = forms_site[0].split("//")[1].split(":")[0]
    state.write_text(json.dumps({"cookies": [{"name": "sid", "value": "v0", "domain": host, "path": "/"}]}))
    with site_ctx().browser("site") as s:
        s.goto("/form")  # sends v0, gets v1
        s.goto("/form")  # sends v1, gets v2
        s.text("text=Save")  # the browser takes over, with v2
        assert not s.over_http
    assert cookies[:3] == ["v0", "v1", "v2"]
    saved = {c["name"]: c["value"] for c in json.loads(state.read_text())["cookies"]}
    assert saved["sid"] == "v2"


def test_a_cookie_of_one_host_goes_to_that_host_only(tmp_path):
    import requests

    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {
                "cookies": [
                    {"name": "host", "value": "1", "domain": "tools.example.com", "path": "/"},
                    {"name": "site", "value": "2", "domain": ".example.com", "path": "/"},
                    {"name": "local", "value": "3", "domain": "localhost", "path": "/"},
                    {"name": "gone", "value": "4", "domain": "tools.example.com", "path": "/", "expires": 1.0},
                ]
            }
        )
    )
    http = requests.Session()
    assert saved_signin.load(http, state)

    def sent(url: str) -> str:
        jar: CookieJar = http.cookies
        req = Request(url)
        jar.add_cookie_header(req)
        return req.get_header("Cookie") or ""

    assert sorted(sent("http://tools.example.com/x").split("; ")) == ["host=1", "site=2"]
    assert sent("http://evil.tools.example.com/") == "site=2"  # the host's own cookie stays with it
    assert sent("http://localhost:8080/") == "local=3"
    assert "gone" not in sent("http://tools.example.com/")


def test_character_sets_are_read_as_browsers_read_them(site_ctx):
    with site_ctx().browser("site") as s:
        s.goto("/latin")  # "iso-8859-1" is windows-1252 to a browser
        assert s.text("#p") == "\u20ac 5 \u2019s" and s.over_http
        assert s.dialogs == []
        s.goto("/undeclared")  # not UTF-8 and undeclared: the browser decides
        assert not s.over_http
        assert s.text("#p") == "caf\xe9"


def test_pages_browsers_read_differently_from_python_are_left_to_the_browser(site_ctx):
    with site_ctx().browser("site") as s:
        s.goto("/utf16")  # its form is sent in UTF-8, as browsers send a UTF-16 page's forms
        s.click("#go")
        assert s.text("#got") == "q=caf%C3%A9" and s.over_http
        s.goto("/meta16")  # a <meta> that says UTF-16 on bytes read as ASCII so far: UTF-8
        assert s.texts(".p") == ["a", "\u00e9"] and s.over_http
        s.goto("/base64")  # a Python codec, no character set: the browser's
        assert not s.over_http
    with site_ctx().browser("site") as s:
        s.goto("/broken-link")
        s.click("#bad")  # the browser's business (Chromium does nothing with it), not a ValueError from Python
        assert not s.over_http


def test_a_downloaded_html_file_is_a_file_not_a_sign_in(site_ctx):
    with site_ctx().browser("site") as s:
        path = s.download(url="/report.html")
        assert s.over_http
    assert path.read_text() == "<html><body>a report</body></html>"
