"""The scheduler's warm browser: runs connect to it, each in a private context; it is replaced when it
crashes or outgrows its memory cap; runs start their own browser while it is not there; and the real
scheduler keeps one for its browser runs and stops it with itself."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat

import psutil
import pytest

from opskit.browser.warm import WarmBrowser
from opskit.engine.history import RunStore
from tests.browser.conftest import DESK_PASSWORD_ENV, DESK_USER_ENV, GOT_IT
from tests.conftest import wait_for

pytestmark = pytest.mark.browser


def browsers_of(pid: int) -> list[psutil.Process]:
    """The Chromium main processes under ``pid``: Chromium processes whose parent is not one (a renderer,
    the zygote or the crash reporter, which starts when it likes, are the browser's own children)."""

    def chromium(p: psutil.Process) -> bool:
        try:
            line = p.cmdline()
        except psutil.Error:
            return False
        return bool(line) and "chrom" in line[0]

    found = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            parent = p.parent()
        except psutil.Error:
            continue
        if chromium(p) and not (parent is not None and chromium(parent)):
            found.append(p)
    return found


@pytest.fixture
def warm(tmp_path):
    browser = WarmBrowser(tmp_path / "var")
    yield browser
    browser.stop()


def warm_ctx(desk_ctx, desk, warm):
    ctx = desk_ctx(desk)
    ctx.options["warm_browser"] = str(warm.endpoint)
    return ctx


def test_runs_connect_to_the_warm_browser_each_in_a_private_context(desk, desk_ctx, warm, caplog):
    caplog.set_level(logging.INFO, logger="opskit.browser")
    assert warm.ensure(wait=True) == warm.endpoint
    assert stat.S_IMODE(warm.endpoint.stat().st_mode) == 0o600
    assert stat.S_IMODE(warm.endpoint.parent.stat().st_mode) == 0o700
    [chromium] = browsers_of(warm.server.proc.pid)
    assert "--remote-debugging-pipe" in chromium.cmdline()  # no debugging port open to the machine
    assert not any(a.startswith("--remote-debugging-port") for a in chromium.cmdline())
    logins = desk.counts[("POST", "/api/login")]
    with warm_ctx(desk_ctx, desk, warm).browser("desk") as s:
        s.goto(desk.route("appeals"))
        assert s.table("table.grid").rows
        assert warm.server.clients() == 1
        assert browsers_of(os.getpid()) == [chromium]  # the run started no browser of its own
    assert "connected to the warm browser" in caplog.text
    wait_for(lambda: warm.server.clients() == 0, what="the run's connection to close")
    # a second run without the saved sign-in must sign in again: contexts share nothing
    (warm.var_dir / "browser" / "desk.json").unlink()
    with warm_ctx(desk_ctx, desk, warm).browser("desk") as s:
        s.goto(desk.route("reports"))
        assert s.text("h1") == "Reports"
    assert desk.counts[("POST", "/api/login")] == logins + 2
    assert warm.server.alive() and warm.restarts == 0


def test_a_crashed_warm_browser_is_replaced_and_runs_start_their_own_meanwhile(desk, desk_ctx, warm, caplog):
    caplog.set_level(logging.INFO, logger="opskit.browser")
    warm.ensure(wait=True)
    os.killpg(warm.server.proc.pid, signal.SIGKILL)
    warm.server.proc.wait()
    with warm_ctx(desk_ctx, desk, warm).browser("desk") as s:  # no warm browser: its own, and it says so
        s.goto(desk.route("reports"))
        assert s.text("h1") == "Reports"
    assert "this run starts its own" in caplog.text and warm.wanted()
    assert warm.ensure(wait=True) == warm.endpoint and warm.restarts == 1
    with warm_ctx(desk_ctx, desk, warm).browser("desk") as s:
        s.goto(desk.route("reports"))
        assert warm.server.clients() == 1


def test_over_its_memory_cap_it_is_replaced_once_its_runs_have_ended(desk, desk_ctx, tmp_path):
    warm = WarmBrowser(tmp_path / "var", memory_cap=1)  # any browser is over 1 MiB
    try:
        warm.ensure(wait=True)
        old = warm.server
        with warm_ctx(desk_ctx, desk, warm).browser("desk") as s:
            s.goto(desk.route("reports"))
            warm.maintain()  # over the cap: retired, but its run goes on
            assert warm.server is None and warm.retired == [old] and not warm.endpoint.exists()
            assert s.text("h1") == "Reports" and old.alive()
        wait_for(lambda: old.clients() == 0, what="the run's connection to close")
        warm.maintain()
        assert not old.alive() and warm.retired == [] and warm.restarts == 1
    finally:
        warm.stop()


@pytest.mark.slow
def test_the_scheduler_keeps_a_warm_browser_for_its_browser_runs(tmp_project, desk, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from opskit.engine.daemon import Scheduler
    from tests.fixtures.appdesk.server import USER

    monkeypatch.setenv(DESK_USER_ENV, USER)
    monkeypatch.setenv(DESK_PASSWORD_ENV, desk.password)
    tmp_project.add_task(
        "desk_reports",
        '''
        from opskit import Result, RunContext, task

        @task
        def desk_reports(ctx: RunContext) -> Result:
            """Read the reports page."""
            with ctx.browser("desk") as s:
                s.goto("#/reports")
                return Result(summary={"title": s.text("h1")})
        ''',
    )
    tmp_project.write_config(
        f"""\
        timezone: UTC
        sources:
          desk:
            url: {desk.url}
            username_env: {DESK_USER_ENV}
            password_env: {DESK_PASSWORD_ENV}
            browser:
              dismiss: ['{GOT_IT}']
        jobs:
          reports:
            task: desk_reports
            schedule: "* * * * *"
            catch_up: none
        """
    )
    endpoint = tmp_project.root / "var" / "browser" / "warm.json"
    start = datetime(2026, 11, 16, 9, 0, 30, tzinfo=UTC)
    scheduler = Scheduler(tmp_project.config)
    scheduler.start(start, lock=False)

    def run_slot(minute: int) -> str:
        now = start + timedelta(minutes=minute, seconds=-30)
        scheduler.tick(now)
        with RunStore(tmp_project.root / "var" / "history.sqlite") as store:
            [record] = [r for r in store.list(job="reports") if r.scheduled_for == now.replace(second=0)]

        def finished() -> bool:
            with RunStore(tmp_project.root / "var" / "history.sqlite") as store:
                return store.get(record.id).status in ("succeeded", "failed")

        wait_for(finished, timeout=90, what=f"the {now:%H:%M} run")

        def reaped() -> bool:  # the record is final before the worker process has exited
            scheduler.tick(now + timedelta(seconds=1))
            return not scheduler.running

        wait_for(reaped, timeout=30, what=f"the scheduler to reap the {now:%H:%M} run")
        with RunStore(tmp_project.root / "var" / "history.sqlite") as store:
            done = store.get(record.id)
        assert done.status == "succeeded", done.error
        return (tmp_project.root / "var" / "runs" / record.id / "run.log").read_text()

    try:
        first = run_slot(1)
        assert "no warm browser is running yet; this run starts its own" in first
        wait_for(endpoint.exists, timeout=60, what="the scheduler to start its warm browser")
        server = json.loads(endpoint.read_text())["pid"]
        second = run_slot(2)
        assert f"connected to the warm browser (pid {server})" in second
    finally:
        scheduler.stop(start + timedelta(minutes=3))
    assert not endpoint.exists()
    wait_for(lambda: not psutil.pid_exists(server) or psutil.Process(server).status() == "zombie", what="its end")


def test_a_warm_browser_left_by_a_killed_scheduler_is_stopped_by_the_next(tmp_path):
    left = WarmBrowser(tmp_path / "var")
    left.ensure(wait=True)
    pid = left.server.proc.pid  # the scheduler that started it dies without stopping it
    WarmBrowser(tmp_path / "var").stop_stale()
    left.server.proc.wait(timeout=10)
    assert not left.server.alive() and not left.endpoint.exists()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
