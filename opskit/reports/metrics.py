"""The DOMAIN.md metrics as plain functions over plain rows, for small data and for tests.

Rows are mappings (dicts, or anything with ``.get``) with the DOMAIN.md field names; times are
datetimes. Callers cut rows to a group; functions that depend on the period take ``start``/``end``
(half-open: start <= t < end). Each function counts, then calls its formula in
``opskit.reports.formulas``, the one home of the definitions that the streaming case scan
(``opskit.reports.scan``) uses as well; a ratio whose denominator is zero is ``None`` ("n/a").

The formulas that already take sums (``uph``, ``utilization``, ``shrinkage``, ``percentile_inc``,
``target_attainment``, ``change``, ``ratio``) are the formulas themselves, re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from opskit.reports import formulas
from opskit.reports.formulas import (
    HIGHER,
    LOWER,
    change,
    percentile_inc,
    ratio,
    shrinkage,
    target_attainment,
    uph,
    utilization,
)

__all__ = [
    "HIGHER",
    "LOWER",
    "Accumulator",
    "accuracy",
    "aht",
    "backlog",
    "change",
    "completed",
    "escalation_rate",
    "incoming",
    "oldest_age_hours",
    "overturn_rate",
    "percentile_inc",
    "ratio",
    "shift_totals",
    "shrinkage",
    "sla_attainment",
    "target_attainment",
    "tat_hours",
    "tat_percentile",
    "uph",
    "uph_from_rows",
    "utilization",
]

Row = Mapping[str, Any]


def _in(moment: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if moment is None:
        return False
    return (start is None or moment >= start) and (end is None or moment < end)


def _done(rows: Iterable[Row], start: datetime | None, end: datetime | None) -> Iterable[Row]:
    return (r for r in rows if _in(r.get("completed_at"), start, end))


# --------------------------------------------------------------------------- volume and backlog


def incoming(cases: Iterable[Row], start: datetime, end: datetime) -> int:
    """Cases with ``created_at`` in [start, end)."""
    return sum(1 for r in cases if _in(r.get("created_at"), start, end))


def completed(cases: Iterable[Row], start: datetime | None = None, end: datetime | None = None) -> int:
    """Cases with ``completed_at`` in [start, end) (any completed case when no period is given)."""
    return sum(1 for _ in _done(cases, start, end))


def _backlog(cases: Iterable[Row], at: datetime) -> Iterable[Row]:
    for r in cases:
        created, done = r.get("created_at"), r.get("completed_at")
        if created is not None and created <= at and (done is None or done > at):
            yield r


def backlog(cases: Iterable[Row], at: datetime) -> int:
    """Cases created at or before ``at`` and not completed by then."""
    return sum(1 for _ in _backlog(cases, at))


def oldest_age_hours(cases: Iterable[Row], at: datetime) -> float | None:
    """Hours since the oldest case in the backlog at ``at`` arrived; None for an empty backlog."""
    oldest = min((r["created_at"] for r in _backlog(cases, at)), default=None)
    return None if oldest is None else (at - oldest).total_seconds() / 3600


# --------------------------------------------------------------------------- efficiency


def aht(cases: Iterable[Row], start: datetime | None = None, end: datetime | None = None) -> float | None:
    """Average handle time in seconds: sum of ``handle_seconds`` / completed, over completed cases."""
    total = count = 0
    for r in _done(cases, start, end):
        total += r.get("handle_seconds") or 0
        count += 1
    return formulas.aht(total, count)


def uph_from_rows(
    cases: Iterable[Row],
    shifts: Iterable[Row],
    start: datetime | None = None,
    end: datetime | None = None,
) -> float | None:
    """UPH of a group: its completed cases in the period over its moderators' shifts' productive hours.

    ``shifts`` must already be the group's shifts in the period (shift rows carry a date, not a time).
    """
    return uph(completed(cases, start, end), sum(s.get("productive_seconds") or 0 for s in shifts))


def shift_totals(shifts: Iterable[Row]) -> tuple[float, float]:
    """(sum of scheduled_seconds, sum of productive_seconds) over shift rows."""
    scheduled = productive = 0.0
    for s in shifts:
        scheduled += s.get("scheduled_seconds") or 0
        productive += s.get("productive_seconds") or 0
    return scheduled, productive


# --------------------------------------------------------------------------- quality and service


def accuracy(cases: Iterable[Row]) -> float | None:
    """QA-correct cases / QA-sampled cases whose ``qa_correct`` is filled in.

    Pass the cases completed in the period: a QA result belongs to the period of its decision.
    """
    correct = graded = 0
    for r in cases:
        if r.get("qa_sampled") and r.get("qa_correct") is not None:
            graded += 1
            correct += bool(r["qa_correct"])
    return formulas.accuracy(correct, graded)


def tat_hours(case: Row) -> float | None:
    """Turnaround of a completed case in hours (completed_at - created_at); None while open."""
    return formulas.turnaround_hours(case.get("created_at"), case.get("completed_at"))


def sla_attainment(
    cases: Iterable[Row],
    sla_hours: float | Mapping[Hashable, float],
    start: datetime | None = None,
    end: datetime | None = None,
) -> float | None:
    """Completed cases with turnaround <= the queue's SLA hours / completed cases.

    Args:
        sla_hours: One SLA for all cases, or a mapping ``queue_id -> sla_hours``. A case whose
            queue has no SLA counts as completed but never as within SLA.
    """
    within = count = 0
    for r in _done(cases, start, end):
        count += 1
        limit = sla_hours.get(r.get("queue_id")) if isinstance(sla_hours, Mapping) else sla_hours
        within += formulas.within_sla(tat_hours(r), limit)
    return formulas.sla_attainment(within, count)


def tat_percentile(
    cases: Iterable[Row], q: float, start: datetime | None = None, end: datetime | None = None
) -> float | None:
    """Turnaround percentile in hours over completed cases (q=0.5 for p50, 0.9 for p90)."""
    return percentile_inc([t for r in _done(cases, start, end) if (t := tat_hours(r)) is not None], q)


def escalation_rate(cases: Iterable[Row], start: datetime | None = None, end: datetime | None = None) -> float | None:
    """Escalated / completed, over completed cases."""
    escalated = count = 0
    for r in _done(cases, start, end):
        count += 1
        escalated += bool(r.get("escalated"))
    return formulas.escalation_rate(escalated, count)


def overturn_rate(cases: Iterable[Row]) -> float | None:
    """Overturned / appealed. Pass the cases completed in the period, as for ``accuracy``."""
    overturned = appealed = 0
    for r in cases:
        if r.get("appealed"):
            appealed += 1
            overturned += bool(r.get("overturned"))
    return formulas.overturn_rate(overturned, appealed)


# --------------------------------------------------------------------------- streaming aggregation


class Accumulator:
    """Sums and counts per group, fed one row at a time: 1M CSV rows in about a second.

    Example:
        acc = Accumulator(key=lambda r: (r["queue_id"],), sums=("handle_seconds",),
                          counts={"completed": lambda r: r["completed_at"] is not None})
        for row in rows: acc.add(row)
        acc.ratio(("q1",), "handle_seconds", "completed")  # AHT of q1

    ``sums`` are field names added up (empty values count as 0); ``counts`` are named predicates,
    counted where true. ``n`` counts every row of a group.
    """

    __slots__ = ("key", "sum_fields", "count_tests", "groups")

    def __init__(
        self,
        key: Callable[[Row], Hashable],
        *,
        sums: Sequence[str] = (),
        counts: Mapping[str, Callable[[Row], bool]] | None = None,
    ):
        self.key = key
        self.sum_fields = tuple(sums)
        self.count_tests = tuple((counts or {}).items())
        self.groups: dict[Hashable, list[float]] = {}

    def add(self, row: Row) -> None:
        group = self.groups.get(k := self.key(row))
        if group is None:
            group = self.groups[k] = [0.0] * (1 + len(self.sum_fields) + len(self.count_tests))
        group[0] += 1
        i = 1
        for name in self.sum_fields:
            value = row.get(name)
            if value:
                group[i] += float(value)
            i += 1
        for _, test in self.count_tests:
            if test(row):
                group[i] += 1
            i += 1

    def update(self, rows: Iterable[Row]) -> Accumulator:
        for row in rows:
            self.add(row)
        return self

    def totals(self, group: Hashable) -> dict[str, float]:
        """Every sum and count of one group (zeros for an unseen group), plus ``n``."""
        values = self.groups.get(group) or [0.0] * (1 + len(self.sum_fields) + len(self.count_tests))
        names = ("n", *self.sum_fields, *(name for name, _ in self.count_tests))
        return dict(zip(names, values, strict=True))

    def overall(self) -> dict[str, float]:
        """Sums and counts over all groups."""
        width = 1 + len(self.sum_fields) + len(self.count_tests)
        merged = [sum(g[i] for g in self.groups.values()) for i in range(width)]
        names = ("n", *self.sum_fields, *(name for name, _ in self.count_tests))
        return dict(zip(names, merged, strict=True))

    def ratio(self, group: Hashable, numerator: str, denominator: str) -> float | None:
        totals = self.totals(group)
        return ratio(totals[numerator], totals[denominator])

    def __iter__(self):
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)
