"""A run in the foreground (``runner.py run``, ``backfill``): its attempts, one after another.

Each attempt is a new history row started through the executor (start, wait until the timeout, kill the
whole tree past it). A failed attempt is retried with exponential backoff when attempts are left and the
failure is worth retrying; bad data and bad parameters are not. Ctrl-C reaches the run too: it gets a
grace period to record "interrupted" itself, and the caller sees the KeyboardInterrupt (exit code 130).

The retry policy (``should_retry``, ``backoff_delay``) and the retention of run folders are shared with the
scheduler daemon, which applies them without blocking.
"""

from __future__ import annotations

import logging
import random
import signal
import time
from datetime import datetime, timedelta
from typing import Any

from opskit.config.model import Config
from opskit.delivery import pipeline
from opskit.engine import executors
from opskit.engine.executors import EXIT_UNKNOWN, Executor, Purpose
from opskit.engine.history import RunRecord, RunStatus, RunStore, Trigger
from opskit.engine.planning import PlannedRun

log = logging.getLogger(__name__)

INTERRUPT_GRACE_S = 10.0
"""After Ctrl-C, how long the run gets to record "interrupted" and remove its temporary files."""


def execute(
    plan: PlannedRun,
    config: Config,
    store: RunStore,
    *,
    trigger: Trigger = Trigger.MANUAL,
    options: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> RunRecord:
    """Run every attempt of ``plan``, deliver the outcome, and return the last attempt's record.

    Args:
        plan: The validated run.
        trigger: What the first attempt is recorded as; later ones are ``retry``.
        options: Run options for the task's context (``--headed``, ``--slowmo``).
        executor: Where the attempts run; by default what ``make_executor`` gives the foreground.

    Raises:
        KeyboardInterrupt: Ctrl-C; the attempt is recorded as failed, "interrupted (Ctrl-C)", first.
    """
    own = executor is None
    executor = executor or executors.make_executor(config, purpose=Purpose.FOREGROUND)
    try:
        attempt = 1
        while True:
            record = store.create(
                job=plan.job,
                task=plan.task_label,
                params=plan.params_json(),
                trigger=trigger if attempt == 1 else Trigger.RETRY,
                attempt=attempt,
                scheduled_for=plan.scheduled_for,
                folder_root=config.runs_dir,
            )
            record = run_attempt(
                record,
                config,
                store,
                executor,
                timeout=plan.timeout,
                options=options,
                retry_killed=plan.retry_killed,
            )
            if not should_retry(record, attempt, plan.retries):
                pipeline.after_run(config, store, record)
                prune_old_runs(config, store)
                return store.get(record.id)
            delay = backoff_delay(plan.retry_backoff, attempt)
            log.info("run %s %s; retry %d of %d in %.0fs", record.id, record.status, attempt, plan.retries, delay)
            time.sleep(delay)
            attempt += 1
    finally:
        if own:
            executor.close()


def run_attempt(
    record: RunRecord,
    config: Config,
    store: RunStore,
    executor: Executor,
    *,
    timeout: timedelta,
    options: dict[str, Any] | None = None,
    retry_killed: bool = True,
) -> RunRecord:
    """Execute one history row through ``executor`` and wait for it, within ``timeout``.

    ``retry_killed``: whether the attempt may be retried when its process is killed from outside.
    """
    handle = executor.start(record, config, options=options)
    try:
        code = handle.wait(timeout.total_seconds())
        if code is None:
            # Recorded first, so the dying worker cannot overwrite it.
            store.finish(
                record.id,
                RunStatus.TIMED_OUT,
                only_if_unfinished=True,
                error=f"timed out after {_human(timeout)}; its processes were killed",
            )
            handle.kill()
            code = handle.poll()
    except KeyboardInterrupt:
        # Ctrl-C reaches the run too (same process group): give it time to record "interrupted".
        if handle.wait(INTERRUPT_GRACE_S) is None:
            handle.kill()
        store.finish(record.id, RunStatus.FAILED, error="interrupted (Ctrl-C)", only_if_unfinished=True)
        raise
    record_silent_exit(store, record.id, code, retry_killed=retry_killed)
    return store.get(record.id)


def record_silent_exit(store: RunStore, run_id: str, code: int | None, *, retry_killed: bool = True) -> None:
    """Record what the worker could not: its process ended with ``code`` (not 0) without a word.

    A worker that recorded its outcome keeps it (``only_if_unfinished``); 0 and None change nothing.
    A process killed by a signal it did not handle (the out-of-memory killer's SIGKILL, ``kill -9``, a
    crash of the interpreter), or one whose end was seen but not its exit code (an adopted run), failed
    for a reason outside the task: it is an infrastructure failure, retried like a source that did not
    answer unless the job says ``retry_killed: false``. A worker that exited with a code of its own
    (it could not read the history, say) is not retried.
    """
    if code in (0, None):
        return
    if code == EXIT_UNKNOWN:
        error, killed = "the run's process ended without recording a result (how it ended is unknown)", True
    elif code < 0:
        error, killed = f"the run's process was killed by {_signal_name(-code)} before it recorded a result", True
    else:
        error, killed = f"the run's process exited with code {code} without recording a result", False
    result = {"retryable": retry_killed, "error_type": "WorkerKilled"} if killed else None
    store.finish(run_id, RunStatus.FAILED, only_if_unfinished=True, error=error, result=result)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def should_retry(record: RunRecord, attempt: int, retries: int) -> bool:
    """Whether a finished attempt earns another: it failed for a reason worth retrying, attempts left."""
    if record.status in (RunStatus.SUCCEEDED, RunStatus.ABANDONED, RunStatus.SKIPPED):
        return False
    if (record.error or "").startswith(("interrupted", "terminated")):
        return False
    retryable = (record.result or {}).get("retryable", record.status == RunStatus.TIMED_OUT)
    return bool(retryable) and attempt <= retries


def backoff_delay(base: timedelta, attempt: int) -> float:
    """Exponential backoff with full jitter: base·2^(attempt-1), scaled by a random factor in [0.5, 1]."""
    return base.total_seconds() * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def prune_old_runs(config: Config, store: RunStore, now: datetime | None = None) -> None:
    """Delete run folders older than ``retention.run_folders``; the history rows stay."""
    for folder in store.prune_run_folders(config.settings.retention.run_folders, now=now):
        log.info("deleted run folder %s (older than retention.run_folders)", folder.name)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"
