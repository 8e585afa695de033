"""The scheduler daemon (``runner.py schedule``): fires jobs on their timetables and never loses a slot.

It runs in the foreground (systemd, a container, tmux) and logs each decision. This module decides which
runs exist (a slot fires, is caught up after downtime, or is skipped with a reason) and follows changes to
the config; the run queue (runqueue.py) starts them through the executor (by default the pre-forked one
``make_executor`` gives the scheduler), watches and reaps them, so a task that crashes, hangs or eats
memory cannot take the daemon down. Only the outermost loop (``run_forever``) reads the real clock;
``tick(now)`` does one round of work at a given instant, which is how the tests drive it with a fake clock.
"""

from __future__ import annotations

import collections
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

from opskit.config.model import Config
from opskit.delivery import pipeline
from opskit.delivery.chat import post_alert
from opskit.engine import executors
from opskit.engine.attempts import prune_old_runs
from opskit.engine.checks import load_valid_config
from opskit.engine.executors import Executor, Purpose
from opskit.engine.history import RunRecord, RunStatus, RunStore, Trigger
from opskit.engine.lock import SchedulerLock
from opskit.engine.planning import PlannedRun, plan_run
from opskit.engine.run_requests import take_run_requests
from opskit.engine.runqueue import Queued, Retry, Running, RunQueue
from opskit.engine.scheduling import ON_TIME, SlotDecision, decide_slots, job_timetable
from opskit.engine.timetable import Timetable
from opskit.errors import OpskitError
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
    runs: RunQueue = field(init=False)
    registry: Registry = field(init=False)
    timetables: dict[str, Timetable] = field(init=False, default_factory=dict)
    next_due: dict[str, datetime] = field(init=False, default_factory=dict)
    last_slots: dict[str, datetime | None] = field(init=False, default_factory=dict)
    prepared: dict[str, tuple[datetime, PlannedRun, RunRecord]] = field(init=False, default_factory=dict)
    _alerts: list[tuple[str | None, str]] = field(init=False, default_factory=list)
    _paused_jobs: set[str] = field(init=False, default_factory=set)
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
    def running(self) -> dict[str, Running]:
        """The runs on the executor, by run id."""
        return self.runs.running

    @property
    def queue(self) -> collections.deque[Queued]:
        return self.runs.queue

    @property
    def retries(self) -> list[Retry]:
        return self.runs.retries

    # -- life cycle --

    def start(self, now: datetime, *, lock: bool = True) -> None:
        """Load and check the config, take the lock, recover from a previous crash."""
        self.config = load_valid_config(self.config_path)
        self._config_mtime = self.config_path.stat().st_mtime
        if lock:
            self._lock = SchedulerLock(self.config.var_dir / "scheduler.lock")
            self._lock.acquire()
        self.store = RunStore(self.config.history_path)
        if self.executor is None:
            self.executor = executors.make_executor(self.config, purpose=Purpose.SCHEDULER)
        self.runs = RunQueue(self.store, self.executor, self.config, self._alert, self.on_dispatch)
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
            self.runs.finished(self.store.get(run_id), None, now)
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
        self.runs.stop_all()
        self.runs.executor.close()
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
            self.runs.reap(clock())
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
        self.runs.queue_due_retries(now)
        take_run_requests(self.store, self.config, self.registry, self.runs, now)  # from the web app
        self.runs.reap(now)
        self.runs.dispatch(now, self.stopping)
        for name in due:  # slots fired on the fast path learn their following slot now
            if self.next_due[name] <= now:
                self.next_due[name] = self._next_due(name, now)
        self._prepare(now)
        self.runs.watch(now)
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
        wake += self.runs.wake_times()
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
        busy = self.runs.busy(name) and job.overlap == "skip"
        if paused or busy:
            reason = (
                "the job is paused (runner.py resume)"
                if paused
                else f"the previous run ({self.runs.busy_run(name)}) was still going (overlap: skip)"
            )
            self.store.finish(record.id, RunStatus.SKIPPED, error=reason, now=now)
            log.info("%s: slot %s skipped: %s (%s)", name, _local(slot), reason, record.id)
            return
        jitter = job.jitter.total_seconds() * random.random()
        self.runs.add(record, plan, slot + timedelta(seconds=jitter))

    def _discard_prepared(self, name: str | None = None) -> None:
        names = [name] if name else list(self.prepared)
        dropped = [self.prepared.pop(n)[2].id for n in names if n in self.prepared]
        if dropped:
            self.store.discard_unstarted(dropped)

    def _plan_and_enqueue(self, name: str, slot: datetime, trigger: Trigger, now: datetime) -> None:
        job = self.config.jobs[name]
        # Caught-up slots (catch_up: all) queue behind each other: they are one backlog, not overlaps.
        if self.runs.busy(name) and job.overlap == "skip" and trigger != Trigger.CATCH_UP:
            reason = f"the previous run ({self.runs.busy_run(name)}) was still going (overlap: skip)"
            self._skip(name, slot, trigger, reason, now)
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
        self.runs.enqueue(plan, trigger, now, not_before=slot + timedelta(seconds=jitter))

    def _requeue(self, record: RunRecord, now: datetime) -> None:
        """A run left queued by a previous scheduler starts again (same row: never a second run)."""
        try:
            plan = plan_run(self.config, self.registry, record.job or record.task, scheduled_for=record.scheduled_for)
        except OpskitError as exc:
            self.store.finish(record.id, RunStatus.FAILED, error=f"could not be started: {exc}")
            return
        self.runs.add(record, plan, now)
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

    # -- alerts and mail --

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
        self.runs.config = config
        self.runs.executor.reload(config)  # a warm executor loaded the previous config
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
            config = load_valid_config(self.config_path)
        except OpskitError as exc:
            log.error("config changed but is not valid; still running the previous one: %s", exc)
            return
        self._apply(config, now)
        log.info("config reloaded: %d job(s) scheduled", len(self.timetables))


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _local(at: datetime) -> str:
    return at.isoformat(timespec="minutes")
