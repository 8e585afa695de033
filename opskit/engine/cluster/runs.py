"""A worker's side of a run: take it in the history, execute it in a child process group, enforce its timeout.

The Celery task (``TASK_NAME``) gets a run id, the run's timeout and its ``retry_killed``; everything else is
in the history. The run executes exactly as on the scheduler's machine: forked by a warm zygote into a
session of its own (``ForkedExecutor``, the plain worker process when the zygote cannot), running opskit's
worker code, which records the outcome. This side only:

- takes the run (``claim_run``): a run that is not queued, or that another worker took, is left alone, so a
  message delivered twice never runs twice;
- kills the run's whole process tree when it runs past its timeout (recorded ``timed_out`` first), or when
  the history says it ended meanwhile (the scheduler timed it out or stopped it);
- fills in what a run that died without a word could not record (``record_silent_exit``);
- tells the run to die with this worker (``worker_pid``): a worker killed with ``kill -9`` leaves nothing
  running that the scheduler then retries elsewhere.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from opskit.config.model import load_config
from opskit.engine.attempts import record_silent_exit
from opskit.engine.executors import Purpose, make_executor
from opskit.engine.history import HistoryUnavailable, RunStatus, RunStore, patiently

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.executors.base import Executor

log = logging.getLogger(__name__)
_T = TypeVar("_T")

POLL_FIRST_S = 0.005
POLL_MAX_S = 0.25
"""A run's end is looked for every 5 ms at first, backing off to every 250 ms (a trivial run ends fast)."""


@dataclass
class WorkerState:
    """What the tasks of one worker process share: the config, who it is, and its warm executor."""

    config: Config
    name: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    """The worker's main process: its runs die with it (a prefork pool's children carry the main's pid)."""
    pid_started: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    """The zygote's pipe is one: starting, polling and killing runs take turns (each is milliseconds)."""
    _executor: Executor | None = None
    _executor_pid: int = 0
    _local: threading.local = field(default_factory=threading.local)
    _config_mtime: float | None = None

    def refresh_config(self) -> None:
        """Take config.yaml again when it changed (before a run: a job the scheduler learned of since must
        run with its own steps and timezone here too); an invalid file keeps the config this worker runs."""
        try:
            mtime = os.stat(self.config.path).st_mtime
        except OSError:
            return
        if self._config_mtime is None:
            self._config_mtime = mtime
            return
        if mtime == self._config_mtime:
            return
        self._config_mtime = mtime
        try:
            config = load_config(self.config.path)
        except Exception as exc:  # noqa: BLE001 - any error: keep running the config this worker has
            log.error("config.yaml changed but is not valid (%s): this worker keeps its config", exc)
            return
        if str(config.history_target) != str(self.config.history_target):
            log.warning("config.yaml moved the history: restart this worker to follow it")
            return
        self.config = config
        if self._executor is not None and self._executor_pid == os.getpid():
            self._executor.reload(config)
        log.info("config.yaml changed: this worker runs with it from now on")

    def executor(self) -> Executor:
        """This process's warm executor (a prefork pool's child makes its own on first use)."""
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = make_executor(self.config, purpose=Purpose.WORKER)
            self._executor.reload(self.config)
            self._executor_pid = os.getpid()
        return self._executor

    def store(self) -> RunStore:
        """A history connection per thread (one connection is not for concurrent transactions)."""
        store: RunStore | None = getattr(self._local, "store", None)
        if store is None or getattr(self._local, "pid", None) != os.getpid():
            store = RunStore(self.config.history_target)
            self._local.store, self._local.pid = store, os.getpid()
        return store

    def close(self) -> None:
        if self._executor is not None and self._executor_pid == os.getpid():
            self._executor.close()
        self._executor = None


_state: WorkerState | None = None


def install(state: WorkerState) -> None:
    """Make ``state`` what this process's tasks use (``runner.py worker`` calls it before consuming)."""
    global _state
    _state = state


def execute_run(run_id: str, timeout_s: float, retry_killed: bool = True) -> str:
    """The Celery task: run ``run_id`` here unless it is taken or over; returns what became of it.

    A history that cannot be reached (PostgreSQL restarting) is waited for: up to ``HISTORY_WAIT_S`` before
    the run is taken (then the message goes back to the queue for any worker), and as long as it takes
    once the run executes (its end must be recorded; its deadline is enforced meanwhile).
    """
    if _state is None:
        raise RuntimeError("the opskit worker state is not installed (start workers with runner.py worker)")
    state = _state
    store = state.store()
    tried: list[bool] = []

    def claim() -> bool:
        if tried and store.run_state(run_id) == ("queued", state.name):
            return True  # this call's claim was committed, its answer lost with the connection: it is ours
        tried.append(True)
        return store.claim_run(run_id, worker=state.name, host=state.host)

    try:
        taken = _patiently(claim, HISTORY_WAIT_S)
    except HistoryUnavailable as exc:
        from celery.exceptions import Reject  # Celery's, in the worker only

        log.error("run %s: the history cannot be reached (%s); handed back to the queue", run_id, exc)
        raise Reject(str(exc), requeue=True) from exc
    if not taken:
        log.info("run %s: not taken (%s); a second delivery does nothing", run_id, store.run_state(run_id))
        return "not-taken"
    record = _patiently(lambda: store.get(run_id))
    options = {"worker_pid": state.pid, "worker_started": state.pid_started}
    with state.lock:
        state.refresh_config()
        handle = state.executor().start(record, state.config, options=options)
    log.info("run %s (%s) started on %s: %s", run_id, record.job or record.task, state.name, handle.where)
    code = _watch(run_id, handle, state, store, timeout_s)
    _patiently(lambda: record_silent_exit(store, run_id, code, retry_killed=retry_killed))
    status = _patiently(lambda: store.run_state(run_id))
    log.info("run %s ended: %s", run_id, status[0] if status else "?")
    return status[0] if status else "?"


HISTORY_WAIT_S = 60.0
"""How long a worker waits for an unreachable history before handing a run it has not taken back."""


def _patiently(call: Callable[[], _T], seconds: float | None = None) -> _T:
    """``call()``, tried again every second while the history is unavailable (for ``seconds``, or for ever)."""
    return patiently(call, seconds, log)


def _watch(run_id: str, handle: Any, state: WorkerState, store: RunStore, timeout_s: float) -> int | None:
    """Wait for the run's end; kill its tree past ``timeout_s`` or when the history says it is over."""
    deadline = time.monotonic() + timeout_s
    interval = POLL_FIRST_S
    while True:
        with state.lock:
            code = handle.poll()
        if code is not None:
            return int(code)
        if time.monotonic() > deadline:
            try:  # recorded first, so the dying run cannot overwrite it
                store.finish(
                    run_id,
                    RunStatus.TIMED_OUT,
                    only_if_unfinished=True,
                    error=f"timed out after {_human(timeout_s)}; its processes were killed on worker {state.name}",
                )
            finally:  # killed even when the history cannot be written: the deadline holds
                log.warning("run %s timed out after %s: killing its process tree", run_id, _human(timeout_s))
                code = _kill(handle, state)
            return code
        if interval >= POLL_MAX_S:  # a run this long: ask the history whether the scheduler ended it
            try:
                current = store.run_state(run_id)
            except HistoryUnavailable:
                current = None  # asked again next round; the run goes on meanwhile
            if current is not None and RunStatus(current[0]).final:
                log.warning("run %s was ended by the scheduler (%s): killing its process tree", run_id, current[0])
                return _kill(handle, state)
        time.sleep(interval)
        interval = min(interval * 2, POLL_MAX_S)


def _kill(handle: Any, state: WorkerState) -> int | None:
    with state.lock:
        handle.kill()
        code = handle.poll()
    return int(code) if code is not None else None


def _human(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"
