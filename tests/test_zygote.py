"""The pre-forked executor with real processes: forked runs record what a worker run records, a kill reaches
the whole tree, edited tasks are picked up, a dead zygote is replaced, exit codes reach poll()."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest

from opskit.config.model import load_config
from opskit.engine.daemon import Scheduler
from opskit.engine.executors import Purpose, make_executor
from opskit.engine.executors.forked import ForkedExecutor, ForkedRun
from opskit.engine.executors.process import ProcessRun
from opskit.engine.history import RunRecord, RunStore
from tests.conftest import REPO
from tests.test_cli import wait_for
from tests.test_steps import CHAIN

pytestmark = pytest.mark.process  # starts runner.py, workers, the daemon or the zygote

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def executor(tmp_project) -> Iterator[ForkedExecutor]:
    executor = make_executor(load_config(tmp_project.config), purpose=Purpose.SCHEDULER)
    assert isinstance(executor, ForkedExecutor)
    yield executor
    executor.close()


def create(project, task: str, params: dict | None = None, job: str | None = None) -> RunRecord:
    config = load_config(project.config)
    with RunStore(config.history_path) as store:
        return store.create(
            job=job,
            task=task,
            params=params or {},
            trigger="manual",
            scheduled_for=datetime(2026, 11, 18, 2, 30, tzinfo=UTC),
            folder_root=config.runs_dir,
        )


def launch(
    project, executor: ForkedExecutor, task: str, params: dict | None = None, job: str | None = None
) -> tuple[RunRecord, ForkedRun]:
    record = create(project, task, params, job)
    handle = executor.start(record, load_config(project.config))
    assert isinstance(handle, ForkedRun) and handle.resolve(30.0)
    assert handle.fallback is None and handle.pid, "started as a plain worker, not forked by the zygote"
    return record, handle


def exit_code(handle, timeout: float = 30.0) -> int:
    wait_for(lambda: handle.poll() is not None, timeout=timeout, what="the run's exit to be reported")
    return handle.poll()


def get(project, run_id: str) -> RunRecord:
    with RunStore(project.root / "var" / "history.sqlite") as store:
        return store.get(run_id)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def log_shape(folder: str, run_id: str) -> list[str]:
    """run.log without its timestamps and run id: what a worker and a forked run must both write."""
    text = (Path(folder) / "run.log").read_text().replace(run_id, "RUN")
    return [re.sub(r"^\S+ \S+ ", "", line) for line in text.splitlines()]


def test_a_forked_run_records_what_a_worker_run_records_steps_too(tmp_project, executor):
    tmp_project.write_config(CHAIN + "  nightly:\n    task: kitchen_sink\n    params:\n      count: 7\n")
    params = {"period": "2026-W46", "count": 7, "queues": ["Q1", "Q2"]}
    chain = {
        "collect": {"period": "2026-W46", "count": 2},
        "report": {"period": "2026-W46", "count": 3},
        "echo_steps": {},
    }
    for job, task, raw in [
        ("nightly", "kitchen_sink", params),
        ("chain", "kitchen_sink > kitchen_sink > echo_steps", chain),
    ]:
        forked, handle = launch(tmp_project, executor, task, raw, job=job)
        assert exit_code(handle) == 0
        plain = create(tmp_project, task, raw, job=job)
        worker = subprocess.run(
            [sys.executable, "-m", "opskit.engine.worker", "--config", str(tmp_project.config), plain.id],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert worker.returncode == 0, worker.stderr
        a, b = get(tmp_project, forked.id), get(tmp_project, plain.id)
        assert (a.status, a.error, a.artifacts) == (b.status, b.error, b.artifacts) == ("succeeded", None, a.artifacts)
        strip = str(Path(a.folder).parent) + "/"
        assert str(a.result).replace(forked.id, "RUN").replace(strip, "") == str(b.result).replace(
            plain.id, "RUN"
        ).replace(strip, "")
        assert log_shape(a.folder, forked.id) == log_shape(b.folder, plain.id)
        assert "run.log" in a.artifacts and a.pid == handle.pid != executor.zygote.proc.pid
    assert a.result["summary"]["seen"] == ["collect", "report"]  # the chain's steps saw each other


def test_kill_reaches_a_grandchild_and_a_retired_zygote_still_reports_the_exit(tmp_project, executor):
    marker = tmp_project.root / "grandchild.pid"
    record, handle = launch(tmp_project, executor, "spawn_child", {"marker": str(marker)})
    grandchild = int(wait_for(lambda: marker.exists() and marker.read_text(), what="the grandchild"))
    assert os.getpgid(handle.pid) == handle.pid == os.getsid(handle.pid)  # its own session and group
    old = executor.zygote
    executor.reload(load_config(tmp_project.config))  # a config change while the run is in flight
    assert old is not None and not old.gone and executor.zygote is not old
    handle.kill()
    assert handle.poll() == 130  # SIGTERM: the run recorded itself as terminated, as a worker does
    wait_for(lambda: gone(grandchild), what="the grandchild to be gone")
    assert get(tmp_project, record.id).error == "terminated (SIGTERM)"
    wait_for(lambda: old.gone and old.proc.returncode is not None, what="the retired zygote to exit")


def test_an_edited_task_file_is_picked_up_without_a_restart(tmp_project, executor):
    path = tmp_project.add_task(
        "version",
        """\
        from opskit import task

        @task
        def version(ctx):
            \"\"\"Say which version of this file ran.\"\"\"
            return {"v": 1}
        """,
    )
    record, handle = launch(tmp_project, executor, "version")
    assert exit_code(handle) == 0 and get(tmp_project, record.id).result["summary"] == {"v": 1}
    zygote = executor.zygote
    path.write_text(path.read_text().replace('{"v": 1}', '{"v": "fixed"}'))
    tmp_project.add_task("added", "from opskit import task\n\n@task\ndef added(ctx):\n    return {'new': True}\n")
    record, handle = launch(tmp_project, executor, "version")
    assert exit_code(handle) == 0 and get(tmp_project, record.id).result["summary"] == {"v": "fixed"}
    record, handle = launch(tmp_project, executor, "added")
    assert exit_code(handle) == 0 and get(tmp_project, record.id).result["summary"] == {"new": True}
    assert executor.zygote is zygote  # the same zygote, which discovered the tasks again


def test_a_killed_zygote_is_replaced_and_its_runs_carry_on(tmp_project, executor):
    marker = tmp_project.root / "started"
    slow, in_flight = launch(tmp_project, executor, "slow", {"seconds": 600, "marker": str(marker)})
    wait_for(marker.exists, what="the slow run to start")
    first = executor.zygote
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    record, handle = launch(tmp_project, executor, "kitchen_sink")
    assert exit_code(handle) == 0 and get(tmp_project, record.id).status == "succeeded"
    assert executor.zygote is not first and executor.zygote.proc.pid != first.proc.pid
    assert in_flight.poll() is None  # an orphan now, still running
    in_flight.kill()
    assert in_flight.poll() is not None
    assert get(tmp_project, slow.id).error == "terminated (SIGTERM)"  # it recorded itself


def test_poll_reports_the_exit_code_of_a_crashing_run(tmp_project, executor):
    tmp_project.add_task("crash", "import os\nfrom opskit import task\n\n@task\ndef crash(ctx):\n    os._exit(3)\n")
    record, handle = launch(tmp_project, executor, "crash")
    assert exit_code(handle) == 3
    assert get(tmp_project, record.id).status == "running"  # nothing recorded: the scheduler fills it in


def test_the_scheduler_starts_runs_through_the_zygote_and_restarts_it_on_a_config_change(tmp_project):
    tmp_project.write_config("""\
        timezone: Europe/Berlin
        jobs:
          daily:
            task: kitchen_sink
            schedule: "30 8 * * *"
        """)
    scheduler = Scheduler(tmp_project.config)
    t0 = datetime(2026, 11, 16, 9, 0, tzinfo=BERLIN)
    scheduler.start(t0)
    assert isinstance(scheduler.executor, ForkedExecutor)
    try:
        first = scheduler.executor.zygote
        slot = datetime(2026, 11, 17, 8, 30, tzinfo=BERLIN)
        scheduler.tick(slot)
        (running,) = scheduler.running.values()
        assert isinstance(running.handle, ForkedRun)

        def finished() -> bool:
            scheduler.tick(slot)
            return not scheduler.running

        wait_for(finished, what="the run to be reaped")
        (record,) = scheduler.store.list(job="daily")
        assert record.status == "succeeded" and record.pid == running.handle.pid != os.getpid()
        text = tmp_project.config.read_text().replace('"30 8 * * *"', '"45 8 * * *"')
        tmp_project.config.write_text(text)
        os.utime(tmp_project.config, (t0.timestamp(), t0.timestamp()))  # a new mtime, whatever the fs
        scheduler.tick(slot + timedelta(minutes=1))
        assert scheduler.executor.zygote is not first and first.gone
        scheduler.tick(datetime(2026, 11, 17, 8, 45, tzinfo=BERLIN))
        wait_for(
            lambda: (scheduler.tick(datetime(2026, 11, 17, 8, 45, tzinfo=BERLIN)), not scheduler.running)[1],
            what="the second run to be reaped",
        )
        assert [r.status for r in scheduler.store.list(job="daily")] == ["succeeded", "succeeded"]
    finally:
        zygote = scheduler.executor.zygote
        scheduler.stop(datetime(2026, 11, 17, 9, 0, tzinfo=BERLIN))
    assert zygote is not None and zygote.proc.returncode is not None  # stop() ended it


def test_a_zygote_that_cannot_fork_safely_falls_back_to_a_plain_worker(tmp_project, executor):
    # A task module that starts a thread at import leaves the zygote with two threads: it refuses to fork.
    tmp_project.add_task(
        "threaded",
        """\
        import threading
        import time

        from opskit import task

        threading.Thread(target=time.sleep, args=(600,), daemon=True).start()

        @task
        def threaded(ctx):
            \"\"\"Run in whatever process could start it.\"\"\"
            return {"ok": True}
        """,
    )
    record = create(tmp_project, "threaded")
    handle = executor.start(record, load_config(tmp_project.config))
    assert isinstance(handle, ForkedRun) and handle.resolve(30.0)
    assert handle.pid is None and isinstance(handle.fallback, ProcessRun)
    assert handle.where == f"local pid {handle.fallback.proc.pid} (the zygote could not fork it)"
    assert exit_code(handle) == 0
    assert get(tmp_project, record.id).result["summary"] == {"ok": True}
