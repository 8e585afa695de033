"""The summary a report task returns, in the shapes delivery turns into the email.

Delivery builds the job's email from ``Result.summary`` (README, "What a report task returns"): KPI
tiles, missed targets, drivers and a trend. These helpers build those entries with exactly the keys
the email reads, so a task states *what* it reports, not how the dicts are spelled.

Example:
    kpis = metric_kpis(now, was, ["completed", "aht", "sla_attainment"])
    summary = {"period": period.label, "kpis": email_kpis(kpis), "missed_targets": email_misses(missed),
               "drivers": email_drivers(top), **scan.gate_facts()}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opskit.reports.cuts import METRICS
from opskit.reports.formulas import HIGHER, change, point_change

# The keys of each entry the email shows; the rest of a task's own dicts stays out of the summary.
MISS_KEYS = ("where", "metric", "actual", "target", "kind", "attainment")
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
