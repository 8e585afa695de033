"""Run requests: how runs asked for from the web app enter the scheduler's queue.

The web app never starts a process. "Run now" and a backfill write a request into the history
(``RunStore.add_run_request``); the scheduler takes the pending ones on every tick (one index probe when
there are none) and treats each like any other run: planned with the same ``plan_run`` as ``runner.py
run --param`` (so a value the form let through is validated again, against the config in force now),
recorded with trigger ``web`` (or ``backfill``) and the requester's name, and queued under the same
``max_concurrent_runs`` and ``overlap`` rules. A request turns into exactly one run: the run's row and the
request's new status are written in one transaction.

What a request can become:

- ``started``: its run was recorded (queued, then running), or recorded as ``skipped`` because the job's
  previous run was still going and the job says ``overlap: skip`` (the run page shows the reason);
- ``rejected``: it no longer plans (the job left the config, a parameter does not validate) or, for a
  backfill slot, the slot already ran; ``error`` says why.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from opskit.engine.history import RunStatus, RunStore, Trigger
from opskit.engine.planning import plan_run
from opskit.engine.requests_table import RequestStatus, RunRequest
from opskit.errors import OpskitError

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.runqueue import RunQueue
    from opskit.tasks import Registry

log = logging.getLogger(__name__)

TAKE_PER_TICK = 100
"""At most this many requests are planned in one tick (a year-long backfill is taken over a few ticks)."""


def take_run_requests(store: RunStore, config: Config, registry: Registry, runs: RunQueue, now: datetime) -> int:
    """Plan and queue every pending run request; returns how many were handled."""
    pending = store.pending_run_requests(limit=TAKE_PER_TICK)
    for request in pending:
        try:
            _take(store, config, registry, runs, request, now)
        except OpskitError as exc:
            store.close_run_request(request.id, RequestStatus.REJECTED, error=str(exc), now=now)
            log.warning("%s: run request %s from %s rejected: %s", request.job, request.id, request.requested_by, exc)
    return len(pending)


def _take(
    store: RunStore, config: Config, registry: Registry, runs: RunQueue, request: RunRequest, now: datetime
) -> None:
    name = request.job
    if name not in config.jobs:
        raise OpskitError(f"job '{name}' is no longer in the config")
    job = config.jobs[name]
    trigger = Trigger.BACKFILL if request.trigger == Trigger.BACKFILL else Trigger.WEB
    if trigger == Trigger.BACKFILL and not request.options.get("again"):
        if store.has_slot(name, request.scheduled_for, count_skipped=False):
            raise OpskitError(
                f"slot {request.scheduled_for.astimezone(config.job_timezone(job)):%Y-%m-%d %H:%M} already ran"
                " (ask again with 'also slots that already ran')"
            )
    plan = plan_run(config, registry, name, overrides=request.overrides, scheduled_for=request.scheduled_for)
    # A backfill is one backlog that queues behind itself, as caught-up slots do; a click on "Run now"
    # while the job runs follows the job's overlap rule like a slot would.
    blocker = runs.blocking_run(name) if trigger == Trigger.WEB else None
    if blocker is not None and job.overlap == "skip":
        reason = f"the previous run ({blocker}) was still going (overlap: skip)"
        with store.transaction():
            record = store.create(
                job=name,
                task=plan.task_label,
                params=plan.params_json(),
                trigger=trigger,
                scheduled_for=plan.scheduled_for,
                folder_root=config.runs_dir,
                status=RunStatus.SKIPPED,
                error=reason,
                now=now,
            )
            store.close_run_request(request.id, RequestStatus.STARTED, run_id=record.id, now=now)
        log.info("%s: run requested by %s skipped: %s (%s)", name, request.requested_by, reason, record.id)
        return
    with store.transaction():
        record = store.create(
            job=name,
            task=plan.task_label,
            params=plan.params_json(),
            trigger=trigger,
            scheduled_for=plan.scheduled_for,
            folder_root=config.runs_dir,
            now=now,
        )
        store.close_run_request(request.id, RequestStatus.STARTED, run_id=record.id, now=now)
    runs.add(record, plan, now)
    log.info("%s: run %s requested by %s queued (%s)", name, record.id, request.requested_by, trigger)
