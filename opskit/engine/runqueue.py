"""The scheduler's runs in hand: queued, running on the executor, and retries waiting for their backoff.

The daemon (daemon.py) decides which runs exist: a slot fires, is caught up or skipped. This queue decides
when each one starts (``max_concurrent_runs``, a job never running twice at once, its jitter), watches the
ones that run (timeout, overrun, a start that waits too long), and when one ends either schedules its retry
or hands it to delivery (``deliver``: the courier's thread, never the loop). Runs adopted from a scheduler
that died are watched the same way (``adopt``). Like the daemon it never reads the clock: every method
takes ``now``.

A history that cannot be written (locked, disk full) raises ``HistoryUnavailable`` out of any method; each
leaves the queue as it was before the write that failed, so the next tick does the same work again.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opskit.config.model import Config
from opskit.engine.attempts import backoff_delay, record_silent_exit, should_retry
from opskit.engine.executors import Executor, RunHandle
from opskit.engine.history import DELIVERABLE, HistoryUnavailable, RunRecord, RunStatus, RunStore, Trigger
from opskit.engine.planning import PlannedRun

log = logging.getLogger(__name__)

OVERRUN_AFTER_S = 60.0
"""A run is compared with its usual duration only once it has run this long (shorter ones never matter)."""


@dataclass
class Running:
    """A run handed to the executor (or adopted from a scheduler that died)."""

    record: RunRecord
    handle: RunHandle
    plan: PlannedRun | None
    """None for an adopted run that cannot be planned again (it is never retried)."""
    started: datetime
    usual_s: float | None
    timeout: timedelta
    overrun_alerted: bool = False
    timed_out: bool = False
    """Past its deadline and killed; recorded ``timed_out`` (again, if the first write failed) once reaped."""


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
        deliver: Called with the id of a run that ended and earns no retry: its delivery is due.
        on_dispatch: Called with each run handed to the executor (benchmarks measure with it).
    """

    store: RunStore
    executor: Executor
    config: Config
    alert: Callable[[str | None, str], None]
    deliver: Callable[[str], None]
    """Hands a run that ended to delivery (the courier's thread): called with its id."""
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

    def adopt(self, record: RunRecord, handle: RunHandle, plan: PlannedRun | None, timeout: timedelta) -> None:
        """Watch a run another scheduler started: busy for its job, its deadline counted from its start."""
        started = record.started_at or record.queued_at
        self.running[record.id] = Running(record, handle, plan, started, None, timeout)
        self._busy[record.job or ""] += 1
        if record.job:
            self._running_jobs.add(record.job)

    def busy(self, job: str) -> bool:
        """Whether a run of ``job`` is queued or running."""
        return bool(self._busy[job])

    def blocking_run(self, job: str) -> str | None:
        """The run in hand that makes a new slot of ``job`` an overlap, or None.

        Runs caught up after downtime (``catch_up: all``) are a backlog, not an overlap: a slot that comes
        due behind them queues after them instead of being skipped.
        """
        if not self._busy[job]:
            return None
        in_hand = [r.record for r in self.running.values()] + [q.record for q in self.queue]
        return next((r.id for r in in_hand if r.job == job and r.trigger != Trigger.CATCH_UP), None)

    def queue_due_retries(self, now: datetime) -> None:
        for retry in [r for r in self.retries if r.due <= now]:
            self.enqueue(retry.plan, Trigger.RETRY, now, attempt=retry.attempt)
            self.retries.remove(retry)  # only once its row exists: a failed write keeps the retry

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
            handle = self.executor.start(queued.record, self.config, plan=queued.plan)
            self.queue.remove(queued)
            self.running[queued.record.id] = Running(queued.record, handle, queued.plan, now, None, queued.plan.timeout)
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
                begun = running.handle.deadline_start(running.started)  # None: it waits on a remote queue
                if running.timed_out or begun is None or now - begun <= running.timeout:
                    continue
                running.timed_out = True
                try:  # recorded first, so the dying worker cannot overwrite it
                    self._record_timeout(run_id, running)
                finally:  # killed even when the history cannot be written: the deadline holds
                    running.handle.kill()
                    log.warning("run %s timed out after %s: killed (%s)", run_id, running.timeout, running.handle.where)
                code = running.handle.poll()
                if code is None:
                    continue  # its end is reported later
            if running.timed_out:
                self._record_timeout(run_id, running)
            retry_killed = running.plan.retry_killed if running.plan is not None else False
            record_silent_exit(self.store, run_id, code, retry_killed=retry_killed)
            # Let go of it only once its end is recorded and handed on: a write that fails leaves it here,
            # and the next round does the same again (each step is idempotent).
            self.finished(self.store.get(run_id), running.plan, now)
            del self.running[run_id]
            self._release(running.record.job)

    def _record_timeout(self, run_id: str, running: Running) -> None:
        self.store.finish(
            run_id,
            RunStatus.TIMED_OUT,
            only_if_unfinished=True,
            error=f"timed out after {running.timeout}; its processes were killed",
        )

    def finished(self, record: RunRecord, plan: PlannedRun | None, now: datetime) -> None:
        """A run ended: schedule its retry when it earns one, else hand it to delivery.

        ``plan`` is None for a run found abandoned, or adopted and not planned again (never retried).
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
            # Said in the history, so that nobody delivers this attempt's failure: the last attempt speaks.
            self.store.record_delivery(
                record.id, {"action": "retried", "outcome": "failure", "next_attempt": record.attempt + 1}
            )
            self.retries.append(Retry(now + timedelta(seconds=delay), plan, record.attempt + 1))
            log.info("%s: retry %d of %d in %.0fs", name, record.attempt, plan.retries, delay)
            return
        if record.job is not None and record.status in DELIVERABLE:
            self.deliver(record.id)

    def stop_all(self, *, leave_remote: bool = False) -> None:
        """Terminate every running run (all of them first, so they end together), kill, and record them.

        A run still waiting on a remote queue (no worker has started it) is left queued there, as a local
        queued run is: a worker may take it, and the next scheduler re-sends or adopts and delivers it.
        ``leave_remote``: runs on other machines' workers are left running too (this scheduler lost the lead:
        the runs are healthy, their workers enforce their timeouts, and the new leader delivers them).
        """
        for run_id, running in list(self.running.items()):
            try:
                waiting = (leave_remote and running.handle.remote) or running.handle.deadline_start(
                    running.started
                ) is None
            except HistoryUnavailable:
                waiting = leave_remote and running.handle.remote
            if waiting:
                del self.running[run_id]
                self._release(running.record.job)
                log.info("run %s stays queued (%s): the next scheduler sees to it", run_id, running.handle.where)
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
            if running.record.job:  # its alert, if the courier still has time; else at the next start
                self.deliver(run_id)

    def save(self) -> tuple[collections.deque[Queued], collections.Counter[str], list[Retry]]:
        """The queue's state, to put back with ``restore`` when a transaction that added to it failed."""
        return collections.deque(self.queue), collections.Counter(self._busy), list(self.retries)

    def restore(self, saved: tuple[collections.deque[Queued], collections.Counter[str], list[Retry]]) -> None:
        self.queue, self._busy, self.retries = collections.deque(saved[0]), collections.Counter(saved[1]), saved[2]

    def _release(self, job: str | None) -> None:
        self._busy[job or ""] -= 1
        self._running_jobs.discard(job or "")

    # -- watching for silence --

    def watch(self, now: datetime) -> None:
        """Alert on a run far past its usual duration, and on a queued run that waits too long to start."""
        settings = self.config.settings.scheduler
        for running in self.running.values():
            if running.handle.deadline_start(running.started) is None:  # still waiting on a remote queue
                waited = now - running.started
                if not running.overrun_alerted and waited > settings.start_deadline:
                    running.overrun_alerted = True
                    self.alert(
                        running.record.job,
                        f"run {running.record.id} has waited {waited} for a worker to take it ({running.handle.where})",
                    )
                continue
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
