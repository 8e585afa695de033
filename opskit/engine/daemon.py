"""The scheduler daemon (``runner.py schedule``): fires jobs on their timetables and never loses a slot.

It runs in the foreground (systemd, a container, tmux) and logs each decision. Each run executes in its own
process through the executor (by default the pre-forked one that ``make_executor`` gives the scheduler),
so a task that crashes, hangs or eats memory cannot take the daemon down. Only the outermost loop
(``run_forever``) reads the real clock; ``tick(now)`` does one round of work at a given instant, which is
how the tests drive it with a fake clock.
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import random
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opskit.config.model import Config, check_config
from opskit.delivery import pipeline
from opskit.delivery.chat import post_alert
from opskit.engine import executors
from opskit.engine.attempts import backoff_delay, prune_old_runs, record_silent_exit, should_retry
from opskit.engine.checks import validate_all
from opskit.engine.executors import Executor, Purpose, RunHandle
from opskit.engine.history import RunRecord, RunStatus, RunStore, Trigger
from opskit.engine.planning import PlannedRun, plan_run
from opskit.engine.scheduling import ON_TIME, SlotDecision, decide_slots, job_timetable
from opskit.engine.timetable import Timetable
from opskit.errors import OpskitError, UsageError
from opskit.tasks import Registry, discover

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)
PRUNE_EVERY = timedelta(hours=1)
BUSY_LIMIT = timedelta(minutes=10)
"""A loop that stalled at most this long was busy (its slots run late); longer, it was not running."""
MAIL_EVERY = timedelta(minutes=5)
CONFIG_CHECK_EVERY = timedelta(seconds=2)
POLL_WHILE_RUNNING = 0.1
PREPARE_AHEAD = timedelta(seconds=3)
"""A slot's run is planned (parameters resolved) and written to the history as ``queued`` this long before
its time, so that firing it is only handing it to the executor: a thousand jobs due in the same minute
start within milliseconds of it. A run prepared but not started by a stop or a reload is deleted."""
MAX_IDLE_SLEEP = 1.0


@dataclass
class _Running:
    record: RunRecord
    handle: RunHandle
    plan: PlannedRun
    started: datetime
    usual_s: float | None
    overrun_alerted: bool = False


@dataclass
class _Queued:
    record: RunRecord
    plan: PlannedRun
    not_before: datetime
    late_alerted: bool = False


@dataclass
class _Retry:
    due: datetime
    plan: PlannedRun
    attempt: int


class SchedulerLock:
    """One scheduler per history database: an exclusive lock on ``<var>/scheduler.lock`` holding our pid."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UsageError(
                f"another scheduler (pid {other}) is already running on this history "
                f"({self.path.parent / 'history.sqlite'})",
                hint="Stop it first, or give this one its own paths.var",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass
class Scheduler:
    """Fires the jobs of one config on their timetables. Drive it with ``tick(now)`` or ``run_forever``.

    Args:
        config_path: The config.yaml to load (and reload when it changes).
        executor: Where runs execute; by default ``start`` asks ``make_executor`` for the scheduler's.
        on_dispatch: Called with each run handed to the executor (benchmarks measure with it).
    """

    config_path: Path
    executor: Executor | None = None
    on_dispatch: Callable[[RunRecord, datetime], None] | None = None
    config: Config = field(init=False)
    store: RunStore = field(init=False)
    registry: Registry = field(init=False)
    timetables: dict[str, Timetable] = field(init=False, default_factory=dict)
    next_due: dict[str, datetime] = field(init=False, default_factory=dict)
    last_slots: dict[str, datetime | None] = field(init=False, default_factory=dict)
    prepared: dict[str, tuple[datetime, PlannedRun, RunRecord]] = field(init=False, default_factory=dict)
    _alerts: list[tuple[str | None, str]] = field(init=False, default_factory=list)
    _paused_jobs: set[str] = field(init=False, default_factory=set)
    _busy: collections.Counter[str] = field(init=False, default_factory=collections.Counter)
    _running_jobs: set[str] = field(init=False, default_factory=set)
    running: dict[str, _Running] = field(init=False, default_factory=dict)
    queue: collections.deque[_Queued] = field(init=False, default_factory=collections.deque)
    retries: list[_Retry] = field(init=False, default_factory=list)
    stopping: threading.Event = field(init=False, default_factory=threading.Event)
    _config_mtime: float = field(init=False, default=0.0)
    _last_config_check: datetime | None = field(init=False, default=None)
    _last_heartbeat: datetime | None = field(init=False, default=None)
    _last_mail: datetime | None = field(init=False, default=None)
    _last_prune: datetime | None = field(init=False, default=None)
    _applied: bool = field(init=False, default=False)
    _last_tick: datetime | None = field(init=False, default=None)
    _started_at: datetime | None = field(init=False, default=None)
    _lock: SchedulerLock | None = field(init=False, default=None)

    @property
    def _executor(self) -> Executor:
        if self.executor is None:  # chosen in start(), once the config is loaded
            raise RuntimeError("the scheduler has not started")
        return self.executor

    # -- life cycle --

    def start(self, now: datetime, *, lock: bool = True) -> None:
        """Load and check the config, take the lock, recover from a previous crash."""
        self.config = self._load_or_raise()
        self._config_mtime = self.config_path.stat().st_mtime
        if lock:
            self._lock = SchedulerLock(self.config.var_dir / "scheduler.lock")
            self._lock.acquire()
        self.store = RunStore(self.config.history_path)
        if self.executor is None:
            self.executor = executors.make_executor(self.config, purpose=Purpose.SCHEDULER)
        abandoned = self.store.mark_dead_runs_abandoned(now=now)
        for run_id in abandoned:
            log.warning("run %s was running when its process died: marked abandoned", run_id)
        self._started_at = now
        leftovers = self.store.by_status(RunStatus.QUEUED)
        # Runs prepared ahead of a slot that never came while we were up: their slot goes through the
        # catch-up rules like any missed slot, so the prepared rows go.
        # A prepared row whose slot already fired (the job's remembered slot reached it) is a real
        # queued run waiting for a place or its jitter: it starts again like any queued run.
        early = [
            r
            for r in leftovers
            if r.trigger == Trigger.SCHEDULE
            and r.queued_at < r.scheduled_for
            and not self._slot_fired(r.job, r.scheduled_for)
        ]
        self.store.discard_unstarted([r.id for r in early])
        self._apply(self.config, now)
        for record in leftovers:  # left queued by a previous daemon: they start again
            if record not in early:
                self._requeue(record, now)
        for run_id in abandoned:  # their owners hear of it, as of any failed run
            self._finished(self.store.get(run_id), None, now)
        self.heartbeat(now)
        log.info(
            "scheduler started (pid %d): %d job(s) scheduled, max %d concurrent run(s)",
            os.getpid(),
            len(self.timetables),
            self.config.settings.scheduler.max_concurrent_runs,
        )

    def _slot_fired(self, job: str | None, slot: datetime) -> bool:
        remembered = _parse(self.store.job_state(job).get("last_slot")) if job else None
        return remembered is not None and slot <= remembered

    def stop(self, now: datetime) -> None:
        """Terminate what still runs, record it, and release the lock."""
        self._discard_prepared()
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
        self._executor.close()
        self.store.scheduler_stopped(now=now)
        self.store.close()
        if self._lock:
            self._lock.release()
        log.info("scheduler stopped")

    def run_forever(self, *, clock: Callable[[], datetime] | None = None) -> None:
        """The loop: tick, then sleep until something is due. SIGTERM/SIGINT stop it gracefully."""
        clock = clock or (lambda: datetime.now(UTC))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        self.start(clock())
        try:
            while not self.stopping.is_set():
                now = clock()
                self.tick(now)
                self.stopping.wait(self.sleep_seconds(clock()))
            self._drain(clock)
        finally:
            self.stop(clock())

    def _drain(self, clock: Callable[[], datetime]) -> None:
        """After a stop signal: start nothing new, give running runs the grace period to finish."""
        grace = self.config.settings.scheduler.shutdown_grace
        deadline = clock() + grace
        if self.running:
            log.info("stopping: waiting up to %s for %d running run(s)", grace, len(self.running))
        while self.running and clock() < deadline:
            self._reap(clock())
            threading.Event().wait(POLL_WHILE_RUNNING)

    # -- one round --

    def tick(self, now: datetime) -> None:
        """Do everything due at ``now``: fire slots, start queued runs, reap finished ones, keep watch."""
        self._maybe_reload(now)
        due = [name for name, at in self.next_due.items() if at <= now]
        if due:
            fired: dict[str, datetime] = {}
            with self.store.transaction():  # one commit for every slot due now
                for name in due:
                    last = self._fire(name, now)
                    if last is not None:
                        fired[name] = last
                if fired:
                    self.store.set_last_slots(fired)
        for retry in [r for r in self.retries if r.due <= now]:
            self.retries.remove(retry)
            self._enqueue(retry.plan, Trigger.RETRY, now, attempt=retry.attempt)
        self._reap(now)
        self._dispatch(now)
        for name in due:  # slots fired on the fast path learn their following slot now
            if self.next_due[name] <= now:
                self.next_due[name] = self._next_due(name, now)
        self._prepare(now)
        self._watch(now)
        if self._last_heartbeat is None or now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self.heartbeat(now)
        if self._last_mail is None or now - self._last_mail >= MAIL_EVERY:
            self._send_mail(now)
        if self._alerts:
            self._post_alerts()
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            prune_old_runs(self.config, self.store, now)
        self._last_tick = now

    def sleep_seconds(self, now: datetime) -> float:
        """How long the loop may sleep: until the next slot, retry or queued start, at most a second."""
        if self.running:
            return POLL_WHILE_RUNNING
        wake = [d for d in self.next_due.values() if d is not None]
        wake += [r.due for r in self.retries] + [q.not_before for q in self.queue]
        if not wake:
            return MAX_IDLE_SLEEP
        return max(0.0, min(MAX_IDLE_SLEEP, (min(wake) - now).total_seconds()))

    def heartbeat(self, now: datetime) -> None:
        self.store.heartbeat(pid=os.getpid(), config=str(self.config.path), started_at=self._started_at or now, now=now)
        self._last_heartbeat = now

    # -- firing slots --

    def _fire(self, name: str, now: datetime) -> datetime | None:
        """Handle every slot of ``name`` due by ``now``; returns the last slot handled."""
        job = self.config.jobs[name]
        paused = name in self._paused_jobs
        timetable = self.timetables[name]
        handled, fast = None, False
        slot = self.next_due[name]
        if now - slot < ON_TIME:
            # The common case: exactly one slot, on time (slots are at least a minute apart). Its
            # following slot is worked out after the runs are handed over (see tick), not before.
            decisions, fast = [SlotDecision(name, slot, Trigger.SCHEDULE)], True
        else:
            # Slots that came due while the loop was merely busy (a slow mail server) are late, not
            # missed; after a longer silence (the machine slept) the catch-up rules decide.
            busy = self._last_tick is not None and now - self._last_tick <= BUSY_LIMIT
            decisions = decide_slots(
                name,
                job,
                timetable,
                last_slot=self.last_slots.get(name),
                now=now,
                up_since=self._last_tick if busy else None,
            )
        for decision in decisions:
            handled = decision.slot
            if not fast and self.store.has_slot(name, decision.slot):  # after downtime: check
                log.info("%s: slot %s already handled; not again", name, _local(decision.slot))
            elif fast and name in self.prepared and self.prepared[name][0] == decision.slot:
                self._fire_prepared(name, job, paused, now)
            elif paused:
                self._skip(name, decision.slot, decision.trigger, "the job is paused (runner.py resume)", now)
            elif decision.skip:
                self._skip(name, decision.slot, decision.trigger, decision.skip, now)
                self._alert(name, f"slot {_local(decision.slot)} was skipped: {decision.skip}")
            else:
                self._plan_and_enqueue(name, decision.slot, decision.trigger, now)
        if handled is not None:
            self.last_slots[name] = handled
        if not fast:
            self.next_due[name] = self._next_due(name, now)
        return handled

    def _refresh_paused(self) -> None:
        """`runner.py pause` writes the history; the scheduler reads it every few seconds."""
        self._paused_jobs = {name for name in self.timetables if self.store.job_state(name).get("paused")}

    def _prepare(self, now: datetime) -> None:
        """Plan and record, as ``queued``, the runs of slots due within PREPARE_AHEAD."""
        todo = [
            (name, at)
            for name, at in self.next_due.items()
            if at - now <= PREPARE_AHEAD and at > now and self.prepared.get(name, (None,))[0] != at
        ]
        if not todo:
            return
        with self.store.transaction():
            for name, at in todo:
                self._discard_prepared(name)
                try:
                    plan = plan_run(self.config, self.registry, name, scheduled_for=at)
                except OpskitError:
                    continue  # planned again when the slot fires, which records the error
                record = self.store.create(
                    job=name,
                    task=plan.task_label,
                    params=plan.params_json(),
                    trigger=Trigger.SCHEDULE,
                    scheduled_for=at,
                    folder_root=self.config.runs_dir,
                    now=now,
                )
                self.prepared[name] = (at, plan, record)

    def _fire_prepared(self, name: str, job: Any, paused: bool, now: datetime) -> None:
        slot, plan, record = self.prepared.pop(name)
        busy = self._busy[name] and job.overlap == "skip"
        if paused or busy:
            reason = (
                "the job is paused (runner.py resume)"
                if paused
                else f"the previous run ({self._busy_run(name)}) was still going (overlap: skip)"
            )
            self.store.finish(record.id, RunStatus.SKIPPED, error=reason, now=now)
            log.info("%s: slot %s skipped: %s (%s)", name, _local(slot), reason, record.id)
            return
        jitter = job.jitter.total_seconds() * random.random()
        self.queue.append(_Queued(record, plan, slot + timedelta(seconds=jitter)))
        self._busy[name] += 1

    def _discard_prepared(self, name: str | None = None) -> None:
        names = [name] if name else list(self.prepared)
        dropped = [self.prepared.pop(n)[2].id for n in names if n in self.prepared]
        if dropped:
            self.store.discard_unstarted(dropped)

    def _busy_run(self, name: str) -> str:
        return next(
            iter(
                [r.record.id for r in self.running.values() if r.record.job == name]
                + [q.record.id for q in self.queue if q.record.job == name]
            ),
            "?",
        )

    def _plan_and_enqueue(self, name: str, slot: datetime, trigger: Trigger, now: datetime) -> None:
        job = self.config.jobs[name]
        # Caught-up slots (catch_up: all) queue behind each other: they are one backlog, not overlaps.
        if self._busy[name] and job.overlap == "skip" and trigger != Trigger.CATCH_UP:
            self._skip(
                name, slot, trigger, f"the previous run ({self._busy_run(name)}) was still going (overlap: skip)", now
            )
            return
        self._discard_prepared(name)  # a slot handled the slow way (after downtime) is planned afresh
        try:
            plan = plan_run(self.config, self.registry, name, scheduled_for=slot)
        except OpskitError as exc:
            self.store.create(
                job=name,
                task=job.task_label,
                params={},
                trigger=trigger,
                scheduled_for=slot,
                folder_root=self.config.runs_dir,
                status=RunStatus.FAILED,
                error=str(exc),
                now=now,
            )
            log.error("%s: slot %s cannot run: %s", name, _local(slot), exc)
            return
        jitter = job.jitter.total_seconds() * random.random()
        self._enqueue(plan, trigger, now, not_before=slot + timedelta(seconds=jitter))

    def _enqueue(
        self, plan: PlannedRun, trigger: Trigger, now: datetime, *, attempt: int = 1, not_before: datetime | None = None
    ) -> None:
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
        self.queue.append(_Queued(record, plan, not_before or now))
        self._busy[plan.job or ""] += 1
        log.info("%s: run %s queued for slot %s (%s)", plan.name, record.id, _local(plan.scheduled_for), trigger)

    def _requeue(self, record: RunRecord, now: datetime) -> None:
        """A run left queued by a previous scheduler starts again (same row: never a second run)."""
        try:
            plan = plan_run(self.config, self.registry, record.job or record.task, scheduled_for=record.scheduled_for)
        except OpskitError as exc:
            self.store.finish(record.id, RunStatus.FAILED, error=f"could not be started: {exc}")
            return
        self.queue.append(_Queued(record, plan, now))
        self._busy[plan.job or ""] += 1
        log.info("run %s was still queued from the previous scheduler: queued again", record.id)

    def _skip(self, name: str, slot: datetime, trigger: Trigger, reason: str, now: datetime) -> None:
        job = self.config.jobs[name]
        record = self.store.create(
            job=name,
            task=job.task_label,
            params={},
            trigger=trigger,
            scheduled_for=slot,
            folder_root=self.config.runs_dir,
            status=RunStatus.SKIPPED,
            error=reason,
            now=now,
        )
        log.info("%s: slot %s skipped: %s (%s)", name, _local(slot), reason, record.id)

    # -- starting and reaping runs --

    def _dispatch(self, now: datetime) -> None:
        limit = self.config.settings.scheduler.max_concurrent_runs
        for queued in list(self.queue):
            if len(self.running) >= limit or self.stopping.is_set():
                return
            if queued.not_before > now:
                continue
            job = queued.record.job
            if job and job in self._running_jobs:
                continue  # overlap: queue waits for the previous run of the same job
            self.queue.remove(queued)
            handle = self._executor.start(queued.record, self.config)
            self.running[queued.record.id] = _Running(queued.record, handle, queued.plan, now, None)
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

    def _reap(self, now: datetime) -> None:
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
            self._finished(self.store.get(run_id), running.plan, now)

    def _release(self, job: str | None) -> None:
        self._busy[job or ""] -= 1
        self._running_jobs.discard(job or "")

    def _finished(self, record: RunRecord, plan: PlannedRun | None, now: datetime) -> None:
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
            self.retries.append(_Retry(now + timedelta(seconds=delay), plan, record.attempt + 1))
            log.info("%s: retry %d of %d in %.0fs", name, record.attempt, plan.retries, delay)
            return
        try:
            pipeline.after_run(self.config, self.store, record)
        except Exception:  # delivery must never take the scheduler down
            log.exception("%s: delivery after run %s failed", name, record.id)

    # -- watching for silence --

    def _watch(self, now: datetime) -> None:
        settings = self.config.settings.scheduler
        for running in self.running.values():
            elapsed = (now - running.started).total_seconds()
            if elapsed < 60.0 or running.overrun_alerted or not running.record.job:
                continue
            if running.usual_s is None:  # looked up once the run is long enough to matter
                running.usual_s = self.store.usual_duration(running.record.job) or 0.0
            usual = running.usual_s
            if usual and elapsed > usual * settings.overrun_factor:
                running.overrun_alerted = True
                self._alert(
                    running.record.job,
                    f"run {running.record.id} has run {elapsed:.0f}s, {elapsed / usual:.1f}x its usual {usual:.0f}s",
                )
        for queued in self.queue:
            waited = now - max(queued.not_before, queued.record.queued_at)
            if not queued.late_alerted and waited > settings.start_deadline:
                queued.late_alerted = True
                self._alert(
                    queued.record.job,
                    f"run {queued.record.id} has waited {waited} to start "
                    f"(max_concurrent_runs {settings.max_concurrent_runs} busy)",
                )

    def _alert(self, job: str | None, text: str) -> None:
        """Log now; post to chat at the end of the tick (never while holding the history's write lock)."""
        log.warning("ALERT %s: %s", job or "scheduler", text)
        self._alerts.append((job, text))

    def _post_alerts(self) -> None:
        alerts, self._alerts = self._alerts, []
        chat = self.config.settings.chat
        if chat is None:
            return
        for job, text in alerts:
            try:
                post_alert(chat, f"opskit scheduler: {job or 'scheduler'}", text, {"job": job or "-"})
            except Exception:
                log.exception("could not post the alert to chat")

    def _send_mail(self, now: datetime) -> None:
        self._last_mail = now
        try:
            pipeline.send_pending_mail(self.config)
        except Exception:
            log.exception("sending pending mail failed; it stays in the outbox")

    # -- config --

    def _load_or_raise(self) -> Config:
        problems, config = check_config(self.config_path)
        if problems or config is None:
            raise problems[0]
        job_problems, _ = validate_all(self.config_path)
        if job_problems:
            first = job_problems[0]
            if len(job_problems) > 1:
                first.hint = (
                    first.hint + ". " if first.hint else ""
                ) + f"({len(job_problems) - 1} more: run `runner.py validate`)"
            raise first
        return config

    def _apply(self, config: Config, now: datetime) -> None:
        self.config = config
        self.registry = discover(config.tasks_dir)
        timetables: dict[str, Timetable] = {}
        for name, job in config.jobs.items():
            if not job.enabled:
                continue
            timetable = job_timetable(config, name)
            if timetable is not None:
                timetables[name] = timetable
        first_sight = {}
        for name in timetables:
            if name in self.last_slots and name not in self.timetables and self._applied:
                # enabled again (or its schedule came back) while we run: from now on, not a flood
                # of catch-up decisions for the slots it was off
                self.last_slots[name] = first_sight[name] = now
                continue
            if name in self.last_slots:
                continue
            # The history is the truth; the remembered slot also covers slots whose runs were skipped.
            known = [
                t
                for t in (_parse(self.store.job_state(name).get("last_slot")), self.store.last_slot(name))
                if t is not None
            ]
            if not known:
                known = [now]
                first_sight[name] = now  # a new job starts from now: the past is not run
            self.last_slots[name] = max(known)
        if first_sight:
            self.store.set_last_slots(first_sight)
        self.timetables = timetables
        self._applied = True
        self._executor.reload(config)  # a warm executor loaded the previous config
        self._discard_prepared()
        self.next_due = {name: self._next_due(name, now) for name in timetables}

    def _next_due(self, name: str, now: datetime) -> datetime:
        last = self.last_slots.get(name) or now
        return self.timetables[name].next_fire(min(last, now))

    def _maybe_reload(self, now: datetime) -> None:
        if self._last_config_check and now - self._last_config_check < CONFIG_CHECK_EVERY:
            return
        self._last_config_check = now
        self._refresh_paused()
        try:
            mtime = self.config_path.stat().st_mtime
        except OSError:
            return
        if mtime == self._config_mtime:
            return
        self._config_mtime = mtime
        try:
            config = self._load_or_raise()
        except OpskitError as exc:
            log.error("config changed but is not valid; still running the previous one: %s", exc)
            return
        self._apply(config, now)
        log.info("config reloaded: %d job(s) scheduled", len(self.timetables))


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _local(at: datetime) -> str:
    return at.isoformat(timespec="minutes")
