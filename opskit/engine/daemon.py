"""The scheduler daemon (``runner.py schedule``): fires jobs on their timetables and never loses a slot.

It runs in the foreground (systemd, a container, tmux) and logs each decision. This module decides which
runs exist (a slot fires, is caught up after downtime, or is skipped with a reason) and follows changes to
the config; the run queue (runqueue.py) starts them through the executor (by default the pre-forked one
``make_executor`` gives the scheduler), watches and reaps them, so a task that crashes, hangs or eats
memory cannot take the daemon down. Only the outermost loop (``run_forever``) reads the real clock;
``tick(now)`` does one round of work at a given instant, which is how the tests drive it with a fake clock.

One fault must not stall or double the rest:

- the loop never talks to a mail server or a chat webhook: delivery and alerts go to the courier's threads
  (courier.py), so a mute SMTP server cannot make any slot late;
- runs whose owner died (a scheduler killed with ``kill -9``, a closed terminal) are adopted at start and
  every minute (recovery.py): counted busy, their deadline enforced, delivered when they end;
- when the history cannot be written (locked for longer than its busy timeout, disk full), ``step`` logs,
  alerts once, backs off and tries again; the slots of that round are kept (nothing in memory moves on
  unless the history took it), and slots that come due meanwhile run late, not skipped.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opskit.config.model import Config
from opskit.engine import executors
from opskit.engine.attempts import prune_old_runs
from opskit.engine.checks import load_valid_config
from opskit.engine.courier import Courier
from opskit.engine.executors import Executor, Purpose
from opskit.engine.history import HistoryUnavailable, RunRecord, RunStatus, RunStore, SlotTaken, Trigger
from opskit.engine.leader import LeaderLock, LeadershipLost, record_leader, renew_leader, wait_for_leadership
from opskit.engine.lock import SchedulerLock
from opskit.engine.owners import new_scheduler_owner
from opskit.engine.planning import PlannedRun, plan_run
from opskit.engine.recovery import keep_queued_leftovers, requeue_leftovers, take_in_orphans
from opskit.engine.run_requests import take_run_requests
from opskit.engine.runqueue import Queued, Retry, Running, RunQueue
from opskit.engine.scheduling import ON_TIME, SlotDecision, decide_slots, job_timetable
from opskit.engine.timetable import Timetable
from opskit.errors import OpskitError
from opskit.redact import Redactor
from opskit.tasks import Registry, discover

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)
PRUNE_EVERY = timedelta(hours=1)
BUSY_LIMIT = timedelta(minutes=10)
"""A loop that stalled at most this long was busy (its slots run late); longer, it was not running."""
RECOVER_EVERY = timedelta(minutes=1)
"""How often the history is searched for runs whose owner died (adopted, or delivered)."""
HISTORY_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Backoff while the history cannot be written: then every 30 s until it can."""
CONFIG_CHECK_EVERY = timedelta(seconds=2)
POLL_WHILE_RUNNING = 0.1
PREPARE_AHEAD = timedelta(seconds=3)
"""A slot's run is planned (parameters resolved) and written to the history as ``queued`` this long before
its time, so that firing it is only handing it to the executor: a thousand jobs due in the same minute
start within milliseconds of it. A run prepared but not started by a stop or a reload is deleted."""
MAX_IDLE_SLEEP = 1.0


class StoppedAsStandby(Exception):
    """The scheduler was stopped while it waited to lead: it never started anything."""


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
    courier: Courier = field(init=False)
    owner: str = field(init=False, default="")
    """``scheduler:...``: who this start answers as for the runs it creates and adopts (owners.py)."""
    registry: Registry = field(init=False)
    timetables: dict[str, Timetable] = field(init=False, default_factory=dict)
    next_due: dict[str, datetime] = field(init=False, default_factory=dict)
    last_slots: dict[str, datetime | None] = field(init=False, default_factory=dict)
    prepared: dict[str, tuple[datetime, PlannedRun, RunRecord]] = field(init=False, default_factory=dict)
    _deliver_after_commit: list[str] = field(init=False, default_factory=list)
    _paused_jobs: set[str] = field(init=False, default_factory=set)
    stopping: threading.Event = field(init=False, default_factory=threading.Event)
    _config_mtime: float = field(init=False, default=0.0)
    _last_config_check: datetime | None = field(init=False, default=None)
    _last_heartbeat: datetime | None = field(init=False, default=None)
    _last_recover: datetime | None = field(init=False, default=None)
    _last_prune: datetime | None = field(init=False, default=None)
    _last_step: datetime | None = field(init=False, default=None)
    _history_failures: int = field(init=False, default=0)
    _applied: bool = field(init=False, default=False)
    _last_tick: datetime | None = field(init=False, default=None)
    _started_at: datetime | None = field(init=False, default=None)
    _lock: SchedulerLock | None = field(init=False, default=None)
    _leader: LeaderLock | None = field(init=False, default=None)
    _clock: Callable[[], datetime] | None = field(init=False, default=None)
    lost_leadership: bool = field(init=False, default=False)
    """Stopped because another scheduler leads now (``runner.py schedule`` exits 3: start again as standby)."""
    time_scale: float = field(init=False, default=1.0)
    """Fake seconds per real second of the loop's waits (1 but in tests that speed the clock up)."""

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
        """Load and check the config, take the lock, recover from a previous crash.

        Runs a previous scheduler left behind are this one's now: queued ones start again, live ones are
        adopted, dead ones are marked abandoned and alerted, ended ones it never delivered are delivered.
        """
        self.config = load_valid_config(self.config_path)
        self._config_mtime = self.config_path.stat().st_mtime
        self.owner = new_scheduler_owner()
        self.store = RunStore(self.config.history_target, owner=self.owner, redactor=Redactor(self.config.secrets))
        if lock and self.store.postgres:
            # Schedulers on several machines: the leader leads, the others wait here (leader.py).
            self._leader = LeaderLock(self.store, owner=self.owner)
            if not wait_for_leadership(self._leader, self.stopping, log):
                self._leader.release()
                self.store.close()
                raise StoppedAsStandby()
            log.info("this scheduler leads the history %s", self.store.where)
            now = self._clock() if self._clock else now  # waiting took time
        elif lock:
            self._lock = SchedulerLock(self.config.var_dir / "scheduler.lock")
            try:
                self._lock.acquire()
            except BaseException:
                self.store.close()
                raise
            record_leader(self.store, self.owner, since=now, now=now)
        if self.executor is None:
            self.executor = executors.make_executor(self.config, purpose=Purpose.SCHEDULER)
        self.courier = Courier(self.config, owner=self.owner)
        self.courier.start()
        self.runs = RunQueue(
            self.store, self.executor, self.config, self._alert, self.courier.deliver, self.on_dispatch
        )
        self._started_at = now
        leftovers = keep_queued_leftovers(self.store)  # before _apply: a prepared row is not a handled slot
        self._apply(self.config, now)
        self._recover(now)
        requeue_leftovers(self.config, self.registry, self.store, self.runs, leftovers, now=now)
        self.heartbeat(now)
        self.courier.send_mail()  # mail left pending by the previous run of the scheduler
        log.info(
            "scheduler started (pid %d): %d job(s) scheduled, max %d concurrent run(s)",
            os.getpid(),
            len(self.timetables),
            self.config.settings.scheduler.max_concurrent_runs,
        )

    def stop(self, now: datetime) -> None:
        """Terminate what still runs, record it, give delivery a moment, and release the lock."""
        try:
            self._discard_prepared()
            self.runs.stop_all(leave_remote=self.lost_leadership)
        finally:
            self.runs.executor.close()
            self.courier.close()
            try:
                self.store.scheduler_stopped(now=now)
            except HistoryUnavailable as exc:
                log.error("could not record the stop: %s", exc)
            self.store.close()
            if self._lock:
                self._lock.release()
            if self._leader:
                self._leader.release()  # a standby leads within seconds
        log.info("scheduler stopped")

    def run_forever(self, *, clock: Callable[[], datetime] | None = None) -> None:
        """The loop: tick, then sleep until something is due. SIGTERM/SIGINT stop it gracefully."""
        clock = clock or (lambda: datetime.now(UTC))
        self._clock = clock
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        try:
            self.start(clock())
        except StoppedAsStandby:
            log.info("scheduler stopped (it was a standby)")
            return
        try:
            while not self.stopping.is_set():
                backoff = self.step(clock())
                wait = backoff if backoff is not None else self.sleep_seconds(clock())
                self.stopping.wait(wait / self.time_scale)
            self._drain(clock)
        finally:
            self.stop(clock())

    def _drain(self, clock: Callable[[], datetime]) -> None:
        """After a stop signal: start nothing new, give running runs the grace period to finish."""
        grace = self.config.settings.scheduler.shutdown_grace
        deadline = clock() + grace

        def waited_for() -> list[Running]:  # after a lost lead, runs on other machines are the new leader's
            return [r for r in self.running.values() if not (self.lost_leadership and r.handle.remote)]

        if waited_for():
            log.info("stopping: waiting up to %s for %d running run(s)", grace, len(waited_for()))
        while waited_for() and clock() < deadline:
            try:
                self.runs.reap(clock())
            except HistoryUnavailable as exc:
                log.error("stopping: %s", exc)
            threading.Event().wait(POLL_WHILE_RUNNING)

    # -- one round --

    def step(self, now: datetime) -> float | None:
        """One round of the loop that survives an unavailable history (or disk): ``tick``, or back off.

        Returns:
            None after a good round (sleep as ``sleep_seconds`` says), else how long to wait before trying
            again (1 s, 2 s, 5 s, 10 s, then every 30 s). The first failure is alerted; each is logged.
        """
        try:
            self.tick(now)
        except LeadershipLost as exc:
            self._alert(None, exc.message)
            self.lost_leadership = True
            self.stopping.set()
            return 0.0
        except (HistoryUnavailable, OSError) as exc:  # OSError: no space for a run's folder, say
            self._history_failures += 1
            delay = HISTORY_RETRY_S[min(self._history_failures, len(HISTORY_RETRY_S)) - 1]
            if self._history_failures == 1:
                text = exc.message if isinstance(exc, OpskitError) else str(exc)
                self._alert(None, f"{text}; the scheduler keeps its slots and tries again until it can write it")
            else:
                log.error("%s (try %d; next in %.0fs)", exc, self._history_failures, delay)
            return delay
        finally:
            self._last_step = now
        if self._history_failures:
            log.warning("the run history can be written again after %d failed tries", self._history_failures)
            self._history_failures = 0
        return None

    def tick(self, now: datetime) -> None:
        """Do everything due at ``now``: fire slots, start queued runs, reap finished ones, keep watch.

        Raises:
            HistoryUnavailable: the history could not be written; what the round had not recorded yet is
                as it was before, so the next round does it again.
        """
        if self._leader is not None:
            self._leader.check(now)  # still the leader? (a standby may lead after a lost session)
        self._maybe_reload(now)
        due = [name for name, at in self.next_due.items() if at <= now]
        if due:
            fired: dict[str, datetime] = {}
            with self._all_or_nothing(), self.store.transaction():  # one commit for every slot due now
                for name in due:
                    last = self._fire(name, now)
                    if last is not None:
                        fired[name] = last
                if fired:
                    self.store.set_last_slots(fired)
            for run_id in self._deliver_after_commit:
                self.courier.deliver(run_id)
            self._deliver_after_commit.clear()
        try:
            self.runs.queue_due_retries(now)
            take_run_requests(self.store, self.config, self.registry, self.runs, now)  # from the web app
            self.runs.reap(now)
            self.runs.dispatch(now, self.stopping)
        finally:  # slots fired on the fast path learn their following slot now, whatever happened after
            for name in due:
                if self.next_due[name] <= now:
                    self.next_due[name] = self._next_due(name, now)
        self._prepare(now)
        self.runs.watch(now)
        if self._last_heartbeat is None or now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self.heartbeat(now)
        if self._last_recover is None or now - self._last_recover >= RECOVER_EVERY:
            self._recover(now)
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            prune_old_runs(self.config, self.store, now)
        self._last_tick = now

    @contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """What firing slots changes in memory, put back when the history did not take it."""
        saved = dict(self.next_due), dict(self.last_slots), dict(self.prepared), self.runs.save()
        try:
            yield
        except BaseException:
            self.next_due, self.last_slots, self.prepared = saved[0], saved[1], saved[2]
            self.runs.restore(saved[3])
            self._deliver_after_commit.clear()
            raise

    def _recover(self, now: datetime) -> None:
        """Adopt runs whose owner died; deliver those that ended undelivered (recovery.py)."""
        take_in_orphans(self.config, self.registry, self.store, self.runs, me=self.owner, now=now)
        self._last_recover = now

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
        if self._leader is not None:
            self._leader.renew(now)
        elif self._lock is not None:
            renew_leader(self.store, self.owner, now=now)
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
            # Slots that came due while the loop was merely busy (a long task start, an unavailable
            # history it kept trying) are late, not missed; after a longer silence (the machine slept,
            # the scheduler was down) the catch-up rules decide.
            up_since = self._last_tick or self._started_at
            rounds = [t for t in (self._last_tick, self._last_step, self._started_at) if t is not None]
            busy = up_since is not None and now - max(rounds) <= BUSY_LIMIT
            decisions = decide_slots(
                name,
                job,
                timetable,
                last_slot=self.last_slots.get(name),
                now=now,
                up_since=up_since if busy else None,
            )
        for decision in decisions:
            handled = decision.slot
            try:
                self._decide(name, job, decision, paused, fast, now)
            except SlotTaken:  # another scheduler recorded it (a leader that was replaced): never twice
                log.warning("%s: slot %s is already in the history; not again", name, _local(decision.slot))
        if handled is not None:
            self.last_slots[name] = handled
        if not fast:
            self.next_due[name] = self._next_due(name, now)
        return handled

    def _decide(self, name: str, job: Any, decision: SlotDecision, paused: bool, fast: bool, now: datetime) -> None:
        """Fire, skip or leave one slot.

        The slot's run may be prepared (its row written ahead as ``queued``) whether the slot comes on time
        or late (the history was unavailable when it came due): then that row is the slot's run, never a
        reason to call the slot handled and drop it.
        """
        if self._is_prepared(name, decision.slot):
            if not decision.skip:
                self._fire_prepared(name, job, paused, now)
                return
            self._discard_prepared(name)  # too late to run: the slot is recorded as skipped below
        if not fast and self.store.has_slot(name, decision.slot):  # after downtime: check
            log.info("%s: slot %s already handled; not again", name, _local(decision.slot))
        elif paused:
            self._skip(name, decision.slot, decision.trigger, "the job is paused (runner.py resume)", now)
        elif decision.skip:
            self._skip(name, decision.slot, decision.trigger, decision.skip, now)
            self._alert(name, f"slot {_local(decision.slot)} was skipped: {decision.skip}")
        else:
            self._plan_and_enqueue(name, decision.slot, decision.trigger, now)

    def _is_prepared(self, name: str, slot: datetime) -> bool:
        prepared = self.prepared.get(name)
        return prepared is not None and prepared[0] == slot

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
        with self._all_or_nothing(), self.store.transaction():
            for name, at in todo:
                self._discard_prepared(name)
                try:
                    plan = plan_run(self.config, self.registry, name, scheduled_for=at)
                except OpskitError:
                    continue  # planned again when the slot fires, which records the error
                try:
                    record = self.store.create(
                        job=name,
                        task=plan.task_label,
                        params=plan.params_json(),
                        trigger=Trigger.SCHEDULE,
                        scheduled_for=at,
                        folder_root=self.config.runs_dir,
                        now=now,
                    )
                except SlotTaken:
                    continue  # another scheduler recorded it; firing it finds it in the history
                self.prepared[name] = (at, plan, record)

    def _fire_prepared(self, name: str, job: Any, paused: bool, now: datetime) -> None:
        slot, plan, record = self.prepared.pop(name)
        blocking = self.runs.blocking_run(name) if job.overlap == "skip" else None
        if paused or blocking:
            reason = (
                "the job is paused (runner.py resume)"
                if paused
                else f"the previous run ({blocking}) was still going (overlap: skip)"
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
        # Caught-up slots (catch_up: all) queue behind each other, and the on-time slot behind them: they
        # are one backlog, not overlaps. A run of the job that is not caught up makes this slot an overlap.
        blocking = self.runs.blocking_run(name) if job.overlap == "skip" and trigger != Trigger.CATCH_UP else None
        if blocking:
            reason = f"the previous run ({blocking}) was still going (overlap: skip)"
            self._skip(name, slot, trigger, reason, now)
            return
        self._discard_prepared(name)  # a slot handled the slow way (after downtime) is planned afresh
        try:
            plan = plan_run(self.config, self.registry, name, scheduled_for=slot)
        except OpskitError as exc:
            record = self.store.create(
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
            self._deliver_after_commit.append(record.id)  # its failure alert, once the row is committed
            return
        jitter = job.jitter.total_seconds() * random.random()
        self.runs.enqueue(plan, trigger, now, not_before=slot + timedelta(seconds=jitter))

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

    # -- alerts --

    def _alert(self, job: str | None, text: str) -> None:
        """Log now; the courier posts it to chat from its thread (the loop never waits for a webhook)."""
        log.warning("ALERT %s: %s", job or "scheduler", text)
        self.courier.alert(job, text)

    # -- config --

    def _apply(self, config: Config, now: datetime) -> None:
        """Schedule ``config``'s jobs. What the history must say is written first: a failed write changes
        nothing, and the reload is tried again."""
        registry = discover(config.tasks_dir)
        timetables: dict[str, Timetable] = {}
        for name, job in config.jobs.items():
            if not job.enabled:
                continue
            timetable = job_timetable(config, name)
            if timetable is not None:
                timetables[name] = timetable
        last_slots = dict(self.last_slots)
        first_sight = {}
        for name in timetables:
            if name in last_slots and name not in self.timetables and self._applied:
                # enabled again (or its schedule came back) while we run: from now on, not a flood
                # of catch-up decisions for the slots it was off
                last_slots[name] = first_sight[name] = now
                continue
            if name in last_slots:
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
            last_slots[name] = max(known)
        if first_sight:
            self.store.set_last_slots(first_sight)
        self._discard_prepared()
        self.config, self.registry, self.timetables, self.last_slots = config, registry, timetables, last_slots
        self._applied = True
        self.runs.config = config
        self.courier.config = config
        self.runs.executor.reload(config)  # a warm executor loaded the previous config
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
        try:
            config = load_valid_config(self.config_path)
        except OpskitError as exc:
            self._config_mtime = mtime
            log.error("config changed but is not valid; still running the previous one: %s", exc)
            return
        except Exception as exc:  # a bug in a check must not stop the scheduler: the old config stays
            self._config_mtime = mtime
            log.error(
                "config changed but could not be loaded (%s: %s); still running the previous one",
                type(exc).__name__,
                exc,
            )
            return
        try:
            self._apply(config, now)
        except (HistoryUnavailable, OSError):
            raise  # step() backs off; the reload is tried again
        except Exception as exc:
            self._config_mtime = mtime
            log.error(
                "config changed but could not be applied (%s: %s); still running the previous one",
                type(exc).__name__,
                exc,
            )
            return
        self._config_mtime = mtime  # only now: a reload cut short by the history is tried again
        log.info("config reloaded: %d job(s) scheduled", len(self.timetables))


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _local(at: datetime) -> str:
    return at.isoformat(timespec="minutes")
