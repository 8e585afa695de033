"""export_cases and the browser layer against the real Moderation Console, fault by fault."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from demo.fixtures import write_cases_csv
from opskit.browser.session import BrowserError, ExportTimeout, LoginFailed, ServerError
from opskit.errors import DataError, SourceUnavailable, UsageError
from tasks.export_cases import export_cases
from tests.browser.conftest import PASSWORD, PASSWORD_ENV, WEEK, browser_processes
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.browser


def expected_csv(console, tmp_path, **filters) -> bytes:
    out = tmp_path / "expected.csv"
    write_cases_csv(console.db_path, out, start=WEEK.start, end=WEEK.end, **filters)
    return out.read_bytes()


def all_bytes(folder: Path) -> bytes:
    """Every file under ``folder``, zip members included (traces), as one blob to search."""
    blob = b""
    for path in folder.rglob("*"):
        if path.is_file():
            blob += path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as z:
                    blob += b"".join(z.read(n) for n in z.namelist())
    return blob


def test_export_matches_the_console_and_reuses_the_saved_login(make_console, make_ctx, tmp_path):
    console = make_console()
    ctx = make_ctx(console)
    result = export_cases(ctx, period=WEEK, publish=True)
    [path] = result.files
    assert path.name == "cases_2026-11-09_2026-11-15_20261116T0000.csv"  # the server's file name
    assert path.read_bytes() == expected_csv(console, tmp_path)
    assert (ctx.data_dir / "cases" / "2026-W46.csv").read_bytes() == path.read_bytes()
    assert result.rows == result.summary["rows"] > 500
    assert result.summary["columns"][:3] == ["case_id", "queue_id", "created_at"]
    assert result.summary["newest"].startswith("2026-11-15")
    assert not (ctx.folder / "failure").exists() and not list(ctx.folder.glob(".*"))
    # the sign-in is saved privately, without the password
    saved = tmp_path / "var" / "browser" / "console.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert PASSWORD not in saved.read_text() and "console_session" in saved.read_text()
    assert console.requests.counts[("POST", "/login")] == 1
    # a second run uses the saved sign-in: no sign-in form is loaded or posted
    login_pages = console.requests.counts[("GET", "/login")]
    export_cases(make_ctx(console), period=WEEK)
    assert console.requests.counts[("POST", "/login")] == 1
    assert console.requests.counts[("GET", "/login")] == login_pages
    assert browser_processes() == []


def test_several_queues_are_exported_separately_and_merged_with_an_xlsx(console, make_ctx, tmp_path):
    queues = ("search-de-hate", "search-id-spam")
    result = export_cases(make_ctx(console), period=WEEK, queues=queues, format="both")
    csv_path, xlsx_path = result.files
    assert csv_path.name == "cases_2026-W46.csv" and xlsx_path.suffix == ".xlsx"
    parts = [expected_csv(console, tmp_path, queue=q) for q in queues]
    assert csv_path.read_bytes() == parts[0] + parts[1].split(b"\r\n", 1)[1]
    from openpyxl import load_workbook

    ws = load_workbook(xlsx_path, read_only=True)["cases"]
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) - 1 == result.rows and isinstance(rows[1][0], int)
    # for people: headers in words, times as date-times in the job's timezone (UTC in this context)
    header = list(rows[0])
    assert header[:3] == ["Case ID", "Queue ID", "Created (UTC)"] and "Handle time (s)" in header
    first_csv = csv_path.read_text(encoding="utf-8").splitlines()[1].split(",")
    assert rows[1][2] == datetime.fromisoformat(first_csv[2].replace("Z", "+00:00")).replace(tzinfo=None)
    with zipfile.ZipFile(xlsx_path) as z:  # user text never becomes a formula
        assert b"<f>" not in z.read("xl/worksheets/sheet1.xml")


def test_unknown_queue_fails_at_once_with_close_matches(console, make_ctx):
    with pytest.raises(
        BrowserError,
        match=r"'search-de-hat' is not an option of '#filter-queue' "
        r"at http://127\.0\.0\.1:\d+/cases.*Did you mean 'search-de-hate'",
    ):
        export_cases(make_ctx(console), period=WEEK, queues=("search-de-hat",))


def test_wrong_password_quotes_the_page_and_leaves_no_password_anywhere(console, make_ctx, monkeypatch, caplog):
    old = make_ctx(console).folder.parent / "old-run" / "failure"
    old.mkdir(parents=True)
    os.utime(old, (0, 0))  # a failure folder from long ago: pruned when the next session starts
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password-123")
    ctx = make_ctx(console)
    with pytest.raises(LoginFailed) as caught:
        export_cases(ctx, period=WEEK)
    message = str(caught.value)
    assert re.fullmatch(
        r"sign-in to http://127\.0\.0\.1:\d+/login was refused: 'Invalid username or password'\. "
        rf"Check {PASSWORD_ENV} and TEST_CONSOLE_USER\. Screenshot and page in \S+/failure",
        message,
    )
    failure = ctx.folder / "failure"
    assert (failure / "screenshot.png").read_bytes()[:4] == b"\x89PNG"
    assert "Invalid username or password" in (failure / "page.html").read_text()
    assert stat.S_IMODE(failure.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in failure.iterdir())
    blob = all_bytes(ctx.folder) + caplog.text.encode() + message.encode()
    assert b"wrong-password-123" not in blob
    assert not old.exists()
    assert browser_processes() == []


def test_alternative_layout_names_the_missing_selector_the_task_line_and_the_closest(make_console, make_ctx):
    console = make_console(alt_layout=True)
    ctx = make_ctx(console, browser={"action_timeout": "2s", "trace": True})
    with pytest.raises(BrowserError) as caught:
        export_cases(ctx, period=WEEK)
    # the renamed sign-in form is found without selectors (a visible password field); the filter is not
    assert re.fullmatch(
        r"step 'fill date_from' \(tasks/export_cases\.py:\d+\): no element matches '#filter-date-from' at "
        r"http://127\.0\.0\.1:\d+/cases\. Closest on the page: testid=flt-from \(input \"From\"\); .*"
        r"Screenshot, page and trace in \S+/failure",
        str(caught.value),
    )
    step = json.loads((ctx.folder / "failure" / "step.json").read_text())
    assert step["selector"] == "#filter-date-from" and step["closest"][0] == 'testid=flt-from (input "From")'
    assert re.fullmatch(r"tasks/export_cases\.py:\d+", step["task_line"])
    # the sign-in is never traced (it would hold the password): the trace stops before it, restarts after
    assert sorted(p.name for p in (ctx.folder / "failure").glob("trace*.zip")) == ["trace-1.zip", "trace.zip"]


def test_session_expiring_mid_task_signs_in_again_and_finishes(make_console, make_ctx, tmp_path):
    clock = FakeClock()
    console = make_console(clock=clock, session_seconds=600)
    # the session ends right after the search, so the export's form post meets the sign-in page
    console.requests.hook = lambda method, path, query: (
        clock.advance(601) if path == "/cases" and "date_from" in query and not clock.moved else None
    )
    result = export_cases(make_ctx(console), period=WEEK)
    assert clock.moved == 1
    assert console.requests.counts[("POST", "/login")] == 2
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)


def test_expired_saved_login_is_replaced_transparently(make_console, make_ctx, tmp_path):
    clock = FakeClock()
    console = make_console(clock=clock, session_seconds=600)
    export_cases(make_ctx(console), period=WEEK)
    clock.advance(3600)  # the saved sign-in is now stale
    result = export_cases(make_ctx(console), period=WEEK)
    assert console.requests.counts[("POST", "/login")] == 2
    assert result.rows > 500


def test_random_server_errors_are_retried(make_console, make_ctx, tmp_path):
    console = make_console(error_rate=0.25, error_seed=3)
    result = export_cases(make_ctx(console), period=WEEK)
    assert len(console.requests.errors(500)) >= 1  # errors happened, and were retried past
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)


def test_constant_server_errors_fail_cleanly_after_the_retries(make_console, make_ctx):
    console = make_console(error_rate=1.0)
    ctx = make_ctx(console, browser={"retries": 1})
    with pytest.raises(ServerError) as caught:
        export_cases(ctx, period=WEEK)
    assert caught.value.retryable
    assert re.match(
        r"HTTP 500 from http://127\.0\.0\.1:\d+/cases at step 'open /cases' \(tasks/export_cases\.py:\d+\)\. "
        r"Screenshot and page in ",
        str(caught.value),
    )
    assert console.requests.errors(500) == ["/cases", "/cases"]  # one attempt and one retry
    assert not list(ctx.folder.glob("*.csv")) and not list(ctx.folder.glob(".*part"))


def test_background_export_waits_for_the_status_page(make_console, make_ctx, tmp_path):
    console = make_console(export_sync_limit=100)
    result = export_cases(make_ctx(console), period=WEEK)
    assert console.requests.counts[("GET", "/exports/")] == 0  # (paths carry the job id)
    assert any(path.startswith("/exports/") and path.endswith("/download") for _, path in console.requests.counts)
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)


def test_a_status_page_is_polled_finely_without_rendering_it_and_its_link_fetched_at_once(
    make_console, make_ctx, tmp_path, caplog
):
    """The console's status page reloads itself once a second; the session fetches it from within the page
    instead, more often than that, renders nothing while it waits, and fetches the link from the answer."""
    console = make_console(export_sync_limit=100)
    run, finished = console.exports._run, []

    def polls() -> int:
        return sum(
            n for (m, p), n in console.requests.counts.items() if m == "GET" and re.fullmatch(r"/exports/\w+", p)
        )

    def slow(job, flt, fmt):  # an export that takes three seconds (the console has no switch for this)
        started = time.monotonic()
        wait_for(lambda: time.monotonic() - started >= 3, what="three seconds")
        held = polls()
        run(job, flt, fmt)
        finished.append((time.monotonic(), held))

    console.exports._run = slow
    navigations: list[tuple[float, str]] = []
    with caplog.at_level(logging.INFO, logger="opskit.browser"), make_ctx(console).browser("console") as s:
        s.goto(f"/cases?date_from={WEEK.start}&date_to={WEEK.end}")
        main = s.page.main_frame
        s.page.on("framenavigated", lambda f: navigations.append((time.monotonic(), f.url)) if f == main else None)
        path = s.download("export_csv")
        s.wait_for("download_link")  # the page shows the result (reloaded while the file was fetched)
    assert path.read_bytes() == expected_csv(console, tmp_path)
    done, held = finished[0]
    shown = [t for t, url in navigations if "/exports/" in url]
    assert shown[0] < done and len([t for t in shown[1:] if t < done]) <= 1  # its own refresh: 2 or 3 renders
    assert held > 3 * 4  # more often than four times a second
    assert any(r.getMessage().startswith("wait for export in ") for r in caplog.records)


def test_export_that_never_finishes_times_out_without_a_file(make_console, make_ctx):
    console = make_console(export_sync_limit=100)
    release = threading.Event()

    def stall(job, flt, fmt):  # the console has no switch for this (see the report)
        release.wait(30)
        job.status, job.error = "failed", "stopped by the test"
        job.done.set()

    console.exports._run = stall
    ctx = make_ctx(console, browser={"download_timeout": "2s", "trace": True})
    try:
        with pytest.raises(ExportTimeout) as caught:
            export_cases(ctx, period=WEEK)
    finally:
        release.set()
    assert re.match(
        r"step 'wait for export' \(tasks/export_cases\.py:\d+\): the export was not ready after 2s at "
        r"http://127\.0\.0\.1:\d+/exports/\w+\. Screenshot, page and trace in",
        str(caught.value),
    )
    assert caught.value.retryable
    files = {p.name for p in ctx.folder.rglob("*") if p.is_file()}
    assert not [n for n in files if n.endswith((".csv", ".part"))]
    assert {"screenshot.png", "page.html", "trace.zip", "error.txt"} <= files


def test_count_mismatch_is_a_data_error_and_leaves_nothing(make_console, make_ctx):
    console = make_console()
    console.requests.rewrite = (b'data-testid="total-count">', b'data-testid="total-count">1')
    ctx = make_ctx(console)
    with pytest.raises(
        DataError,
        match=r"^the export cases_2026-11-09_2026-11-15_20261116T0000\.csv "
        r"has \d[\d,]* rows but the console showed 1[\d,]+ for 2026-W46",
    ):
        export_cases(ctx, period=WEEK, publish=True)
    assert not list(ctx.folder.glob("*.csv")) and not (ctx.data_dir / "cases").exists()


def test_console_not_running_is_one_line(make_ctx, console):
    port = free_port()
    ctx = make_ctx(console, url=f"http://127.0.0.1:{port}")
    with pytest.raises(SourceUnavailable) as caught:
        export_cases(ctx, period=WEEK)
    assert str(caught.value) == f"cannot reach http://127.0.0.1:{port} (connection refused)"


def test_one_time_code_second_step(make_console, make_ctx, monkeypatch, tmp_path):
    console = make_console(otp="424242")
    monkeypatch.setenv("TEST_OTP", "424242")
    result = export_cases(make_ctx(console, browser={"login": {"otp_env": "TEST_OTP"}}), period=WEEK)
    assert console.requests.counts[("POST", "/login/otp")] == 1
    assert result.files[0].read_bytes() == expected_csv(console, tmp_path)


@pytest.mark.parametrize(
    ("otp_env", "message"),
    [
        (
            None,
            r"http://127\.0\.0\.1:\d+/login/otp asks for a one-time code\. "
            r"Set sources\.console\.browser\.login\.otp_env\. Screenshot",
        ),
        (
            "TEST_OTP",
            r"the one-time code was refused at http://127\.0\.0\.1:\d+/login/otp: "
            r"'Invalid one-time code'\. Check TEST_OTP\. Screenshot",
        ),
    ],
)
def test_one_time_code_problems_are_explained(make_console, make_ctx, monkeypatch, otp_env, message):
    console = make_console(otp="424242")
    monkeypatch.setenv("TEST_OTP", "wrong-otp-code-81")
    ctx = make_ctx(console, browser={"login": {"otp_env": otp_env}})
    with pytest.raises(LoginFailed, match=message):
        export_cases(ctx, period=WEEK)
    assert b"wrong-otp-code-81" not in all_bytes(ctx.folder)


def test_headed_without_a_display_is_a_usage_error(console, make_ctx, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    ctx = make_ctx(console)
    ctx.options["headed"] = True
    with pytest.raises(UsageError, match=r"^--headed needs a display: run under xvfb-run$"):
        export_cases(ctx, period=WEEK)


def test_prune_keeps_recent_failure_folders(tmp_path):
    from opskit.browser.artifacts import prune_failures

    runs = tmp_path / "runs"
    for name, age in (("a", 30), ("b", 1), ("c", 30)):
        folder = runs / name / "failure"
        folder.mkdir(parents=True)
        os.utime(folder, (folder.stat().st_mtime - age * 86400,) * 2)
    removed = prune_failures(runs, timedelta(days=14), current=runs / "c")
    assert removed == [runs / "a" / "failure"]
    assert (runs / "b" / "failure").exists() and (runs / "c" / "failure").exists()


class FakeClock:
    """The console's clock; ``advance`` moves it (and counts the moves)."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now, self.moved = start, 0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.moved += 1


@pytest.mark.browser
def test_date_by_both_with_padding_exports_every_case_a_report_of_the_week_needs(console, make_ctx):
    import csv
    import sqlite3
    from datetime import timedelta

    result = export_cases(make_ctx(console), period=WEEK, date_by="both", pad_days=1)
    with open(result.files[0], newline="", encoding="utf-8") as f:
        ids = [row["case_id"] for row in csv.DictReader(f)]
    lo = (WEEK.start - timedelta(days=1)).isoformat()
    hi = (WEEK.end + timedelta(days=2)).isoformat()  # the day after the padded last day, exclusive
    with sqlite3.connect(console.db_path) as db:
        expected = {
            str(r[0])
            for r in db.execute(
                "SELECT case_id FROM cases WHERE (created_at >= ? AND created_at < ?) "
                "OR (completed_at >= ? AND completed_at < ?)",
                (lo, hi, lo, hi),
            )
        }
        created_before = {
            str(r[0])
            for r in db.execute(
                "SELECT case_id FROM cases WHERE created_at < ? AND completed_at >= ? AND completed_at < ?",
                (lo, lo, hi),
            )
        }
    assert len(ids) == len(set(ids)) == result.rows  # each case once
    assert set(ids) == expected
    assert created_before and created_before <= set(ids)  # completed in the week, created before it
