"""The scheduler's decisions, as pure functions of the history and a given ``now``.

Which slots of a job are due, which were missed while the scheduler was down, and what happens to each
(run, catch up, or skip with a reason) is decided here without reading the clock, so every rule is tested
with a fake clock. The daemon (daemon.py) only carries the decisions out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from opskit.config.model import Config, JobConfig
from opskit.engine.calendars import Calendar
from opskit.engine.history import Trigger
from opskit.engine.timetable import Timetable, parse_schedule
from opskit.errors import ConfigError

log = logging.getLogger(__name__)

ON_TIME = timedelta(minutes=1)
"""A slot found due within this much of its time is on time; an older one was missed."""


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """What to do with one slot of one job."""

    job: str
    slot: datetime
    trigger: Trigger
    skip: str | None = None
    """Why the slot is not run (recorded as a ``skipped`` run); None to run it."""


def job_timetable(config: Config, name: str) -> Timetable | None:
    """The job's timetable in its own timezone, with its calendar; None for manual-only jobs.

    Raises:
        ConfigError: the schedule or the calendar is invalid (``where`` names the line).
    """
    job = config.jobs[name]
    if not job.schedule:
        return None
    calendar = None
    if job.calendar is not None:
        calendar = Calendar(job.calendar.market, job.calendar.subdiv, extra_holidays=tuple(job.calendar.holidays))
    try:
        return parse_schedule(
            job.schedule,
            config.job_timezone(job),
            calendar=calendar,
            skip_holidays=bool(calendar and job.calendar and job.calendar.skip_holidays),
        )
    except ConfigError as exc:
        exc.where = config.where("jobs", name, "schedule")
        exc.args = (f"job '{name}': {exc.message}",)
        raise


def decide_slots(
    name: str,
    job: JobConfig,
    timetable: Timetable,
    *,
    last_slot: datetime | None,
    now: datetime,
    up_since: datetime | None = None,
) -> list[SlotDecision]:
    """Every slot of ``job`` in (last_slot, now], each with its fate under the job's policies.

    A slot within ``ON_TIME`` of now runs as scheduled. Older ones were missed (the scheduler was down,
    the machine asleep): past ``misfire_grace`` they are skipped; otherwise ``catch_up`` decides — ``all``
    runs each in order, ``latest`` runs only the most recent slot due, ``none`` skips them.
    A job that was never seen starts from now: the history does not run backwards on first start.
    A slot after ``up_since`` (the scheduler was running, only busy) is late, not missed: it runs.
    """
    if last_slot is None:
        return []
    slots = list(timetable.fires_between(last_slot, now))
    if not slots:
        return []
    decisions: list[SlotDecision] = []
    latest = slots[-1]
    for slot in slots:
        late = now - slot
        if late <= ON_TIME or (up_since is not None and slot > up_since):
            decisions.append(SlotDecision(name, slot, Trigger.SCHEDULE))
        elif job.misfire_grace is not None and late > job.misfire_grace:
            decisions.append(
                SlotDecision(
                    name,
                    slot,
                    Trigger.CATCH_UP,
                    skip=(f"missed by {_human(late)}, more than misfire_grace {_human(job.misfire_grace)}"),
                )
            )
        elif job.catch_up == "none":
            decisions.append(
                SlotDecision(
                    name, slot, Trigger.CATCH_UP, skip="missed while the scheduler was not running (catch_up: none)"
                )
            )
        elif job.catch_up == "latest" and slot != latest:
            decisions.append(
                SlotDecision(
                    name,
                    slot,
                    Trigger.CATCH_UP,
                    skip=(
                        f"missed; a later slot ({latest.isoformat(timespec='minutes')}) runs instead (catch_up: latest)"
                    ),
                )
            )
        else:
            decisions.append(SlotDecision(name, slot, Trigger.CATCH_UP))
    # With catch_up: latest, a missed slot that is also the latest overall is the one that runs.
    return decisions


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{hours // 24}d{hours % 24}h"
