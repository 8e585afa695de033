"""The summary a report task returns, in the shapes delivery turns into the email.

Delivery builds the job's email from ``Result.summary`` (README, "What a report task returns"). A
summary declares its ``kind`` (comparison, status, ingestion, plan, reconciliation) and carries the
entries of that kind: KPI tiles, missed targets, drivers and a trend for a comparison; checks against
limits for a status; files for an ingestion; weeks and shortfalls for a plan; both sides and their
differences for a reconciliation; ``problems`` for any. These helpers build those entries with exactly
the keys the email reads, so a task states *what* it reports, not how the dicts are spelled.

Example:
    kpis = metric_kpis(now, was, ["completed", "aht", "sla_attainment"])
    summary = {"period": period.label, "kpis": email_kpis(kpis), "missed_targets": email_misses(missed),
               "drivers": email_drivers(top), **scan.gate_facts()}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opskit.reports.cuts import METRICS
from opskit.reports.formulas import HIGHER, LOWER, change, point_change

# The keys of each entry the email shows; the rest of a task's own dicts stays out of the summary.
MISS_KEYS = ("where", "metric", "actual", "target", "kind", "direction", "attainment")
DRIVER_KEYS = ("label", "share", "note")


def email_change(metric: str, value: float | None, previous: float | None) -> float | None:
    """The email's change of a METRICS metric: in points (as a ratio) for pct metrics, relative otherwise."""
    if METRICS[metric][1] == "pct":
        return point_change(value, previous)
    return change(value, previous)


def email_kpi(
    label: str,
    value: float | None,
    kind: str = "num",
    direction: str = HIGHER,
    *,
    change: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One KPI tile: label, value, kind (num / pct / duration / rate), change, direction, and ``extra``.

    ``change`` is relative (0.05 = +5%), or in points for a pct KPI; None shows no change.
    """
    return {"label": label, "value": value, "kind": kind, "change": change, "direction": direction, **extra}


def metric_kpis(now: Mapping[str, Any], was: Mapping[str, Any], metrics: Iterable[str]) -> list[dict[str, Any]]:
    """KPI tiles of METRICS metrics from this period's row and the previous period's (``cut_rows``).

    Each tile also carries ``target`` (the row's ``<metric>_target``), ``previous`` and ``metric``:
    the workbook's Summary sheet uses them; ``email_kpis`` drops the last two for the email.
    """
    return [
        email_kpi(
            METRICS[m][0],
            now.get(m),
            METRICS[m][1],
            METRICS[m][2],
            change=email_change(m, now.get(m), was.get(m)),
            target=now.get(f"{m}_target"),
            previous=was.get(m),
            metric=m,
        )
        for m in metrics
    ]


def email_kpis(kpis: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tiles without the workbook-only keys (``previous``, ``metric``)."""
    return [{k: v for k, v in kpi.items() if k not in ("previous", "metric")} for kpi in kpis]


def email_misses(missed: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Missed targets (``cuts.misses``) as the email lists them: where, metric, actual, target, kind, attainment."""
    return [{k: m[k] for k in MISS_KEYS} for m in missed]


def email_drivers(top: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Drivers of a change (``drivers.drivers``) as the email lists them: label, share, note."""
    return [{k: d[k] for k in DRIVER_KEYS} for d in top]


def email_series(rows: Sequence[Mapping[str, Any]], series: Mapping[str, str], *, x: str = "date") -> dict[str, Any]:
    """Trend lines for the email's chart: ``{label: [[x as ISO text, value], ...]}`` per ``series`` label -> key."""
    return {label: [[r[x].isoformat(), r[key]] for r in rows] for label, key in series.items()}


def problem(where: str, what: str, fix: str | None = None) -> dict[str, Any]:
    """A problem the reader must act on, for ``summary["problems"]``: the email's headline when any.

    Args:
        where: The file, row, queue or vendor it concerns ("kestrel_2026-11-15.xlsx").
        what: What is wrong, in one line.
        fix: What to do about it, when known.
    """
    return {"where": where, "problem": what, "fix": fix}


def status_check(
    where: str, metric: str, value: float | None, limit: float, *, kind: str = "num", direction: str = LOWER
) -> dict[str, Any]:
    """One check of a status report: a value against its limit, in breach when it is beyond it.

    ``direction`` says which side is good: lower_is_better (a backlog over its limit is a breach),
    higher_is_better (a service level under its floor is).
    """
    if value is None:
        state = "ok"
    elif direction == LOWER:
        state = "breach" if value > limit else "ok"
    else:
        state = "breach" if value < limit else "ok"
    return {"where": where, "metric": metric, "value": value, "limit": limit, "kind": kind, "direction": direction} | {
        "state": state
    }


def drivers_share_of(label: str, baseline: str, current: str, total: str) -> str:
    """The words that say what every driver's share is a share of, for ``summary["drivers_share_of"]``
    and the workbook's Drivers sheet: "the AHT change from 2026-W45 to 2026-W46 (+10.9 s): each
    driver's effect / the total change"."""
    return f"the {label} change from {baseline} to {current} ({total}): each driver's effect / the total change"


def trend_scale(rows: Sequence[Mapping[str, Any]], keys: Iterable[str]) -> tuple[float, float] | None:
    """One value-axis range for a trend, given to both the email's chart (``summary["trend"]``'s
    ``y_min``/``y_max``) and the workbook's (``Report.trend(y_range=...)``), so both show the same
    series on the same scale: the values' span with 5% air, on round numbers (1, 2 or 5 x 10^n),
    from 0 when every value is positive and the span reaches near it. None without values."""
    values = [float(r[k]) for r in rows for k in keys if r.get(k) is not None]
    if not values:
        return None
    low, high = min(values), max(values)
    if low == high:
        low, high = low - (abs(low) * 0.1 or 1), high + (abs(high) * 0.1 or 1)
    span = high - low
    rough = span / 5
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    bottom = math.floor((low - span * 0.05) / step) * step
    top = math.ceil((high + span * 0.05) / step) * step
    if low >= 0 and (bottom < 0 or bottom <= span * 0.5):
        bottom = 0.0
    return float(bottom), float(top)
