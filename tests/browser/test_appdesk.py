"""The browser layer against Appeals Desk, the second stand-in: a single-page app unlike the console.

Hash and history routes, a sign-in form shown in place (or in a pop-up window), an overlay to dismiss, an
infinitely scrolling table, a form whose submit fails at random, an export delivered as a link, an upload
behind a button, an iframe, a confirm() dialog and a new window. Each helper of ``Session`` is proved here
without a single id in the page.
"""

from __future__ import annotations

import logging
import re

import pytest
import requests

from opskit.browser import BrowserError, LoginFailed, ServerError
from tests.browser.conftest import GOT_IT, browser_processes
from tests.fixtures.appdesk.server import PAGE_SIZE, appeal_rows

pytestmark = pytest.mark.browser

SAVE = 'role=button[name="Save decision"]'
SELECTORS = {
    "appeals": "table.grid",
    "end_of_list": "text=No more appeals",
    "save": SAVE,
    "saved": ".banner-ok",
    "save_failed": ".banner-error",
    "policy": "label=Policy",
    "note": "label=Note",
    "prepare": 'role=button[name="Prepare export"]',
    "export_state": ".export-state",
    "export_link": "a.download",
}


def expected_rows(count: int = 120) -> list[list[str]]:
    keys = ("id", "case", "user", "reason", "status", "submitted")
    return [[row[k] for k in keys] for row in appeal_rows(count)]


@pytest.mark.parametrize("router", ["hash", "history"])
def test_in_place_sign_in_and_an_infinite_list_need_no_selectors(make_desk, desk_ctx, router):
    desk = make_desk(router=router)
    with desk_ctx(desk).browser("desk") as s:
        s.goto(desk.route("appeals"))
        table = s.table("table.grid", scroll=True, end="text=No more appeals")
        assert s.page.url == desk.url + desk.route("appeals")  # signed in where the form showed, stayed there
    assert table.headers == ["Appeal", "Case", "User", "Reason", "Status", "Submitted"]
    assert table.rows == expected_rows()  # every row once, in order, as text (hostile cells included)
    assert desk.counts[("GET", "/api/appeals")] == 120 // PAGE_SIZE + 1
    assert desk.counts[("POST", "/api/login")] == 1
    # the next run reuses the saved sign-in: no form, no post
    with desk_ctx(desk).browser("desk") as s:
        s.goto(desk.route("appeals"))
        first = s.table("table.grid")
    assert first.rows[:3] == expected_rows()[:3]
    assert desk.counts[("POST", "/api/login")] == 1
    assert browser_processes() == []


def test_login_is_idempotent_and_returns_to_the_route(desk, desk_ctx):
    marker = {"login": {"signed_in": 'role=button[name="Log out"]'}}
    with desk_ctx(desk, browser=marker).browser("desk", login=False) as s:  # no automatic sign-in
        s.goto(desk.route("appeals/AP-0007"))
        before = desk.counts[("POST", "/api/login")]
        assert not s.signed_in()
        assert s.login() is True  # the form showed in place: signed in, on the same route
        assert s.page.url.endswith("#/appeals/AP-0007")
        assert s.text("h1") == "Appeal AP-0007"
        assert s.login() is False and s.signed_in()
        assert desk.counts[("POST", "/api/login")] == before + 1


def test_a_session_ending_mid_task_signs_in_again_in_place(make_desk, desk_ctx, caplog):
    desk = make_desk()
    caplog.set_level(logging.INFO, logger="opskit.browser")
    with desk_ctx(desk, browser={"selectors": SELECTORS}).browser("desk") as s:
        s.goto(desk.route("reports"))
        s.click("prepare")
        s.wait_for_any("export_link")
        desk.expire_sessions()  # the app's next call answers 401 and it shows the form where it is
        s.goto(desk.route("appeals"))
        rows = s.table("appeals").rows
    assert rows[:PAGE_SIZE] == expected_rows()[:PAGE_SIZE]
    assert desk.counts[("POST", "/api/login")] == 2
    assert "signing in to desk at " + desk.url + "/#/appeals" in caplog.text


def test_sign_in_in_a_pop_up_window(make_desk, desk_ctx):
    desk = make_desk(login="popup")
    ctx = desk_ctx(desk, browser={"login": {"open": "testid=open-sign-in"}})
    with ctx.browser("desk") as s:
        s.goto(desk.route("appeals"))
        assert s.table("table.grid").rows[0] == expected_rows()[0]
        assert len(s.context.pages) == 1  # the sign-in window closed itself
    assert desk.counts[("POST", "/api/login")] == 1


def test_a_refused_sign_in_quotes_the_message_shown_in_place(desk, desk_ctx):
    ctx = desk_ctx(desk, password="not the password")
    with pytest.raises(LoginFailed) as caught, ctx.browser("desk") as s:
        s.goto(desk.route("appeals"))
        s.table("table.grid")
    assert re.fullmatch(
        r"sign-in to http://127\.0\.0\.1:\d+/#/appeals was refused: 'Wrong email or password'\. "
        r"Check TEST_DESK_PASSWORD and TEST_DESK_USER\. Screenshot and page in \S+/failure",
        str(caught.value),
    )
    assert b"not the password" not in (ctx.folder / "failure" / "page.html").read_bytes()


def test_a_submit_that_fails_at_random_is_run_again_until_it_saves(make_desk, desk_ctx):
    desk = make_desk(fail_rate=0.5, seed=3)
    ctx = desk_ctx(desk, browser={"selectors": SELECTORS, "retries": 6})
    decided = []

    def decide(appeal: str, policy: str) -> str:
        s.goto(desk.route(f"appeals/{appeal}"))
        s.check("label=Uphold")
        s.select("policy", policy)
        s.fill("note", f"checked {appeal}")
        s.click("save")
        return s.wait_for_any("saved", errors=["save_failed"]).text

    with ctx.browser("desk") as s:
        for appeal, policy in (("AP-0001", "Spam"), ("AP-0002", "Hate speech"), ("AP-0003", "Harassment")):
            decided.append(s.run(lambda a=appeal, p=policy: decide(a, p), name=f"decide {appeal}"))
    assert decided == ["Decision saved for AP-0001", "Decision saved for AP-0002", "Decision saved for AP-0003"]
    assert [d["appeal"] for d in desk.decisions] == ["AP-0001", "AP-0002", "AP-0003"]  # each saved once
    assert desk.decisions[1] == {
        "appeal": "AP-0002",
        "decision": "uphold",
        "policy": "Hate speech",
        "note": "checked AP-0002",
    }
    failures = [r for r in desk.requests if r[:2] == ("POST", "/api/decisions") and r[2] == 500]
    assert failures, "the seed gives failures: they were retried past"


def test_a_banner_error_is_a_server_error_when_retries_run_out(make_desk, desk_ctx):
    desk = make_desk(fail_rate=1.0)
    ctx = desk_ctx(desk, browser={"selectors": SELECTORS, "retries": 1})

    def save() -> str:
        s.goto(desk.route("appeals/AP-0001"))
        s.click("save")
        return s.wait_for_any("saved", errors=["save_failed"])

    with pytest.raises(ServerError) as caught, ctx.browser("desk") as s:
        s.run(save)
    assert "shows 'Could not save the decision (Internal error, please try again). Try again.'" in str(caught.value)
    assert caught.value.retryable
    assert sum(1 for r in desk.requests if r[:2] == ("POST", "/api/decisions")) == 2  # one try, one retry


def test_an_export_link_is_fetched_with_the_session_cookies_under_a_safe_name(make_desk, desk_ctx):
    long_name = "appeals/../" + "é" * 150 + "\x07export<1>.csv"
    desk = make_desk(export_name=long_name)
    ctx = desk_ctx(desk, browser={"selectors": SELECTORS})
    with ctx.browser("desk") as s:
        s.goto(desk.route("reports"))
        s.select("label=Status", "upheld")
        path = s.download("prepare", status="export_state", link="export_link")
        again = s.download(url=s.attribute("export_link", "href"))
    data = next(iter(desk.files.values()))
    assert path.read_bytes() == again.read_bytes() == data
    assert path.parent == ctx.folder and path.suffix == ".csv" and again.name == path.stem + "-2.csv"
    assert len(path.name.encode()) <= 200 and path.name.startswith("éé") and "/" not in path.name
    assert "\x07" not in path.name and "<" not in path.name
    assert data.count(b"\r\n") - 1 == sum(1 for r in appeal_rows(120) if r["status"] == "upheld")
    url = desk.url + "/files/" + next(iter(desk.files)) + "/export"
    assert requests.get(url, timeout=5).status_code == 401  # the file needs the session's cookies


def test_upload_frame_dialog_and_new_window(desk, desk_ctx, tmp_path):
    evidence = tmp_path / "evidence.txt"
    evidence.write_text("screenshot of the original post\n")
    with desk_ctx(desk).browser("desk") as s:
        s.goto(desk.route("evidence"))
        s.upload('role=button[name="Attach file"]', evidence)  # a hidden file field behind a button
        assert s.wait_for_any("text=Uploaded").text == f"Uploaded evidence.txt ({evidence.stat().st_size} bytes)"

        s.goto(desk.route("notes"))
        notes = s.frame('iframe[title="Notes widget"]')
        notes.fill("label=Note", "call back tomorrow")
        notes.click('role=button[name="Save note"]')
        assert notes.wait_for_any("text=Note saved") == "text=Note saved"

        s.goto(desk.route("appeals/AP-0004"))
        s.click('role=button[name="Withdraw decision"]')  # confirm() is dismissed by default
        assert s.wait_for_any("text=Decision kept") == "text=Decision kept"
        s.on_dialog("accept", match="Withdraw the decision")
        s.click('role=button[name="Withdraw decision"]')
        assert s.wait_for_any("text=Decision withdrawn")
        assert s.dialogs == ["Withdraw the decision on AP-0004?"] * 2

        receipt = s.click("text=Open receipt", popup=True)
        assert receipt is not None and receipt.text(".receipt-id") == "Receipt for AP-0004"
        receipt.close()
        assert len(s.context.pages) == 1
    assert ("evidence.txt", evidence.stat().st_size) in desk.uploads
    assert "call back tomorrow" in desk.notes


def test_screenshots_pdfs_and_one_log_line_per_step(desk, desk_ctx, caplog):
    caplog.set_level(logging.INFO, logger="opskit.browser")
    ctx = desk_ctx(desk)
    with ctx.browser("desk") as s:
        s.goto(desk.route("appeals"))
        with s.step("read the first page"):
            s.table("table.grid")
        shot = s.screenshot("appeals.png")
        part = s.screenshot("table.png", of="table.grid")
        pdf = s.pdf("appeals.pdf")
    assert shot.read_bytes()[:4] == part.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    assert {p.name for p in ctx.folder.iterdir()} >= {"appeals.png", "table.png", "appeals.pdf"}
    lines = caplog.text.splitlines()
    assert any(
        re.search(
            r"read the first page > read table table\.grid in \d+\.\d\ds \(tests/browser/test_appdesk\.py:\d+\)", line
        )
        for line in lines
    )
    assert any(re.search(r"step 'read the first page' done in \d+\.\d\ds", line) for line in lines)
    assert any(
        re.search(r"open /#/appeals in \d+\.\d\ds \(tests/browser/test_appdesk\.py:\d+\)", line) for line in lines
    )


def test_wait_for_any_a_url_and_a_timeout_that_names_the_closest_elements(desk, desk_ctx):
    ctx = desk_ctx(desk, browser={"action_timeout": "1s"})
    with pytest.raises(BrowserError) as caught, ctx.browser("desk") as s:
        s.goto(desk.route("appeals/AP-0002"))
        s.click("text=Reports")
        assert s.wait_for_any(url="**/reports") == "url"
        s.click('role=link[name="Appeals"]')
        changed = s.wait_for_any("text=Never shown", url_changed=True)
        assert changed == "url" and changed.url.endswith("#/appeals")
        s.goto(desk.route("appeals/AP-0002"))
        s.click("role=button[name='Save decisions']")  # a typo: the page has "Save decision"
    message = str(caught.value)
    assert re.match(
        r"step 'click role=button\[name='Save decisions'\]' \(tests/browser/test_appdesk\.py:\d+\): no element "
        r"matches .* Closest on the page: role=button\[name=\"Save decision\"\] \(button \"Save decision\"\)",
        message,
    )


def test_an_overlay_blocks_clicks_until_a_dismiss_rule_closes_it(make_desk, desk_ctx):
    desk = make_desk()
    ctx = desk_ctx(desk, browser={"dismiss": [], "action_timeout": "2s"})
    with ctx.browser("desk") as s:
        s.goto(desk.route("appeals"))
        s.wait_for_any('role=dialog[name="What\'s new"]')
        with pytest.raises(
            BrowserError,
            match=r"step 'click text=Reports' \(tests/browser/test_appdesk\.py:\d+\): "
            r"'text=Reports' was found but not ready in time",
        ):
            s.click("text=Reports")  # the overlay takes the click; the error is opskit's, inside the block
        s.dismiss(GOT_IT)  # a rule from the task: the overlay is closed before the next action
        s.click("text=Reports")
        assert s.text("h1") == "Reports" and not s.exists("role=dialog")


def test_the_console_table_is_read_across_pages(console, make_ctx):
    from demo.db import connect

    with make_ctx(console).browser("console") as s:
        s.goto("/cases?per_page=20&date_from=2026-11-09&date_to=2026-11-15")
        table = s.table("case_table", next="page_next", max_pages=3)
    assert len(table.rows) == 60
    ids = [row[0] for row in table.rows]
    assert len(set(ids)) == 60 and table.headers[0].lower().startswith("case")
    with connect(console.db_path) as conn:
        found = {str(r[0]) for r in conn.execute("SELECT case_id FROM cases")}
    assert set(ids) <= found
