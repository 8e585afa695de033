"""The metric formulas of shared/docs/DOMAIN.md, once, as plain functions over sums and counts.

Every number a report shows goes through these functions, whichever way its sums were gathered: the
row functions of ``opskit.reports.metrics`` (over dicts) and the streaming case scan of
``opskit.reports.scan`` (over CSV text) both count, then call the same formula. A fix here changes
every report; a test (tests/test_metrics_agree.py) holds the two counting paths to identical numbers.

What counts where (DOMAIN.md): *incoming* by ``created_at``; everything measured on completed cases
(AHT, SLA, TAT, accuracy, escalation, overturn) by ``completed_at``. A case is *graded* when it was
QA-sampled and its ``qa_correct`` is filled in; it is *within SLA* when its turnaround is at most its
queue's SLA hours (``within_sla``).

A ratio whose denominator is zero (or missing) is ``None``, shown as "n/a": never 0, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

HIGHER, LOWER = "higher_is_better", "lower_is_better"
# Workload (incoming, completed, backlog): neither good nor bad, never coloured, no attainment.
NEUTRAL = "neutral"

__all__ = [
    "HIGHER",
    "LOWER",
    "NEUTRAL",
    "accuracy",
    "aht",
    "change",
    "escalation_rate",
    "overturn_rate",
    "percentile_inc",
    "point_change",
    "ratio",
    "shrinkage",
    "sla_attainment",
    "target_attainment",
    "turnaround_hours",
    "uph",
    "utilization",
    "within_sla",
]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when the denominator is zero or missing (DOMAIN.md's "n/a")."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# --------------------------------------------------------------------------- efficiency


def aht(handle_seconds: float, completed: int) -> float | None:
    """Average handle time in seconds: the handle seconds of completed cases / completed cases."""
    return ratio(handle_seconds, completed)


def uph(completed: int, productive_seconds: float | None) -> float | None:
    """Cases per productive hour: completed / (productive seconds / 3600).

    The productive seconds are the group's moderators' shifts in the period; without them (zero or
    None) there is no UPH.
    """
    return ratio(completed, productive_seconds / 3600 if productive_seconds else 0)


def utilization(handle_seconds: float, productive_seconds: float) -> float | None:
    """Handle time / productive time."""
    return ratio(handle_seconds, productive_seconds)


def shrinkage(scheduled_seconds: float, productive_seconds: float) -> float | None:
    """(scheduled - productive) / scheduled: the share of paid time not available for cases."""
    return ratio(scheduled_seconds - productive_seconds, scheduled_seconds)


# --------------------------------------------------------------------------- quality and service


def accuracy(correct: int, graded: int) -> float | None:
    """QA-correct cases / graded cases (QA-sampled with ``qa_correct`` filled in)."""
    return ratio(correct, graded)


def turnaround_hours(created_at: datetime | None, completed_at: datetime | None) -> float | None:
    """Turnaround (completed_at - created_at) in hours; None while the case is open."""
    if created_at is None or completed_at is None:
        return None
    return (completed_at - created_at).total_seconds() / 3600


def within_sla(tat_hours: float | None, sla_hours: float | None) -> bool:
    """Whether a completed case met its queue's SLA: turnaround <= SLA hours.

    A case whose queue has no SLA (``sla_hours`` None) counts as completed but never as within SLA,
    so a missing queue list lowers SLA attainment visibly instead of hiding cases.
    """
    return sla_hours is not None and tat_hours is not None and tat_hours <= sla_hours


def sla_attainment(within: int, completed: int) -> float | None:
    """Completed cases within their queue's SLA / completed cases."""
    return ratio(within, completed)


def percentile_inc(values: Sequence[float] | Iterable[float], q: float) -> float | None:
    """The q-th percentile (0 <= q <= 1) with linear interpolation, as Excel's PERCENTILE.INC.

    TAT p50 and p90 are ``percentile_inc(turnarounds, 0.5)`` and ``(…, 0.9)``. Empty values give None.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"percentile {q!r} is not between 0 and 1")
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def escalation_rate(escalated: int, completed: int) -> float | None:
    """Escalated / completed, over the cases completed in the period."""
    return ratio(escalated, completed)


def overturn_rate(overturned: int, appealed: int) -> float | None:
    """Overturned / appealed, over the cases completed in the period (an appeal belongs to its decision)."""
    return ratio(overturned, appealed)


# --------------------------------------------------------------------------- targets and change


def target_attainment(actual: float | None, target: float | None, direction: str = HIGHER) -> float | None:
    """actual / target when higher is better, target / actual when lower is better; >= 1 is met.

    None when either is missing or the denominator is zero (a lower-is-better actual of 0 is
    perfect, but the ratio is undefined: the caller shows "n/a" and can treat it as met), and for
    a neutral metric, which has no good or bad side to attain.
    """
    if direction not in (HIGHER, LOWER, NEUTRAL):
        raise ValueError(f"direction must be {HIGHER}, {LOWER} or {NEUTRAL}, not {direction!r}")
    if actual is None or target is None or direction == NEUTRAL:
        return None
    return ratio(actual, target) if direction == HIGHER else ratio(target, actual)


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change (current - previous) / |previous|, e.g. week over week; None from zero."""
    if current is None or previous is None:
        return None
    return ratio(current - previous, abs(previous))


def point_change(current: float | None, previous: float | None) -> float | None:
    """The difference current - previous: how a ratio's change is told (93.4% after 92.1% is +1.3 points)."""
    if current is None or previous is None:
        return None
    return current - previous
