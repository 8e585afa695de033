"""The scheduler's runs in hand: queued, running on the executor, and retries waiting for their backoff.

The daemon (daemon.py) decides which runs exist: a slot fires, is caught up or skipped. This queue decides
when each one starts (``max_concurrent_runs``, a job never running twice at once, its jitter), watches the
ones that run (timeout, overrun, a start that waits too long), and when one ends either schedules its retry
or hands it to delivery. Like the daemon it never reads the clock: every method takes ``now``.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opskit.config.model import Config
from opskit.delivery import pipeline
from opskit.engine.attempts import backoff_delay, record_silent_exit, should_retry
from opskit.engine.executors import Executor, RunHandle
from opskit.engine.history import RunRecord, RunStatus, RunStore, Trigger
from opskit.engine.planning import PlannedRun

log = logging.getLogger(__name__)

OVERRUN_AFTER_S = 60.0
"""A run is compared with its usual duration only once it has run this long (shorter ones never matter)."""


@dataclass
class Running:
    """A run handed to the executor."""

    record: RunRecord
    handle: RunHandle
    plan: PlannedRun
    started: datetime
    usual_s: float | None
    overrun_alerted: bool = False


@dataclass
class Queued:
    """A run recorded as queued, waiting for a place, its jitter, or the previous run of its job."""

    record: RunRecord
    plan: PlannedRun
    not_before: datetime
    late_alerted: bool = False


@dataclass
class Retry:
    """A failed run's next attempt, due after its backoff."""

    due: datetime
    plan: PlannedRun
    attempt: int


@dataclass
class RunQueue:
    """Starts, watches and reaps the scheduler's runs.

    Args:
        store: The run history.
        executor: Where runs execute.
        config: The config in force (the scheduler replaces it on a reload).
        alert: Called with (job, text) when a run overruns or waits too long to start.
        on_dispatch: Called with each run handed to the executor (benchmarks measure with it).
    """

    store: RunStore
    executor: Executor
    config: Config
    alert: Callable[[str | None, str], None]
    on_dispatch: Callable[[RunRecord, datetime], None] | None = None
    queue: collections.deque[Queued] = field(default_factory=collections.deque)
    running: dict[str, Running] = field(default_factory=dict)
    retries: list[Retry] = field(default_factory=list)
    _busy: collections.Counter[str] = field(default_factory=collections.Counter)
    """Runs of each job queued or running."""
    _running_jobs: set[str] = field(default_factory=set)

    # -- adding runs --

    def enqueue(
        self, plan: PlannedRun, trigger: Trigger, now: datetime, *, attempt: int = 1, not_before: datetime | None = None
    ) -> None:
        """Record a new run of ``plan`` as queued and queue it."""
        record = self.store.create(
            job=plan.job,
            task=plan.task_label,
            params=plan.params_json(),
            trigger=trigger,
            attempt=attempt,
            scheduled_for=plan.scheduled_for,
            folder_root=self.config.runs_dir,
            now=now,
        )
        self.add(record, plan, not_before or now)
        log.info(
            "%s: run %s queued for slot %s (%s)",
            plan.name,
            record.id,
            plan.scheduled_for.isoformat(timespec="minutes"),
            trigger,
        )

    def add(self, record: RunRecord, plan: PlannedRun, not_before: datetime) -> None:
        """Queue a run whose row is already in the history (prepared ahead, or left by a previous scheduler)."""
        self.queue.append(Queued(record, plan, not_before))
        self._busy[plan.job or ""] += 1

    def busy(self, job: str) -> bool:
        """Whether a run of ``job`` is queued or running."""
        return bool(self._busy[job])

    def busy_run(self, job: str) -> str:
        """The id of the run of ``job`` in hand (for "the previous run (...) was still going")."""
        return next(
            iter(
                [r.record.id for r in self.running.values() if r.record.job == job]
                + [q.record.id for q in self.queue if q.record.job == job]
            ),
            "?",
        )

    def queue_due_retries(self, now: datetime) -> None:
        for retry in [r for r in self.retries if r.due <= now]:
            self.retries.remove(retry)
            self.enqueue(retry.plan, Trigger.RETRY, now, attempt=retry.attempt)

    def wake_times(self) -> list[datetime]:
        """When a retry or a queued run becomes due (the loop sleeps no longer than the first)."""
        return [r.due for r in self.retries] + [q.not_before for q in self.queue]

    # -- starting and reaping runs --

    def dispatch(self, now: datetime, stopping: threading.Event) -> None:
        """Hand the queued runs that may start to the executor, in order, while places are free."""
        limit = self.config.settings.scheduler.max_concurrent_runs
        for queued in list(self.queue):
            if len(self.running) >= limit or stopping.is_set():
                return
            if queued.not_before > now:
                continue
            job = queued.record.job
            if job and job in self._running_jobs:
                continue  # overlap: queue waits for the previous run of the same job
            self.queue.remove(queued)
            handle = self.executor.start(queued.record, self.config)
            self.running[queued.record.id] = Running(queued.record, handle, queued.plan, now, None)
            if job:
                self._running_jobs.add(job)
            if self.on_dispatch:
                self.on_dispatch(queued.record, now)
            log.info(
                "%s: run %s started on %s (%d running)",
                queued.plan.name,
                queued.record.id,
                handle.where,
                len(self.running),
            )

    def reap(self, now: datetime) -> None:
        """Collect the runs that ended, kill those past their timeout, and finish both."""
        for run_id, running in list(self.running.items()):
            code = running.handle.poll()
            if code is None:
                if now - running.started > running.plan.timeout:
                    self.store.finish(
                        run_id,
                        RunStatus.TIMED_OUT,
                        only_if_unfinished=True,
                        error=f"timed out after {running.plan.timeout}; its processes were killed",
                    )
                    running.handle.kill()
                    log.warning(
                        "run %s timed out after %s: killed (%s)", run_id, running.plan.timeout, running.handle.where
                    )
                else:
                    continue
            else:
                record_silent_exit(self.store, run_id, code)
            del self.running[run_id]
            self._release(running.record.job)
            self.finished(self.store.get(run_id), running.plan, now)

    def finished(self, record: RunRecord, plan: PlannedRun | None, now: datetime) -> None:
        """A run ended: schedule its retry when it earns one, else hand it to delivery.

        ``plan`` is None for a run found abandoned at start-up (it is never retried).
        """
        name = record.job or record.task
        log.info(
            "%s: run %s %s%s",
            name,
            record.id,
            record.status,
            f" in {record.duration_s:.1f}s" if record.duration_s is not None else "",
        )
        if plan is not None and should_retry(record, record.attempt, plan.retries):
            delay = backoff_delay(plan.retry_backoff, record.attempt)
            self.retries.append(Retry(now + timedelta(seconds=delay), plan, record.attempt + 1))
            log.info("%s: retry %d of %d in %.0fs", name, record.attempt, plan.retries, delay)
            return
        try:
            pipeline.after_run(self.config, self.store, record)
        except Exception:  # delivery must never take the scheduler down
            log.exception("%s: delivery after run %s failed", name, record.id)

    def stop_all(self) -> None:
        """Terminate every running run (all of them first, so they end together), kill, and record them."""
        for running in list(self.running.values()):
            running.handle.terminate()
        for run_id, running in list(self.running.items()):
            running.handle.kill()
            self.store.finish(
                run_id,
                RunStatus.FAILED,
                only_if_unfinished=True,
                error="terminated: the scheduler shut down before the run ended",
            )
            log.warning("run %s terminated by shutdown", run_id)
            del self.running[run_id]
            self._release(running.record.job)

    def _release(self, job: str | None) -> None:
        self._busy[job or ""] -= 1
        self._running_jobs.discard(job or "")

    # -- watching for silence --

    def watch(self, now: datetime) -> None:
        """Alert on a run far past its usual duration, and on a queued run that waits too long to start."""
        settings = self.config.settings.scheduler
        for running in self.running.values():
            elapsed = (now - running.started).total_seconds()
            if elapsed < OVERRUN_AFTER_S or running.overrun_alerted or not running.record.job:
                continue
            if running.usual_s is None:  # looked up once the run is long enough to matter
                running.usual_s = self.store.usual_duration(running.record.job) or 0.0
            usual = running.usual_s
            if usual and elapsed > usual * settings.overrun_factor:
                running.overrun_alerted = True
                self.alert(
                    running.record.job,
                    f"run {running.record.id} has run {elapsed:.0f}s, {elapsed / usual:.1f}x its usual {usual:.0f}s",
                )
        for queued in self.queue:
            waited = now - max(queued.not_before, queued.record.queued_at)
            if not queued.late_alerted and waited > settings.start_deadline:
                queued.late_alerted = True
                self.alert(
                    queued.record.job,
                    f"run {queued.record.id} has waited {waited} to start "
                    f"(max_concurrent_runs {settings.max_concurrent_runs} busy)",
                )
