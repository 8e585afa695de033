"""Runs whose owner died, found and settled by whoever notices first, once.

Every run has an owner (owners.py) that watches it, enforces its timeout and delivers it when it ends. When
the owner dies first (``kill -9`` of the scheduler, a terminal closed under ``runner.py run``, a reboot),
its runs are orphans:

- one still executing (its worker survives: the scheduler's runs are in sessions of their own) is adopted
  by the scheduler when it starts, and then every minute: counted busy, its deadline enforced, delivered
  when it ends (``Scheduler``); the command line leaves it to the scheduler;
- one whose process is gone too is marked ``abandoned``, and its failure alert goes out;
- one that ended but was never delivered (the owner died in between) is delivered.

Whoever notices first settles it: the scheduler at start and every minute, and the commands that read the
history (``run``, ``history``, ``show``, ``logs``, ``status``). Delivery is claimed in the history first
(``RunStore.claim_delivery``), so an alert goes out once whoever sends it, and a delivery cut short by a
crash is finished by the next one without sending a message twice (the outbox already holds it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opskit.engine import outbox_table  # noqa: F401 (the outbox of a history on PostgreSQL)
from opskit.engine.history import RunRecord, RunStatus, RunStore, Trigger
from opskit.engine.leader import leader_lock_held
from opskit.engine.lock import SchedulerLock
from opskit.engine.owners import owner_alive, process_alive, this_process
from opskit.engine.planning import PlannedRun, plan_run
from opskit.errors import OpskitError

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.runqueue import RunQueue
    from opskit.tasks import Registry

log = logging.getLogger(__name__)


@dataclass
class Orphans:
    """What one look at the history found: runs whose owner is gone."""

    live: list[RunRecord] = field(default_factory=list)
    """Still executing: for the scheduler to adopt."""
    abandoned: list[RunRecord] = field(default_factory=list)
    """Their process died too: marked ``abandoned`` just now, their alert still to send."""
    undelivered: list[RunRecord] = field(default_factory=list)
    """They ended, and their owner died before delivering them."""


def find_orphans(store: RunStore, *, me: str | None, scheduler_alive: bool, now: datetime | None = None) -> Orphans:
    """Look for runs whose owner is gone; mark those whose process is gone too ``abandoned``.

    Args:
        me: The caller's owner string (its own runs are not orphans).
        scheduler_alive: Whether a scheduler holds the lock (a scheduler itself passes False: it answers
            for every earlier scheduler's runs).
    """

    def orphaned(record: RunRecord) -> bool:
        return not owner_alive(record.owner, me=me, scheduler_alive=scheduler_alive)

    def being_delivered(record: RunRecord) -> bool:  # claimed by someone alive (the caller included)
        claim = record.delivery or {}
        holder = claim.get("claimed_by") if claim.get("state") == "claimed" else None
        return holder is not None and owner_alive(holder, me=me, scheduler_alive=scheduler_alive)

    found = Orphans()
    found.live = [r for r in store.running_here() if orphaned(r) and process_alive(r.pid, r.pid_started)]
    abandoned = store.mark_dead_runs_abandoned(now=now, me=me, scheduler_alive=scheduler_alive)
    for run_id in abandoned:
        record = store.get(run_id)
        log.warning("run %s was running when its process died: marked abandoned (%s)", run_id, record.error)
        found.abandoned.append(record)
    found.undelivered = [
        r for r in store.undelivered() if r.id not in abandoned and orphaned(r) and not being_delivered(r)
    ]
    return found


def deliver_once(
    config: Config,
    store: RunStore,
    record: RunRecord,
    *,
    claimer: str,
    scheduler_alive: bool = False,
    send_now: bool = True,
) -> dict[str, Any] | None:
    """Deliver a run that ended, unless someone else delivers (or delivered) it; never raises for delivery.

    Returns:
        What delivery did, or None when another process has the claim (or had it).

    Raises:
        HistoryUnavailable: the claim or the record could not be written (try again later).
    """
    if not store.claim_delivery(record.id, claimer=claimer, scheduler_alive=scheduler_alive):
        return None
    from opskit.delivery import pipeline  # delivery (Jinja2 and the rest) only when there is something to deliver

    data = pipeline.after_run(config, store, record, send_now=send_now)
    if data is None:  # nothing to deliver (the job left the config): say so, or the claim would stay
        data = {"action": "none", "outcome": record.status}
        store.record_delivery(record.id, data)
    return data


def settle_orphans(config: Config, store: RunStore) -> list[RunRecord]:
    """For the commands that are not the scheduler: settle the dead orphans they notice, and say so.

    Live orphans are left to the scheduler, which adopts them; runs a live scheduler owns are its own. A
    dead orphan is marked ``abandoned`` and its alert sent (by email and chat, as the job says), now; a run
    whose owner died before delivering it is delivered. Returns the runs settled.
    """
    if store.postgres:  # schedulers on other machines: the leader lock says whether one runs
        scheduler_alive = leader_lock_held(store)
    else:
        scheduler_alive = SchedulerLock(config.var_dir / "scheduler.lock").held_elsewhere()
    me = store.owner or this_process()
    orphans = find_orphans(store, me=me, scheduler_alive=scheduler_alive)
    settled = []
    for record in [*orphans.abandoned, *orphans.undelivered]:
        data = deliver_once(config, store, record, claimer=me, scheduler_alive=scheduler_alive)
        if data is not None:
            log.warning(
                "run %s (%s, %s): delivered after its owner died: %s",
                record.id,
                record.job,
                record.status,
                data.get("action"),
            )
            settled.append(record)
    return settled


def take_in_orphans(
    config: Config, registry: Registry, store: RunStore, runs: RunQueue, *, me: str, now: datetime
) -> Orphans:
    """The scheduler's side (at start, then every minute): adopt the live orphans, queue the rest's delivery.

    A live orphan becomes this scheduler's run (``take_over``): counted busy for its job, its deadline
    (the job's ``timeout`` from when it started) enforced, delivered when it ends, and retried as the job
    says. A run the config cannot plan again (its job was removed) is watched under the default timeout,
    and never retried. Abandoned and undelivered runs go to delivery through ``runs``.
    """
    orphans = find_orphans(store, me=me, scheduler_alive=False, now=now)
    for record in orphans.live:
        handle = runs.executor.adopt(record)
        if handle is None:  # it ended meanwhile, or this executor cannot reach it: the next look decides
            continue
        plan = _plan_again(config, registry, record)
        timeout = plan.timeout if plan is not None else config.settings.defaults.timeout
        store.take_over([record.id])
        runs.adopt(record, handle, plan, timeout)
        log.warning(
            "run %s (%s) was started by a scheduler or a command that is gone: adopted (%s), its deadline %s",
            record.id,
            record.job or record.task,
            handle.where,
            (record.started_at or now) + timeout,
        )
    for record in [*orphans.abandoned, *orphans.undelivered]:
        runs.finished(record, None, now)
    return orphans


def keep_queued_leftovers(store: RunStore) -> list[RunRecord]:
    """The runs a previous scheduler left ``queued`` that must start again; the rest are deleted.

    Runs prepared ahead of a slot that never came while it was up go: their slot goes through the catch-up
    rules like any missed slot. A prepared row whose slot already fired (the job's remembered slot reached
    it) is a real queued run waiting for a place or its jitter: it starts again like any queued run.
    """
    leftovers = store.by_status(RunStatus.QUEUED)

    def slot_fired(record: RunRecord) -> bool:
        remembered = store.job_state(record.job).get("last_slot") if record.job else None
        return remembered is not None and record.scheduled_for <= datetime.fromisoformat(remembered)

    early = [r for r in leftovers if r.trigger == Trigger.SCHEDULE and r.queued_at < r.scheduled_for]
    early = [r for r in early if not slot_fired(r)]
    store.discard_unstarted([r.id for r in early])
    return [r for r in leftovers if r not in early]


def requeue_leftovers(
    config: Config, registry: Registry, store: RunStore, runs: RunQueue, leftovers: list[RunRecord], *, now: datetime
) -> None:
    """Queue again, as this scheduler's, the runs ``keep_queued_leftovers`` kept (the same rows: never twice)."""

    store.take_over([record.id for record in leftovers])
    for record in leftovers:
        try:
            plan = plan_run(config, registry, record.job or record.task, scheduled_for=record.scheduled_for)
        except OpskitError as exc:
            store.finish(record.id, RunStatus.FAILED, error=f"could not be started: {exc}")
            continue
        runs.add(record, plan, now)
        log.info("run %s was still queued from the previous scheduler: queued again", record.id)


def _plan_again(config: Config, registry: Registry, record: RunRecord) -> PlannedRun | None:

    try:
        if record.job is not None:
            if record.job not in config.jobs:
                return None
            return plan_run(config, registry, record.job, scheduled_for=record.scheduled_for)
        return plan_run(config, registry, record.task, overrides=record.params, scheduled_for=record.scheduled_for)
    except OpskitError:
        return None
