"""End to end in a real Chromium: sign in, run a job now with a date range, watch its log live to the end,
download the workbook and open it, read the email as sent, pause and resume, backfill's dry run, and the
refusals (a viewer's 403, another group's 404, a forged CSRF token, an expired session)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from tests.web.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.process]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(**launch_options(pw))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, web):
    context = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def sign_in(page, user: str) -> None:
    page.goto("/jobs")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/jobs$"))


def test_run_now_with_a_period_watch_the_log_download_the_workbook_and_read_the_email(page, scheduler, tmp_path):
    sign_in(page, "rui")
    page.click("a.job-name:text-is('daily-report')")
    page.click("text=Run now…")
    page.select_option("select[name='p.period']", "__range__")
    page.fill("input[name='p.period.from']", "2026-11-02")
    page.fill("input[name='p.period.to']", "2026-11-05")
    page.fill("input[name='p.lines']", "40")
    page.fill("input[name='p.label']", "<b>north</b>")
    page.click("#preview-button")
    preview = page.locator("#dry-run")
    preview.wait_for()
    assert "2026-11-02 to 2026-11-05 (4 days)" in preview.inner_text()
    page.click("#run-button")
    page.wait_for_url(re.compile(r"/runs/"), timeout=60_000)  # the request page hands over once the scheduler took it
    page.wait_for_selector("#log[data-ended]", state="attached", timeout=60_000)
    page.wait_for_function("document.querySelector('#run-status').innerText.includes('succeeded')", timeout=30_000)
    log = page.inner_text("#log")
    assert "progress 40 of 40 for <b>north</b>" in log and re.search(r"run \S+ succeeded", log)
    assert "by rui" in page.inner_text("dl.facts")
    with page.expect_download() as info:
        page.click("ul.files a:has-text('report_2026-11-02..2026-11-05.xlsx')")
    target = tmp_path / "report.xlsx"
    info.value.save_as(target)
    rows = list(openpyxl.load_workbook(target).active.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert rows[0][1] == "<b>north</b>"
    email = page.frame_locator("iframe.email-frame").first.locator("body")
    assert "4 days for <b>north</b>" in email.inner_text()  # the headline, as text: never markup
    assert "Attached:" in page.inner_text("section.email")


def test_pause_and_resume_from_the_job_page(page):
    sign_in(page, "rui")
    page.goto("/jobs/daily-report")
    page.click("#pause-button")
    page.wait_for_selector("#paused-banner")
    page.goto("/jobs?status=paused")
    assert page.locator("tr[data-job='daily-report'] .light").inner_text().strip().endswith("paused")
    page.goto("/jobs/daily-report")
    page.click("#pause-button")
    page.wait_for_selector("text=daily-report resumed.")
    assert page.locator("#paused-banner").count() == 0


def test_backfill_dry_run_lists_the_slots(page):
    sign_in(page, "rui")
    page.goto("/jobs/daily-report/backfill")
    page.fill("input[name=from]", "2026-11-02")
    page.fill("input[name=to]", "2026-11-04")
    page.click("#backfill-preview")
    slots = page.locator("#backfill-slots li")
    assert slots.count() == 3 and slots.first.inner_text().startswith("Mon 02 Nov 2026 08:30 CET")
    assert page.locator("#backfill-run").is_visible()


def test_a_viewer_is_refused_the_run_form_and_another_groups_job_is_not_found(page):
    sign_in(page, "vic")
    response = page.goto("/jobs/daily-report/run")
    assert response.status == 403 and "This needs the runner role" in page.inner_text("#error-message")
    assert page.locator("text=Run now…").count() == 0 if page.goto("/jobs/daily-report") else False
    response = page.goto("/jobs/other-team")
    assert response.status == 404
    page.goto("/jobs")
    assert page.locator("tr[data-job='other-team']").count() == 0


def test_a_forged_csrf_token_is_refused(page):
    sign_in(page, "rui")
    page.goto("/jobs/daily-report")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    with page.expect_navigation():
        page.click("#pause-button")
    assert "CSRF token missing or invalid" in page.inner_text("#error-message")
    page.goto("/jobs/daily-report")
    assert page.locator("#paused-banner").count() == 0


def test_an_expired_session_sends_the_browser_back_to_sign_in(page, project):
    sign_in(page, "vic")
    with project.store() as store:
        rows = store._db.execute("SELECT id_hash FROM web_sessions WHERE user='vic'").fetchall()
        for (id_hash,) in rows:
            store.touch_session(id_hash, now=datetime.now(UTC) - timedelta(hours=3))
    page.goto("/jobs")
    assert "/login" in page.url and "Your session ended; please sign in again." in page.inner_text("main")
