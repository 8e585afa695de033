"""A case scan's groups as report rows: each group's metrics beside its targets, the misses, the trend.

``cut_rows`` makes the rows of one sheet ("By queue", "By vendor", ...): one per group of a cut, with
the DOMAIN.md metrics of ``Totals.metrics`` and a ``<metric>_target`` column where the targets table
has one. ``misses`` lists every metric that misses its target, worst first, for the Exceptions sheet
and the email. ``METRICS`` is the catalogue they share: label, the email's kind, and direction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opskit.errors import DataError
from opskit.period import Period
from opskit.reports.formulas import HIGHER, LOWER, NEUTRAL, target_attainment
from opskit.reports.inputs import Target
from opskit.reports.scan import CUTS, UNASSIGNED, CaseScan

# metric -> (label, email kind, direction); the order is the Summary sheet's. Incoming and completed
# are workload (DOMAIN.md): neutral, never coloured good or bad.
METRICS: dict[str, tuple[str, str, str]] = {
    "incoming": ("Incoming", "num", NEUTRAL),
    "completed": ("Completed", "num", NEUTRAL),
    "aht": ("AHT (s)", "duration", LOWER),
    "sla_attainment": ("SLA attainment", "pct", HIGHER),
    "accuracy": ("Accuracy", "pct", HIGHER),
    "tat_p50": ("TAT p50 (h)", "rate", LOWER),
    "tat_p90": ("TAT p90 (h)", "rate", LOWER),
    "escalation_rate": ("Escalation rate", "pct", LOWER),
    "overturn_rate": ("Overturn rate", "pct", LOWER),
    "uph": ("UPH", "rate", HIGHER),
}


def check_cuts(cuts: Iterable[str]) -> None:
    """Refuse a cut the scan cannot make, before any file is read.

    Raises:
        DataError: naming the unknown cuts and the known ones.
    """
    bad = [c for c in cuts if c not in CUTS]
    if bad:
        raise DataError(f"unknown cut(s) {', '.join(bad)}", hint=f"Use {', '.join(CUTS)}")


def cut_rows(
    scan: CaseScan,
    window: str,
    dim: str,
    *,
    targets: Mapping[tuple[str, str, str], Target],
    sla: bool,
    productive: Mapping[str, Mapping[str, float]] | None,
    min_cases: int = 0,
) -> list[dict[str, Any]]:
    """One row per group of ``dim``: its metrics, and ``<metric>_target`` where a target exists.

    UPH is filled for vendor and site (and all) only: shifts belong to moderators, not queues.
    """
    level = "all" if dim == "all" else dim
    rows = []
    for key, totals in sorted(scan.cut(window, dim).items()):
        if totals.completed < min_cases:
            continue
        prod = productive.get(dim, {}).get(key) if productive is not None else None
        row: dict[str, Any] = {"key": key, **totals.metrics(sla=sla, productive_seconds=prod)}
        if dim == "queue":
            name, channel, market = scan.queues.get(key, ("", "", ""))
            row.update(name=name, channel=channel, market=market)
        for metric in METRICS:
            t = targets.get((level, key, metric))
            row[f"{metric}_target"] = t.value if t else None
        rows.append(row)
    return rows


def productive_by(
    scan: CaseScan, shifts: Mapping[str, float], moderators: Mapping[str, tuple[str, str]] | None = None
) -> dict[str, dict[str, float]]:
    """Productive seconds per cut and group — ``{"vendor": {...}, "site": {...}, "all": {"all": s}}`` —
    from per-moderator shift totals (``read_shifts``), for UPH.

    A moderator's vendor and site come from ``moderators`` (``read_moderators``, the moderator table)
    when given and not blank there, else from their case rows in the scan; one with neither counts as
    "(unassigned)". Each cut is summed apart, so a site named like a vendor is not counted twice.
    """
    out: dict[str, dict[str, float]] = {"vendor": {}, "site": {}, "all": {}}
    for moderator, seconds in shifts.items():
        listed = (moderators or {}).get(moderator, ("", ""))
        seen = scan.moderators.get(moderator, ("", ""))
        vendor, site = (a or b or UNASSIGNED for a, b in zip(listed, seen, strict=True))  # a blank cell is no say
        for dim, key in (("vendor", vendor), ("site", site), ("all", "all")):
            out[dim][key] = out[dim].get(key, 0.0) + seconds
    return out


def misses(
    rows: Iterable[Mapping[str, Any]], dim: str, targets: Mapping[tuple[str, str, str], Target]
) -> list[dict[str, Any]]:
    """Every metric of every row that misses its target, worst first (``worst_first``: ascending attainment).

    Each miss: where (in words), metric (its label), actual, target, kind, attainment, and the cut,
    key and metric_key it came from. Attainment is direction-aware (``formulas.target_attainment``) and
    uses the metric's own direction (DOMAIN.md, ``METRICS``), as the Summary and cut sheets colour it: a
    targets row without a direction, or with the other one, cannot turn a met AHT target into a miss.
    Workload (incoming, completed) is neutral: never a miss, whatever its target.
    """
    out = []
    level = "all" if dim == "all" else dim
    for row in rows:
        for metric, (label, kind, direction) in METRICS.items():
            t = targets.get((level, row["key"], metric))
            actual = row.get(metric)
            if t is None or actual is None:
                continue
            attainment = target_attainment(actual, t.value, direction)
            if attainment is not None and attainment < 1:
                where = (
                    "Overall"
                    if dim == "all"
                    else row.get("name") or row["key"]
                    if dim == "queue"
                    else f"{dim.capitalize()} {row['key']}"
                )
                out.append(
                    {
                        "where": where,
                        "metric": label,
                        "actual": actual,
                        "target": t.value,
                        "kind": kind,
                        "direction": direction,
                        "attainment": attainment,
                        "cut": dim,
                        "key": row["key"],
                        "metric_key": metric,
                    }
                )
    return worst_first(out)


def worst_first(items: Iterable[Mapping[str, Any]], key: str = "attainment") -> list[Any]:
    """The one rule for every list of misses (missed targets, breaches, shortfalls): ascending target
    attainment, so the furthest from its goal comes first; entries without one last; ties keep their
    order. The email orders its lists by the same rule."""
    return sorted(items, key=lambda i: (i.get(key) is None, i.get(key) or 0.0))


def daily_rows(scan: CaseScan, *, sla: bool, days: Period | None = None) -> list[dict[str, Any]]:
    """The daily trend of a scan (``trend=`` given to ``scan_cases``), one row a day in date order.

    Each row: date, incoming, completed, aht, sla_attainment (None when ``sla`` is False).

    Args:
        days: Only the days of this period; every day of the trend when None.
    """
    return [
        {
            "date": d,
            "aht": t.metrics()["aht"],
            "incoming": t.incoming,
            "completed": t.completed,
            "sla_attainment": t.metrics(sla=sla)["sla_attainment"],
        }
        for d, t in sorted(scan.daily.items())
        if days is None or d in days
    ]
