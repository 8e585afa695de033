"""Faults of the machinery under the runs, with real processes: a scheduler killed with ``kill -9``, a worker
killed by the OS, a zygote that dies while config.yaml is broken. None may stall, double or silence a run.

Each test drives a real ``Scheduler`` (its zygote, its forked runs) with a given ``now``, and kills real
processes with real signals; a first scheduler is a real ``runner.py schedule`` process where it is the
one killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psutil
import pytest

from opskit.engine.daemon import Scheduler
from opskit.engine.executors.adopted import AdoptedRun
from opskit.engine.history import RunStore
from tests.conftest import REPO, wait_for

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")


def history(project) -> RunStore:
    return RunStore(project.root / "var" / "history.sqlite")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def reap_until(scheduler: Scheduler, now: datetime, done, what: str) -> None:
    """Tick at ``now`` (the run's deadline is not the subject) until ``done()``."""
    wait_for(lambda: (scheduler.tick(now), done())[1], what=what)


def test_runs_of_a_scheduler_killed_with_kill_9_are_adopted_watched_and_delivered(tmp_project, tmp_path):
    hang_marker, short_marker = tmp_path / "hang.pid", tmp_path / "short.pid"
    tmp_project.write_config(
        textwrap.dedent(f"""\
        timezone: Europe/Berlin
        jobs:
          hang:
            task: slow
            schedule: "*/15 * * * *"
            timeout: 1h
            params: {{seconds: 3600, marker: {hang_marker}}}
            email: {{to: [ops@example.com], "on": [failure]}}
          short:
            task: slow
            schedule: "0 3 1 1 *"
            params: {{seconds: 3, marker: {short_marker}}}
        """)
    )
    with history(tmp_project) as store:  # two runs the first scheduler starts as soon as it is up
        for job in ("hang", "short"):
            store.create(
                job=job,
                task="slow",
                params={"seconds": 3600 if job == "hang" else 3, "marker": str(tmp_path / f"{job}.pid")},
                trigger="manual",
                scheduled_for=datetime.now(UTC) - timedelta(seconds=1),
                folder_root=tmp_project.root / "var" / "runs",
            )
    first = subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "--config", str(tmp_project.config), "schedule"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: hang_marker.exists() and short_marker.exists(), what="both runs to start")
        hang_pid, short_pid = int(hang_marker.read_text()), int(short_marker.read_text())
    finally:
        first.kill()  # kill -9 of the scheduler alone: its runs live on, in sessions of their own
        first.wait()
    assert not gone(hang_pid) and not gone(short_pid)
    with history(tmp_project) as store:
        # the manual run (should a quarter hour pass while the first scheduler is up, a skipped slot is newer)
        (hang,) = [r for r in store.list(job="hang") if r.trigger == "manual"]
    assert hang.status == "running" and hang.pid == hang_pid

    second = Scheduler(tmp_project.config)
    now = datetime.now(UTC)
    second.start(now)
    try:
        # Adopted: watched through its pid, counted busy, and its owner is this scheduler now.
        adopted = second.running[hang.id]
        assert isinstance(adopted.handle, AdoptedRun) and adopted.handle.where == f"local pid {hang_pid} (adopted)"
        assert second.store.get(hang.id).owner == second.owner
        # A slot of the same job that comes due meanwhile is an overlap (overlap: skip), not a second run.
        slot = second.next_due["hang"]
        second.tick(slot)
        skipped = [r for r in second.store.list(job="hang") if r.status == "skipped" and r.scheduled_for == slot]
        assert [r.error for r in skipped] == [f"the previous run ({hang.id}) was still going (overlap: skip)"]
        # The short run ends by itself: reaped and delivered by the scheduler that adopted it.
        short = second.store.list(job="short")[0]
        reap_until(second, slot, lambda: short.id not in second.running, "the short run to be reaped")
        wait_for(lambda: (second.store.get(short.id).delivery or {}).get("action"), what="its delivery")
        assert second.store.get(short.id).status == "succeeded"
        assert second.store.get(short.id).delivery["outcome"] == "success"
        # The hanging run's deadline (its job's timeout, from when it started) is enforced.
        second.tick(hang.started_at + timedelta(hours=1, seconds=1))
        record = second.store.get(hang.id)
        assert record.status == "timed_out" and record.error == "timed out after 1:00:00; its processes were killed"
        wait_for(lambda: gone(hang_pid), what="the hanging run's process to be killed")
        wait_for(lambda: (second.store.get(hang.id).delivery or {}).get("action") == "alert", what="its alert")
        (alert,) = (tmp_project.root / "outbox").glob("*.eml")
        assert "Subject: [opskit] Job hang timed out" in alert.read_text()
    finally:
        second.stop(datetime.now(UTC))
        for pid in (hang_pid, short_pid):
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("retry_killed", [True, False])
def test_a_worker_killed_by_the_os_is_retried_unless_the_job_says_not(tmp_project, tmp_path, retry_killed):
    marker = tmp_path / "pid"
    tmp_project.write_config(
        textwrap.dedent(f"""\
        timezone: Europe/Berlin
        jobs:
          victim:
            task: slow
            schedule: "0 9 * * *"
            retries: 2
            retry_backoff: 0s
            {"" if retry_killed else "retry_killed: false"}
            params: {{seconds: 600, marker: {marker}}}
        """)
    )
    scheduler = Scheduler(tmp_project.config)
    slot = datetime(2026, 11, 17, 9, 0, tzinfo=BERLIN)
    scheduler.start(slot - timedelta(minutes=1))
    try:
        scheduler.tick(slot)
        wait_for(marker.exists, what="the run to start")
        first_pid = int(marker.read_text())
        marker.unlink()
        os.kill(first_pid, signal.SIGKILL)  # what the out-of-memory killer does
        (first,) = scheduler.store.list(job="victim")
        reap_until(scheduler, slot, lambda: first.id not in scheduler.running, "the killed run to be reaped")
        record = scheduler.store.get(first.id)
        assert record.status == "failed"
        assert record.error == "the run's process was killed by SIGKILL before it recorded a result"
        if retry_killed:
            reap_until(scheduler, slot + timedelta(seconds=1), marker.exists, "the retry to start")
            second = scheduler.store.list(job="victim")[0]
            assert (second.trigger, second.attempt, second.scheduled_for) == ("retry", 2, slot)
            assert int(marker.read_text()) != first_pid
            assert scheduler.store.get(first.id).delivery == {
                "action": "retried",
                "outcome": "failure",
                "next_attempt": 2,
            }
        else:
            scheduler.tick(slot + timedelta(seconds=1))
            assert [r.id for r in scheduler.store.list(job="victim")] == [first.id] and not scheduler.retries
            wait_for(lambda: (scheduler.store.get(first.id).delivery or {}).get("action"), what="its delivery")
            assert scheduler.store.get(first.id).delivery["action"] == "alert"
    finally:
        scheduler.stop(slot + timedelta(minutes=1))


def test_a_zygote_that_dies_while_config_yaml_is_invalid_comes_back_with_the_scheduler_s_config(tmp_project):
    tmp_project.write_config("""\
        timezone: Europe/Berlin
        jobs:
          nightly:
            task: kitchen_sink
            schedule: "*/15 * * * *"
        """)
    scheduler = Scheduler(tmp_project.config)
    t0 = datetime(2026, 11, 17, 9, 1, tzinfo=BERLIN)
    scheduler.start(t0)
    try:
        zygote = scheduler.executor.zygote
        wait_for(lambda: zygote.alive() and zygote.ready, what="the zygote to be ready")
        tmp_project.config.write_text("jobs: [this is not: valid yaml\n")  # someone is editing it
        os.utime(tmp_project.config, (1, 1))
        scheduler.tick(t0 + timedelta(seconds=5))  # the reload fails; the scheduler keeps its config
        assert scheduler.config.jobs["nightly"].schedule == "*/15 * * * *"
        os.kill(zygote.proc.pid, signal.SIGKILL)
        zygote.proc.wait()
        slot = datetime(2026, 11, 17, 9, 15, tzinfo=BERLIN)
        scheduler.tick(slot)
        (run,) = scheduler.store.list(job="nightly")
        reap_until(scheduler, slot, lambda: run.id not in scheduler.running, "the run to be reaped")
        record = scheduler.store.get(run.id)
        assert (record.status, record.error) == ("succeeded", None)
        assert scheduler.executor.zygote is not zygote and scheduler.executor.zygote.ready  # a new one, loaded
    finally:
        scheduler.stop(datetime(2026, 11, 17, 9, 16, tzinfo=BERLIN))


def test_an_adopted_run_s_handle_stops_its_whole_session(tmp_path):
    """The handle a scheduler gets on a run it did not start: poll, and kill reaching the run's session."""
    script = (
        "import os, subprocess, sys, time; os.setsid();"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
        "open(os.environ['M'] + '.new', 'w').write(f'{os.getpid()} {child.pid}');"
        "os.replace(os.environ['M'] + '.new', os.environ['M']); time.sleep(600)"  # whole or not at all
    )
    marker = tmp_path / "m"
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "M": str(marker)})
    try:
        wait_for(marker.exists, what="the process and its child to start")
        pid, child = map(int, marker.read_text().split())
        started = psutil.Process(pid).create_time()
        assert AdoptedRun("r", pid, started + 5).poll() == 256  # another process under that pid: not the run
        handle = AdoptedRun("r", pid, started)
        assert handle.poll() is None
        handle.kill()
        assert handle.poll() == 256  # ended; its exit code is its parent's to read, not ours
        wait_for(lambda: gone(child), what="the run's child to be killed too")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
