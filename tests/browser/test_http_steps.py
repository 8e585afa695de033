"""``browser.http: auto``: a session's steps over plain HTTP with the saved sign-in, and the hand-over to the
browser at the first step that needs one, against the real console and the Appeals Desk (a single-page app)."""

from __future__ import annotations

import json
import logging
import re
import stat
from pathlib import Path

import pytest

from demo.fixtures import write_cases_csv
from opskit.browser.session import BrowserError
from tasks.export_cases import export_cases
from tests.browser.conftest import ALT_LAYOUT, WEEK, browser_processes
from tests.browser.test_export_cases import FakeClock

pytestmark = pytest.mark.browser
HTTP = {"http": "auto"}


def expected_csv(console, tmp_path: Path, **filters) -> bytes:
    out = tmp_path / "expected.csv"
    write_cases_csv(console.db_path, out, start=WEEK.start, end=WEEK.end, **filters)
    return out.read_bytes()


def step_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("opskit.browser")]


def sign_in_once(console, make_ctx, **browser) -> None:
    """A first run: no saved sign-in yet, so the browser signs in (and saves it)."""
    before = console.requests.counts[("POST", "/login")]
    with make_ctx(console, browser={**HTTP, **browser}).browser("console") as s:
        s.goto("/cases")
        assert not s.over_http  # nothing saved: the browser from the start
    assert console.requests.counts[("POST", "/login")] == before + 1


def test_a_saved_sign_in_exports_over_http_without_starting_a_browser(make_console, make_ctx, tmp_path, caplog):
    console = make_console()
    sign_in_once(console, make_ctx)
    caplog.set_level(logging.INFO, logger="opskit")
    caplog.clear()
    ctx = make_ctx(console, browser=HTTP)
    with ctx.browser("console") as s:
        s.goto("/cases")
        assert browser_processes() == []  # no Chromium, no Playwright driver
        assert s.over_http
    result = export_cases(make_ctx(console, browser=HTTP), period=WEEK)
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)
    lines = step_lines(caplog)
    steps = [line for line in lines if re.search(r" in \d+\.\d\ds", line)]
    assert [s.split(" in ")[0] for s in steps if "export_cases.py" in s][:3] == [
        "open /cases",
        "fill date_from",
        "fill date_to",
    ]
    assert all(line.endswith(", over HTTP") for line in steps), steps
    assert not any("needs the browser" in line for line in lines)
    assert console.requests.counts[("POST", "/login")] == 1  # the saved sign-in served every request
    saved = tmp_path / "var" / "browser" / "console.json"  # cookies the server renewed are kept, privately
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and "console_session" in saved.read_text()


def test_a_background_export_is_waited_for_and_fetched_over_http(make_console, make_ctx, tmp_path, caplog):
    console = make_console(export_sync_limit=100)
    sign_in_once(console, make_ctx)
    caplog.set_level(logging.INFO, logger="opskit")
    caplog.clear()
    result = export_cases(make_ctx(console, browser=HTTP), period=WEEK)
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)
    lines = step_lines(caplog)
    assert any(re.match(r"wait for export in \d+\.\d\ds .*over HTTP", line) for line in lines), lines
    assert any(line.startswith("download from download_link in ") for line in lines)
    assert console.requests.counts[("POST", "/export")] == 1
    assert not any("needs the browser" in line for line in lines)


def test_another_layout_works_over_http_with_its_selectors(make_console, make_ctx, tmp_path, caplog):
    console = make_console(alt_layout=True)
    sign_in_once(console, make_ctx)
    caplog.set_level(logging.INFO, logger="opskit")
    caplog.clear()
    result = export_cases(make_ctx(console, browser={**HTTP, "selectors": ALT_LAYOUT}), period=WEEK)
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)
    assert not any("needs the browser" in line for line in step_lines(caplog))  # testid= is read as CSS


def test_a_saved_sign_in_that_no_longer_works_is_handed_to_the_browser(make_console, make_ctx, tmp_path, caplog):
    console = make_console()
    sign_in_once(console, make_ctx)
    saved = tmp_path / "var" / "browser" / "console.json"
    state = json.loads(saved.read_text())
    for cookie in state["cookies"]:
        cookie["value"] = "expired-" + cookie["value"]
    saved.write_text(json.dumps(state))
    caplog.set_level(logging.INFO, logger="opskit")
    caplog.clear()
    result = export_cases(make_ctx(console, browser=HTTP), period=WEEK)
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)
    handed = [line for line in step_lines(caplog) if "needs the browser" in line]
    assert len(handed) == 1 and "the sign-in form" in handed[0] and "carrying on in the browser" in handed[0]
    assert console.requests.counts[("POST", "/login")] == 2  # the browser signed in again, and saved it
    assert "expired-" not in saved.read_text()
    caplog.clear()
    export_cases(make_ctx(console, browser=HTTP), period=WEEK)  # and the next run is over HTTP again
    assert console.requests.counts[("POST", "/login")] == 2
    assert not any("needs the browser" in line for line in step_lines(caplog))
    assert browser_processes() == []


def test_a_session_ending_mid_step_runs_the_step_again_in_the_browser(make_console, make_ctx, tmp_path, caplog):
    clock = FakeClock()
    console = make_console(clock=clock, session_seconds=600)
    sign_in_once(console, make_ctx)
    # the session ends right after the search, so the export's form post meets the sign-in page
    console.requests.hook = lambda method, path, query: (
        clock.advance(601) if path == "/cases" and "date_from" in query and not clock.moved else None
    )
    caplog.set_level(logging.INFO, logger="opskit")
    caplog.clear()
    result = export_cases(make_ctx(console, browser=HTTP), period=WEEK)
    assert clock.moved == 1
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)
    handed = [line for line in step_lines(caplog) if "needs the browser" in line]
    assert len(handed) == 1 and "running the step again in the browser" in handed[0], handed
    assert console.requests.counts[("POST", "/login")] == 2


def test_server_errors_over_http_are_retried(make_console, make_ctx, tmp_path):
    console = make_console(error_rate=0.25, error_seed=3)
    sign_in_once(console, make_ctx)
    result = export_cases(make_ctx(console, browser=HTTP), period=WEEK)
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)
    assert console.requests.errors()  # some answers were 500s, and the export is whole all the same


def test_the_console_table_is_read_across_pages_over_http(console, make_ctx):
    sign_in_once(console, make_ctx)
    with make_ctx(console, browser=HTTP).browser("console") as s:
        s.goto("/cases?per_page=20&date_from=2026-11-09&date_to=2026-11-15")
        table = s.table("case_table", next="page_next", max_pages=3)
        assert s.over_http
    with make_ctx(console).browser("console") as s:  # the same, in the browser
        s.goto("/cases?per_page=20&date_from=2026-11-09&date_to=2026-11-15")
        assert s.table("case_table", next="page_next", max_pages=3) == table
    assert len(table.rows) == 60 and len({row[0] for row in table.rows}) == 60


class ScriptOnExportPages:
    """WSGI middleware: the console's export status pages get a script (an app that renders them itself)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith("/exports/") or environ["PATH_INFO"].endswith("/download"):
            return self.app(environ, start_response)
        captured = {}

        def keep(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, [(k, v) for k, v in headers if k != "Content-Length"]

        body = b"".join(self.app(environ, keep)).replace(b"</body>", b"<script>/* app */</script></body>")
        start_response(captured["status"], captured["headers"])
        return [body]


def _export(s) -> Path:
    s.goto("/cases")
    s.fill("date_from", WEEK.start.isoformat())
    s.fill("date_to", WEEK.end.isoformat())
    s.click("search_button")
    return s.download("export_csv")


def test_an_export_whose_status_page_needs_the_browser_fails_without_a_second_export(make_console, make_ctx):
    console = make_console(export_sync_limit=100)
    console.app.wsgi_app = ScriptOnExportPages(console.app.wsgi_app)
    sign_in_once(console, make_ctx)
    ctx = make_ctx(console, browser=HTTP)
    with pytest.raises(BrowserError) as caught, ctx.browser("console") as s:
        _export(s)
    message = str(caught.value)
    assert re.match(
        r"step 'click export_csv' \(tests/browser/test_http_steps\.py:\d+\): the page has scripts, after a form was "
        r"sent over HTTP: the browser cannot take over half-way, and the form is not sent again\. This step needs "
        r"the browser from its start: set sources\.console\.browser\.http: off\. Page in \S+/failure$",
        message,
    ), message
    failure = ctx.folder / "failure"
    step = json.loads((failure / "step.json").read_text())
    assert step["over_http"] is True and step["url"].startswith(console.url + "/exports/")
    assert "<script>/* app */</script>" in (failure / "page.html").read_text()
    assert console.requests.counts[("POST", "/export")] == 1
    # inside run() too: the export was started, so the step is not run again (no second export)
    with pytest.raises(BrowserError, match="the form is not sent again"):
        with make_ctx(console, browser=HTTP).browser("console") as s:
            s.run(lambda: _export(s))
    assert console.requests.counts[("POST", "/export")] == 2
    # with http: off the same export works, in the browser
    path = None
    with make_ctx(console).browser("console") as s:
        path = s.run(lambda: _export(s))
    assert path is not None and path.stat().st_size > 0


def test_a_single_page_app_is_handed_to_the_browser_at_once(desk, desk_ctx, caplog):
    from tests.browser.test_appdesk import expected_rows

    with desk_ctx(desk, browser=HTTP).browser("desk") as s:  # signs in (nothing saved yet): the browser
        s.goto(desk.route("appeals"))
        s.table("table.grid")  # waits for the app: its sign-in form, then its table
    caplog.set_level(logging.INFO, logger="opskit")
    caplog.clear()
    with desk_ctx(desk, browser=HTTP).browser("desk") as s:
        assert s.over_http
        s.goto(desk.route("appeals"))
        assert not s.over_http  # the app's page has scripts
        rows = s.table("table.grid").rows
    assert rows[:3] == expected_rows()[:3]
    handed = [line for line in step_lines(caplog) if "needs the browser" in line]
    assert len(handed) == 1 and "the page has scripts" in handed[0]


def test_the_escape_hatch_and_non_css_selectors_start_the_browser(console, make_ctx):
    sign_in_once(console, make_ctx)
    with make_ctx(console, browser=HTTP).browser("console") as s:
        s.goto("/cases?date_from=2026-11-09&date_to=2026-11-15")
        shown = s.text("total_count")
        assert s.over_http
        assert s.text("text=cases") and not s.over_http  # Playwright's text engine: the browser, on that page
        assert s.page.url.endswith("/cases?date_from=2026-11-09&date_to=2026-11-15&date_by=created") or (
            "date_from=2026-11-09" in s.page.url
        )
        assert s.text("total_count") == shown
    with make_ctx(console, browser=HTTP).browser("console") as s:
        s.goto("/cases")
        s.fill("date_from", "2026-11-09")
        assert s.page.locator("#filter-date-from").input_value() == "2026-11-09"  # typed again in the browser
