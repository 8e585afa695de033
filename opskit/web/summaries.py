"""What the jobs page and the API say about a job: its light, last run, next slot, paused state.

One function builds it for both, so the page and ``/api/v1/jobs`` never disagree. It reads the history
with one index probe per job (``RunStore.last_runs``) and caches next slots until they pass, so 500 jobs
over 200,000 runs stay well under the page's budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opskit.engine.history import RunRecord
from opskit.engine.requests_table import RunBrief
from opskit.engine.timetable import Slot
from opskit.web.state import Viewer, WebState

LIGHTS = {
    # status: (css class, icon, words): never colour alone, the icon and the words say it too
    "succeeded": ("ok", "✓", "succeeded"),
    "failed": ("bad", "✗", "failed"),
    "timed_out": ("bad", "⏱", "timed out"),
    "abandoned": ("bad", "☠", "abandoned"),
    "skipped": ("muted", "↷", "skipped"),
    "running": ("busy", "▶", "running"),
    "queued": ("busy", "…", "queued"),
    "never": ("muted", "○", "never run"),
    "paused": ("warn", "⏸", "paused"),
    "blocked": ("warn", "⚠", "held back by gates"),
}


@dataclass
class JobSummary:
    name: str
    description: str
    groups: tuple[str, ...]
    schedule: str | None
    enabled: bool
    paused: bool
    light: str
    last: RunBrief | None
    last_final: RunBrief | None
    next_slot: Slot | None
    skipped_before_next: list[Slot]
    tz: Any

    @property
    def light_parts(self) -> tuple[str, str, str]:
        return LIGHTS[self.light]

    def to_json(self) -> dict[str, Any]:
        last = self.last_final
        return {
            "name": self.name,
            "description": self.description,
            "groups": list(self.groups),
            "schedule": self.schedule,
            "enabled": self.enabled,
            "paused": self.paused,
            "status": self.light,
            "running": self.last is not None and self.last.status in ("running", "queued"),
            "last_run": None
            if last is None
            else {
                "id": last.id,
                "status": last.status,
                "trigger": last.trigger,
                "scheduled_for": last.scheduled_for.isoformat(),
                "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                "duration_s": last.duration_s,
                "rows": last.rows,
            },
            "next_fire": self.next_slot.at.isoformat() if self.next_slot else None,
            "next_notes": notes(self.next_slot, self.skipped_before_next),
        }


def summarize(
    st: WebState, viewer: Viewer, *, now: datetime | None = None, only: str | None = None
) -> list[JobSummary]:
    """Every job ``viewer`` may see (or just the job ``only``), with what the jobs page shows of it."""
    now = now or datetime.now(UTC)
    config = st.config
    names = [n for n in st.visible_jobs(viewer) if only is None or n == only]
    store = st.store
    last = store.last_runs_brief(names)
    final = {n: r for n, r in last.items() if r.finished_at is not None}
    unfinished = [n for n, r in last.items() if r.finished_at is None]
    final.update(store.last_runs_brief(unfinished, final=True))
    paused = store.paused_jobs()
    out = []
    for name in names:
        job = config.jobs[name]
        slots = st.next_slots(name, now, 3) if job.schedule else []
        skipped = [s for s in slots if s.skipped]
        firing = next((s for s in slots if not s.skipped), None)
        current = last.get(name)
        done = final.get(name)
        if name in paused:
            light = "paused"
        elif current is not None and current.status in ("running", "queued"):
            light = current.status
        elif done is None:
            light = "never"
        elif done.status == "succeeded" and done.blocked:
            light = "blocked"
        else:
            light = done.status
        out.append(
            JobSummary(
                name=name,
                description=job.description,
                groups=job.groups,
                schedule=job.schedule,
                enabled=job.enabled,
                paused=name in paused,
                light=light,
                last=current,
                last_final=done,
                next_slot=firing,
                skipped_before_next=[s for s in skipped if firing is None or s.at < firing.at],
                tz=config.job_timezone(job),
            )
        )
    return out


def rows_of(record: RunRecord | None) -> int | None:
    rows = (record.result or {}).get("rows") if record else None
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def notes(slot: Slot | None, skipped: list[Slot]) -> list[str]:
    """DST and holiday notes for the next slot: "DST gap: fires at the first valid minute", "skips ..."."""
    out = []
    for s in skipped:
        out.append(f"skips {s.at:%a %d %b}: {s.skipped}")
    if slot is not None and slot.dst == "gap":
        out.append("DST gap: the nominal time does not exist that day; fires at the first valid minute")
    elif slot is not None and slot.dst == "overlap":
        out.append("DST overlap: this local hour happens twice; fires once")
    return out
