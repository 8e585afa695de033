"""The history as the truth between scheduler and workers: one claim per run, and what the scheduler reads
from a run's row and its worker's heartbeat (no Redis here: the broker is a closed port)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opskit.config.model import load_config
from opskit.engine.executors.base import EXIT_UNKNOWN
from opskit.engine.executors.celery import CeleryExecutor, CeleryRun
from opskit.engine.history import RunStatus, RunStore
from tests.conftest import Project, free_port

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def _setup(project: Project) -> tuple[CeleryExecutor, RunStore]:
    project.write_config(
        f"executor:\n  kind: celery\n  broker: redis://127.0.0.1:{free_port()}/0\n  worker_lost_after: 5s\n"
        "jobs:\n  nightly:\n    task: kitchen_sink\n"
    )
    config = load_config(project.config)
    return CeleryExecutor(config), RunStore(config.history_target)


def _run(store: RunStore, root: Path):  # noqa: ANN202
    return store.create(
        job="nightly", task="kitchen_sink", params={}, trigger="manual", scheduled_for=NOW, folder_root=root
    )


def _beat(store: RunStore, name: str, *, pid: int, host: str, age_s: float = 0.0) -> None:
    store.worker_heartbeat(
        name=name,
        host=host,
        pid=pid,
        pid_started=None,
        queues=["default"],
        concurrency=1,
        started_at=NOW,
        now=datetime.now(UTC) - timedelta(seconds=age_s),
    )


def test_a_run_is_claimed_by_one_worker_and_only_while_queued(tmp_project: Project) -> None:
    executor, store = _setup(tmp_project)
    record = _run(store, tmp_project.root / "runs")
    assert store.claim_run(record.id, worker="a@h", host="h")
    assert not store.claim_run(record.id, worker="b@h", host="h")  # a second delivery does nothing
    assert store.run_state(record.id) == ("queued", "a@h")
    other = _run(store, tmp_project.root / "runs")
    store.finish(other.id, RunStatus.FAILED, error="terminated")
    assert not store.claim_run(other.id, worker="a@h", host="h")  # over before any worker took it
    executor.close()


def test_the_scheduler_reads_a_runs_end_and_a_lost_worker_from_the_history(tmp_project: Project) -> None:
    executor, store = _setup(tmp_project)
    here = socket.gethostname()
    done, stale, dead, waiting = (_run(store, tmp_project.root / "runs") for _ in range(4))
    _beat(store, "alive@far", pid=1, host="far-away")
    _beat(store, "stale@far", pid=1, host="far-away", age_s=60)
    _beat(store, f"dead@{here}", pid=2**22 + 17, host=here)  # no such process on this machine
    for record, worker in ((done, "alive@far"), (stale, "stale@far"), (dead, f"dead@{here}")):
        assert store.claim_run(record.id, worker=worker, host="x")
    store.finish(done.id, RunStatus.SUCCEEDED)
    executor._history_ok_since = time.monotonic() - 60  # the history has answered for a minute

    def handle(record):  # noqa: ANN001, ANN202
        h = CeleryRun(executor, record, "default", 60.0, True)
        h.sent_at = 0.0
        return h

    assert handle(done).poll() == 0  # final in the history: its record says how
    assert handle(stale).poll() == EXIT_UNKNOWN  # no heartbeat for 60 s > worker_lost_after
    assert handle(dead).poll() == EXIT_UNKNOWN  # its process on this machine is gone
    assert executor.worker_lost("alive@far") is None
    assert "no heartbeat for 60s" in (executor.worker_lost("stale@far") or "")
    store.worker_stopped("alive@far", now=datetime.now(UTC))
    executor._workers = (0.0, {})
    assert executor.worker_lost("alive@far") == "it stopped"
    # Untaken and never sent (the broker is down): it waits, unsent, and says so; its deadline has not begun.
    unsent = CeleryRun(executor, waiting, "browser", 60.0, True)
    assert unsent.poll() is None and unsent.poll() is None
    assert unsent.where == "Celery queue 'browser' (not sent yet: broker down)"
    assert unsent.deadline_start(NOW) is None
    executor.close()


def test_a_run_no_worker_takes_is_alerted_after_the_start_deadline(tmp_project: Project) -> None:
    from opskit.engine.runqueue import Running, RunQueue

    executor, store = _setup(tmp_project)
    record = _run(store, tmp_project.root / "runs")
    alerts: list[tuple[str | None, str]] = []
    runs = RunQueue(store, executor, executor.config, lambda job, text: alerts.append((job, text)), lambda _: None)
    handle = CeleryRun(executor, record, "browser", 60.0, True)
    runs.running[record.id] = Running(record, handle, None, NOW, None, timedelta(minutes=5))
    runs.watch(NOW + timedelta(minutes=9))
    assert alerts == []  # start_deadline is 10 minutes
    runs.watch(NOW + timedelta(minutes=11))
    runs.watch(NOW + timedelta(minutes=12))  # once
    assert alerts == [
        (
            "nightly",
            f"run {record.id} has waited 0:11:00 for a worker to take it (Celery queue "
            "'browser' (not sent yet: broker down))",
        )
    ]
    executor.close()


def test_after_a_history_outage_old_heartbeats_are_no_sign_of_a_lost_worker(tmp_project: Project) -> None:
    executor, store = _setup(tmp_project)
    _beat(store, "quiet@far", pid=1, host="far-away", age_s=60)  # it could not write during the outage
    executor._history_ok_since = None  # the scheduler's last read failed
    assert executor.worker_lost("quiet@far") is None  # the history answers again only now: a grace
    executor._history_ok_since = time.monotonic() - 6  # answering for longer than worker_lost_after (5 s)
    executor._workers = (0.0, {})
    assert executor.worker_lost("quiet@far") == "no heartbeat for 60s"
    executor.close()


def test_a_scheduler_that_stops_leaves_untaken_runs_queued_and_stops_the_rest(tmp_project: Project) -> None:
    from opskit.engine.runqueue import Running, RunQueue

    executor, store = _setup(tmp_project)
    waiting, started = _run(store, tmp_project.root / "runs"), _run(store, tmp_project.root / "runs")
    _beat(store, "w@far", pid=1, host="far-away")
    assert store.claim_run(started.id, worker="w@far", host="far-away")
    store.mark_running(started.id, pid=1)
    runs = RunQueue(store, executor, executor.config, lambda *_: None, lambda _: None)
    for record in (waiting, started):
        handle = CeleryRun(executor, record, "default", 60.0, True)
        handle.sent_at = time.monotonic()
        runs.running[record.id] = Running(record, handle, None, NOW, None, timedelta(minutes=5))
        runs._busy["nightly"] += 1
    runs.stop_all()
    assert store.get(waiting.id).status == "queued"  # a worker may still take it; the next scheduler sees to it
    stopped = store.get(started.id)
    assert stopped.status == "failed" and stopped.error == "terminated: the scheduler shut down before the run ended"
    assert runs.running == {} and not runs.busy("nightly")
    executor.close()


def test_a_scheduler_that_lost_the_lead_leaves_runs_on_workers_running(tmp_project: Project) -> None:
    """After a PostgreSQL restart a standby may win the lock: the old leader's runs on live workers are
    healthy and the new leader's to deliver; stopping them would lose them (terminated is never retried)."""
    from opskit.engine.runqueue import Running, RunQueue

    executor, store = _setup(tmp_project)
    started = _run(store, tmp_project.root / "runs")
    _beat(store, "w@far", pid=1, host="far-away")
    assert store.claim_run(started.id, worker="w@far", host="far-away")
    store.mark_running(started.id, pid=1)
    runs = RunQueue(store, executor, executor.config, lambda *_: None, lambda _: None)
    handle = CeleryRun(executor, started, "default", 60.0, True)
    handle.sent_at = time.monotonic()
    runs.running[started.id] = Running(started, handle, None, NOW, None, timedelta(minutes=5))
    runs._busy["nightly"] += 1
    runs.stop_all(leave_remote=True)
    assert store.get(started.id).status == "running" and runs.running == {}
    executor.close()
