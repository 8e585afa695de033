"""Runs whose owner died are settled by whoever notices first, once: a command before the scheduler's
restart alerts an abandoned run (the scheduler then does not alert it again), a run a live scheduler owns is
left to it, and a run whose owner died before delivering it is delivered.

The commands run in-process (``run_cli``); the history is a real SQLite file; the alert email goes into
the outbox folder and the chat alert to a real webhook on 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import psutil
import pytest

from opskit.engine.history import RunStatus, RunStore
from opskit.engine.lock import SchedulerLock
from tests.test_daemon import FakeExecutor
from tests.test_notify import Hook

CONFIG = """\
timezone: Europe/Berlin
chat:
  kind: slack
  url_env: TEST_CHAT_URL
  backoff_s: 0
  max_attempts: 1
jobs:
  nightly:
    task: kitchen_sink
    schedule: "30 2 * * *"
    email:
      to: [ops-leads@example.com]
      "on": [failure]
"""


@pytest.fixture
def hook(monkeypatch):
    server = Hook()
    monkeypatch.setenv("TEST_CHAT_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def project(tmp_project):
    tmp_project.config.write_text(CONFIG)
    return tmp_project


def dead_process() -> tuple[int, float]:
    """The pid and start time of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, started


def store(project, owner: str | None = None) -> RunStore:
    return RunStore(project.root / "var" / "history.sqlite", owner=owner)


def running_run(project, owner: str) -> str:
    """A ``nightly`` run recorded as running, whose process has died (a reboot, the OOM killer)."""
    with store(project, owner) as history:
        run = history.create(
            job="nightly",
            task="kitchen_sink",
            params={},
            trigger="schedule",
            scheduled_for=datetime(2026, 11, 17, 1, 30, tzinfo=UTC),
            folder_root=project.root / "var" / "runs",
        )
        pid, started = dead_process()
        history.mark_running(run.id, pid=pid, pid_started=started)
    return run.id


def alerts(project) -> list[str]:
    return sorted(p.name for p in (project.root / "outbox").glob("*.eml"))


def test_a_command_that_notices_a_dead_run_alerts_it_once_and_the_scheduler_does_not_again(run_cli, project, hook):
    run_id = running_run(project, owner="scheduler:gone-1234")  # its scheduler was killed too
    result = run_cli("history")
    assert result.exit_code == 0, result.stderr
    with store(project) as history:
        record = history.get(run_id)
    assert record.status == "abandoned"
    assert record.delivery["action"] == "alert" and [e["kind"] for e in record.delivery["emails"]] == ["alert"]
    assert len(alerts(project)) == 1 and len(hook.posts) == 1
    assert "Job nightly was abandoned" in str(hook.posts[0])
    assert f"run {run_id} (nightly, abandoned): delivered after its owner died: alert" in result.stderr
    # Whoever notices next (another command, the scheduler starting again) sends nothing more.
    assert run_cli("show", run_id).exit_code == 0
    from opskit.engine.daemon import Scheduler

    scheduler = Scheduler(project.config, executor=FakeExecutor())
    scheduler.start(datetime(2026, 11, 17, 9, 0, tzinfo=UTC))
    scheduler.stop(datetime(2026, 11, 17, 9, 0, 1, tzinfo=UTC))
    assert len(alerts(project)) == 1 and len(hook.posts) == 1


def test_a_run_a_live_scheduler_owns_is_left_to_it(run_cli, project, hook):
    run_id = running_run(project, owner="scheduler:alive-4321")
    lock = SchedulerLock(project.root / "var" / "scheduler.lock")
    lock.acquire()  # a scheduler is up: it reaps its own runs and alerts them
    try:
        run_cli("history")
        with store(project) as history:
            assert history.get(run_id).status == "running"
        assert alerts(project) == [] and hook.posts == []
    finally:
        lock.release()
    run_cli("history")  # now it is gone: the command settles the run
    with store(project) as history:
        assert history.get(run_id).status == "abandoned"
    assert len(alerts(project)) == 1


def test_a_run_whose_owner_died_before_delivering_it_is_delivered_once(run_cli, project, hook):
    pid, started = dead_process()
    run_id = running_run(project, owner=f"pid:{pid}:{started:.3f}")  # a `runner.py run` that was killed
    with store(project) as history:
        history.finish(run_id, RunStatus.FAILED, error="ValueError: boom")  # its worker recorded the end
    run_cli("history")
    run_cli("history")
    with store(project) as history:
        record = history.get(run_id)
    assert record.status == "failed" and record.delivery["action"] == "alert"
    assert len(alerts(project)) == 1 and len(hook.posts) == 1


def test_a_delivery_cut_short_is_finished_without_a_second_email(run_cli, project, hook):
    from opskit.config.model import load_config
    from opskit.delivery import pipeline

    pid, started = dead_process()
    run_id = running_run(project, owner=f"pid:{pid}:{started:.3f}")
    with store(project) as history:
        history.finish(run_id, RunStatus.FAILED, error="ValueError: boom")
        # A deliverer saved the alert, then died before recording it (its claim names a dead process).
        assert history.claim_delivery(run_id, claimer=f"pid:{pid}:{started:.3f}")
        pipeline.after_run(load_config(project.config), history, history.get(run_id), send_now=False)
        history._db.execute(  # the record it never wrote
            "UPDATE runs SET delivery=? WHERE id=?",
            (f'{{"state": "claimed", "claimed_by": "pid:{pid}:{started:.3f}"}}', run_id),
        )
    assert len(alerts(project)) == 1 and len(hook.posts) == 1
    run_cli("history")
    with store(project) as history:
        record = history.get(run_id)
    assert record.delivery["action"] == "resumed" and record.delivery["emails"][0]["kind"] == "saved before"
    assert len(alerts(project)) == 1  # the saved email stands; no second one
