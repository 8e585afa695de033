"""The executor seam: both executors run a real task end to end, make_executor is the only place the choice
is made, the pre-forked executor falls back through the seam, and a foreground attempt (timeout, Ctrl-C, a
silent crash) goes through start -> wait -> kill."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opskit.config.model import load_config
from opskit.engine import executors
from opskit.engine.attempts import INTERRUPT_GRACE_S, execute, run_attempt
from opskit.engine.daemon import Scheduler
from opskit.engine.executors import Executor, Purpose, RunHandle, make_executor
from opskit.engine.executors.forked import ForkedExecutor, ForkedRun
from opskit.engine.executors.process import ProcessExecutor, ProcessRun
from opskit.engine.history import RunRecord, RunStore
from opskit.engine.planning import plan_run
from opskit.tasks import discover
from tests.conftest import REPO, wait_for

pytestmark = pytest.mark.process  # starts runner.py, workers, the daemon or the zygote

BERLIN_SLOT = datetime(2026, 11, 18, 2, 30, tzinfo=UTC)


@dataclass
class ScriptedHandle(RunHandle):
    """A run that answers ``wait`` from a script: an exit code, None (still running), or an exception."""

    run_id: str
    script: list[Any] = field(default_factory=list)
    code: int | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"scripted {self.run_id}"

    def poll(self) -> int | None:
        return self.code

    def wait(self, timeout: float) -> int | None:
        self.calls.append(("wait", timeout))
        step = self.script.pop(0) if self.script else self.code
        if isinstance(step, BaseException):
            raise step
        self.code = step if step is not None else self.code
        return step

    def terminate(self) -> None:
        self.calls.append(("terminate", None))

    def kill(self) -> None:
        self.calls.append(("kill", None))
        self.code = -9


@dataclass
class Scripted(Executor):
    """Hands out ScriptedHandles; ``on_start`` may write an outcome to the history, as a worker would."""

    scripts: list[list[Any]] = field(default_factory=list)
    on_start: Any = None
    handles: list[ScriptedHandle] = field(default_factory=list)
    closed: bool = False

    def start(
        self, record: RunRecord, config: Any, *, options: dict[str, Any] | None = None, plan: Any = None
    ) -> ScriptedHandle:
        handle = ScriptedHandle(record.id, self.scripts.pop(0) if self.scripts else [0])
        self.handles.append(handle)
        if self.on_start:
            self.on_start(record)
        return handle

    def close(self) -> None:
        self.closed = True


class Recording(Executor):
    """Delegates to a real executor and remembers what went through it."""

    def __init__(self, inner: Executor):
        self.inner = inner
        self.started: list[str] = []
        self.reloaded: list[Path] = []
        self.closed = False

    def start(
        self, record: RunRecord, config: Any, *, options: dict[str, Any] | None = None, plan: Any = None
    ) -> RunHandle:
        self.started.append(record.id)
        return self.inner.start(record, config, options=options)

    def reload(self, config: Any) -> None:
        self.reloaded.append(config.path)
        self.inner.reload(config)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def create(project, task: str, params: dict | None = None) -> RunRecord:
    config = load_config(project.config)
    with RunStore(config.history_path) as store:
        return store.create(
            job=None,
            task=task,
            params=params or {},
            trigger="manual",
            scheduled_for=BERLIN_SLOT,
            folder_root=config.runs_dir,
        )


def get(project, run_id: str) -> RunRecord:
    with RunStore(project.root / "var" / "history.sqlite") as store:
        return store.get(run_id)


@pytest.fixture(params=[Purpose.SCHEDULER, Purpose.FOREGROUND])
def executor(request, tmp_project) -> Iterator[Executor]:
    executor = make_executor(load_config(tmp_project.config), purpose=request.param)
    yield executor
    executor.close()


def test_make_executor_gives_the_scheduler_the_pre_forked_one_and_the_foreground_the_process_one(tmp_project):
    config = load_config(tmp_project.config)
    scheduler = make_executor(config, purpose=Purpose.SCHEDULER)
    assert isinstance(scheduler, ForkedExecutor)
    assert isinstance(scheduler.fallback, ProcessExecutor) and scheduler.fallback.own_session is True
    foreground = make_executor(config, purpose=Purpose.FOREGROUND)
    assert isinstance(foreground, ProcessExecutor) and foreground.own_session is False


def test_each_executor_runs_a_task_end_to_end_and_reports_its_exit_code(tmp_project, executor):
    record = create(tmp_project, "kitchen_sink", {"period": "2026-W46", "count": 3})
    handle = executor.start(record, load_config(tmp_project.config))
    assert handle.run_id == record.id
    assert handle.wait(60.0) == 0 and handle.poll() == 0
    if isinstance(executor, ForkedExecutor):
        assert isinstance(handle, ForkedRun) and handle.fallback is None  # forked, not the fallback
    else:
        assert isinstance(handle, ProcessRun)
    done = get(tmp_project, record.id)
    assert done.status == "succeeded" and done.result["summary"] == {"period": "2026-W46"}
    assert handle.where.startswith(f"local pid {done.pid}")  # the process that recorded the run


def test_each_executor_reports_the_exit_code_of_a_run_that_dies_without_a_word(tmp_project, executor):
    tmp_project.add_task("crash", "import os\nfrom opskit import task\n\n@task\ndef crash(ctx):\n    os._exit(3)\n")
    record = create(tmp_project, "crash")
    handle = executor.start(record, load_config(tmp_project.config))
    assert handle.wait(60.0) == 3
    assert get(tmp_project, record.id).status == "running"  # nothing recorded: the caller fills it in


def test_the_scheduler_s_runs_have_their_own_session_and_a_foreground_run_shares_the_terminal_s(tmp_project, executor):
    marker = tmp_project.root / "started"
    record = create(tmp_project, "slow", {"seconds": 600, "marker": str(marker)})
    handle = executor.start(record, load_config(tmp_project.config))
    pid = int(wait_for(lambda: marker.exists() and marker.read_text(), what="the run to start"))
    if isinstance(executor, ForkedExecutor):
        assert os.getsid(pid) == pid  # a kill reaches its whole session
    else:
        assert os.getsid(pid) == os.getsid(0)  # Ctrl-C in the terminal reaches it
    assert handle.poll() is None
    handle.kill()
    assert handle.poll() is not None
    assert get(tmp_project, record.id).error == "terminated (SIGTERM)"  # kill_tree asks nicely first


def test_terminate_lets_the_run_record_itself_as_terminated(tmp_project, executor):
    marker = tmp_project.root / "started"
    record = create(tmp_project, "slow", {"seconds": 600, "marker": str(marker)})
    handle = executor.start(record, load_config(tmp_project.config))
    wait_for(marker.exists, what="the run to start")
    handle.terminate()
    assert handle.wait(30.0) == 130
    done = get(tmp_project, record.id)
    assert (done.status, done.error) == ("failed", "terminated (SIGTERM)")


def test_the_forked_executor_falls_back_through_the_seam_when_the_zygote_refuses(tmp_project):
    # A task module that starts a thread at import leaves the zygote with two threads: it refuses to fork.
    tmp_project.add_task(
        "threaded",
        "import threading, time\nfrom opskit import task\n\n"
        "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n\n"
        "@task\ndef threaded(ctx):\n    return {'ok': True}\n",
    )
    fallback = Scripted(scripts=[[7]])
    forked = ForkedExecutor(fallback=fallback)
    try:
        record = create(tmp_project, "threaded")
        handle = forked.start(record, load_config(tmp_project.config))
        assert isinstance(handle, ForkedRun) and handle.resolve(30.0)
        assert handle.pid is None and handle.fallback is fallback.handles[0]
        assert fallback.handles[0].run_id == record.id
        assert handle.poll() is None  # the fallback's run still runs
        fallback.handles[0].code = 7  # and now it has ended
        assert handle.wait(5.0) == 7 and handle.poll() == 7  # what the fallback's handle says
        assert handle.where == f"scripted {record.id} (the zygote could not fork it)"
        handle.kill()
        assert fallback.handles[0].calls[-1] == ("kill", None)
    finally:
        forked.close()
    assert fallback.closed  # closing the executor closes its fallback


def test_a_zygote_that_cannot_load_is_not_restarted_at_every_run(tmp_project):
    config = load_config(tmp_project.config)
    records = [create(tmp_project, "kitchen_sink") for _ in range(2)]
    # A task module that ends the interpreter at import: the zygote dies while loading, before it is ready.
    # (An invalid config.yaml no longer does: the zygote loads the config the executor hands it.)
    tmp_project.add_task("exits", "raise SystemExit(3)\n")
    fallback = Scripted()
    forked = ForkedExecutor(fallback=fallback)
    try:
        first = forked.start(records[0], config)
        # polling drives the handle: the zygote's death is noticed and the run goes to the fallback
        wait_for(lambda: (first.poll(), fallback.handles)[1], what="the first run to go to the fallback")
        assert [h.run_id for h in fallback.handles] == [records[0].id]
        dead = forked.zygote
        assert dead is not None and dead.gone and not dead.ready
        second = forked.start(records[1], config)
        assert second is fallback.handles[1]  # straight to the fallback: no new zygote meanwhile
        assert forked.zygote is None
    finally:
        forked.close()


def test_runner_run_and_the_scheduler_use_what_make_executor_returns(run_cli, tmp_project, monkeypatch):
    made: list[tuple[Purpose, Recording]] = []
    real = executors.make_executor

    def spy(config, *, purpose):
        made.append((purpose, Recording(real(config, purpose=purpose))))
        return made[-1][1]

    monkeypatch.setattr(executors, "make_executor", spy)
    result = run_cli("run", "nightly")
    assert result.exit_code == 0, result.stderr
    ((purpose, recording),) = made
    (run,) = RunStore(tmp_project.root / "var" / "history.sqlite").list(job="nightly")
    assert purpose is Purpose.FOREGROUND and recording.started == [run.id] and recording.closed

    scheduler = Scheduler(tmp_project.config)
    scheduler.start(datetime(2026, 11, 16, 9, 0, tzinfo=UTC), lock=False)
    try:
        purpose, recording = made[1]
        assert purpose is Purpose.SCHEDULER and scheduler.executor is recording
        assert recording.reloaded == [tmp_project.config]  # told about the config it runs under
    finally:
        scheduler.stop(datetime(2026, 11, 16, 9, 1, tzinfo=UTC))
    assert recording.closed and len(made) == 2


def test_only_make_executor_builds_executors_and_only_executors_start_processes():
    builders, spawners = [], []
    for path in sorted((REPO / "opskit").rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("ProcessExecutor", "ForkedExecutor"):
                builders.append(where)
            if name == "Popen":
                spawners.append(where)
    assert builders and set(builders) == {"opskit/engine/executors/__init__.py"}
    # the worker per run, and the zygote that forks them; and the scheduler's warm browser (not a run: a
    # Chromium the scheduler's executor keeps for its runs to connect to)
    assert sorted(spawners) == [
        "opskit/browser/warm.py",
        "opskit/engine/executors/forked.py",
        "opskit/engine/executors/process.py",
    ]


# -- a foreground attempt through the seam, with a scripted executor --


@pytest.fixture
def attempt(tmp_project):
    """A planned run, its config and history, and a way to create its row."""
    config = load_config(tmp_project.config)
    plan = plan_run(config, discover(config.tasks_dir), "nightly", scheduled_for=BERLIN_SLOT)
    with RunStore(config.history_path) as store:

        def row() -> RunRecord:
            return store.create(
                job="nightly",
                task=plan.task_label,
                params=plan.params_json(),
                trigger="manual",
                scheduled_for=plan.scheduled_for,
                folder_root=config.runs_dir,
            )

        yield config, plan, store, row


def test_a_foreground_attempt_past_its_timeout_is_recorded_timed_out_and_killed(attempt):
    config, plan, store, row = attempt
    scripted = Scripted(scripts=[[None]])  # still running when the timeout is up
    record = run_attempt(row(), config, store, scripted, timeout=timedelta(minutes=2))
    assert (record.status, record.error) == ("timed_out", "timed out after 2m; its processes were killed")
    assert scripted.handles[0].calls == [("wait", 120.0), ("kill", None)]


def test_ctrl_c_during_a_foreground_attempt_waits_the_grace_then_kills_and_records_interrupted(attempt):
    config, plan, store, row = attempt
    scripted = Scripted(scripts=[[KeyboardInterrupt(), None]])  # and it does not end within the grace
    record = row()
    with pytest.raises(KeyboardInterrupt):
        run_attempt(record, config, store, scripted, timeout=timedelta(minutes=2))
    assert scripted.handles[0].calls == [("wait", 120.0), ("wait", INTERRUPT_GRACE_S), ("kill", None)]
    assert (store.get(record.id).status, store.get(record.id).error) == ("failed", "interrupted (Ctrl-C)")


def test_a_run_that_exits_without_a_record_is_recorded_failed_with_its_exit_code(attempt):
    config, plan, store, row = attempt
    record = run_attempt(row(), config, store, Scripted(scripts=[[3]]), timeout=timedelta(minutes=2))
    assert record.status == "failed"
    assert record.error == "the run's process exited with code 3 without recording a result"


def test_execute_retries_through_the_executor_it_is_given_and_leaves_it_open(attempt):
    config, plan, store, _ = attempt
    retrying = type(plan)(**{**plan.__dict__, "retries": 2, "retry_backoff": timedelta(0)})

    def fail_retryably(record: RunRecord) -> None:  # what a worker records for a source that is down
        store.mark_running(record.id, pid=1)
        store.finish(record.id, "failed", error="SourceUnavailable: down", result={"retryable": True})

    scripted = Scripted(on_start=fail_retryably)
    final = execute(retrying, config, store, executor=scripted)
    assert [h.run_id for h in scripted.handles] == [r.id for r in reversed(store.list(job="nightly"))]
    assert len(scripted.handles) == 3 and final.attempt == 3 and final.trigger == "retry"
    assert not scripted.closed  # the caller's executor is the caller's to close
