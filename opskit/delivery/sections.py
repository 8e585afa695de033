"""A report summary's sections, checked and put in the shape the templates show, by report kind.

A task declares what kind of report it made in ``Result.summary["kind"]`` (README, "What a report task
returns"); each kind has its own email and wording, and shows only what it can fill:

- ``comparison`` (the default, and what a summary without ``kind`` is): this period against the
  previous one and against targets — KPI tiles with their change, missed targets, drivers, a trend;
- ``status``: now against thresholds — the checks in breach, worst first, and what changed state;
- ``ingestion``: files read, rows merged and rejected, files quarantined, and what to fix;
- ``plan``: a horizon of weeks — demand against supply per week, and the shortfalls, worst first;
- ``reconciliation``: two datasets on a key — matched, one-sided and differing rows, per group.

Every kind may carry ``problems`` (``{"where", "problem", "fix"}``): when there are any they are the
email's headline, above everything else.

Worst first, one rule for every list of misses (missed targets, breaches, shortfalls): ascending
target attainment — actual / target when higher is better, target / actual when lower is better —
so the furthest from its goal comes first; ties keep the task's order. Entries without an attainment
come last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opskit.delivery.formats import DIRECTIONS, VALUE_KINDS
from opskit.errors import TaskError

REPORT_KINDS = ("comparison", "status", "ingestion", "plan", "reconciliation")
DEFAULT_SHARE_OF = "the total change between the two periods (each driver's effect / the total change)"
FILE_STATES = ("archived", "quarantined", "skipped", "rejected")


# ------------------------------------------------------------------------------------- checking values


def as_list(summary: Mapping[str, Any], key: str, where: str = "summary") -> list[Any]:
    """``summary[key]`` as a list ([] when absent)."""
    value = summary.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TaskError(f"{where}.{key} should be a list, got {type(value).__name__}")
    return value


def number(value: Any, where: str) -> float | int | None:
    """A number, or None (None, NaN); numbers stored as text (Decimal, numpy via JSON) convert."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TaskError(f"{where}: {value!r} is not a number")
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else value
    try:
        converted = float(str(value))
    except ValueError:
        raise TaskError(f"{where}: {value!r} is not a number") from None
    return None if math.isnan(converted) else converted


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else a TaskError naming ``where``."""
    if not isinstance(value, Mapping):
        raise TaskError(f"{where} should be a mapping, got {type(value).__name__}")
    return value


def choice(raw: Mapping[str, Any], keys: tuple[str, ...], allowed: tuple[str, ...], default: str, where: str) -> str:
    """The first of ``keys`` present in ``raw`` (else ``default``), checked against ``allowed``."""
    value = next((raw[k] for k in keys if raw.get(k) is not None), default)
    if value not in allowed:
        raise TaskError(f"{where}.{keys[0]}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def text(raw: Mapping[str, Any], key: str) -> str | None:
    """``raw[key]`` as text, or None when absent or empty."""
    value = raw.get(key)
    return None if value is None or value == "" else str(value)


def attainment(actual: float | None, target: float | None, direction: str) -> float | None:
    """DOMAIN.md target attainment (``opskit.reports.formulas.target_attainment``), for entries that
    do not carry their own: the email never recomputes a metric, only this ordering ratio."""
    if actual is None or target is None or direction == "neutral":
        return None
    if direction == "higher_is_better":
        return actual / target if target else None
    return target / actual if actual else None


def worst_first(items: list[dict[str, Any]], key: str = "attainment") -> list[dict[str, Any]]:
    """The module docstring's rule: ascending attainment, entries without one last, ties in given order."""
    return sorted(items, key=lambda i: (i[key] is None, i[key] if i[key] is not None else 0.0))


def kind_of(summary: Mapping[str, Any]) -> str:
    """The summary's report kind; ``comparison`` when it names none (summaries from before kinds)."""
    return choice(summary, ("kind",), REPORT_KINDS, "comparison", "summary")


# ------------------------------------------------------------------------------------------ every kind


def kpi(i: int, raw: Any) -> dict[str, Any]:
    """A headline tile: label, value, kind, direction, change, previous, target, note."""
    where = f"summary.kpis[{i}]"
    raw = mapping(raw, where)
    label = raw.get("label", raw.get("name"))
    if not label:
        raise TaskError(f"{where} needs a 'label' (or 'name')")
    kind = choice(raw, ("kind", "format"), VALUE_KINDS, "num", where)
    direction = choice(raw, ("direction",), DIRECTIONS, "higher_is_better", where)
    value = number(raw.get("value"), f"{where}.value")
    previous = number(raw.get("previous"), f"{where}.previous")
    # how the change is told: points for a percentage, relative for the others, or a plain
    # difference ("▲ 2") where a count is small enough that a percentage would say nothing
    change_kind = "pp" if kind == "pct" else choice(raw, ("change_kind",), ("pct", "num"), "pct", where)
    if raw.get("change") is not None:
        change = number(raw["change"], f"{where}.change")
    elif value is None or previous is None:
        change = None
    elif change_kind in ("pp", "num"):
        change = value - previous
    else:
        change = (value - previous) / abs(previous) if previous else None
    return {
        "label": str(label),
        "value": value,
        "kind": kind,
        "direction": direction,
        "change": change,
        "change_kind": change_kind,
        "previous": previous,
        "target": number(raw.get("target"), f"{where}.target"),
        "note": text(raw, "note"),
    }


def problem(i: int, raw: Any) -> dict[str, Any]:
    """A problem the reader must act on: where, what, and the fix when known."""
    where = f"summary.problems[{i}]"
    raw = mapping(raw, where)
    if not raw.get("problem"):
        raise TaskError(f"{where} needs a 'problem'")
    return {"where": text(raw, "where") or "", "problem": str(raw["problem"]), "fix": text(raw, "fix")}


# ------------------------------------------------------------------------------------------ comparison


def missed(i: int, raw: Any) -> dict[str, Any]:
    """A missed target: where, metric, actual, target, kind, direction, attainment."""
    where = f"summary.missed_targets[{i}]"
    raw = mapping(raw, where)
    actual = number(raw.get("actual"), f"{where}.actual")
    target = number(raw.get("target"), f"{where}.target")
    direction = choice(raw, ("direction",), DIRECTIONS[:2], "higher_is_better", where)
    given = number(raw.get("attainment"), f"{where}.attainment")
    return {
        "where": str(raw.get("where") or ""),
        "metric": str(raw.get("metric") or ""),
        "actual": actual,
        "target": target,
        "direction": direction,
        "attainment": given if given is not None else attainment(actual, target, direction),
        "kind": choice(raw, ("kind", "format"), VALUE_KINDS, "num", where),
    }


def driver(i: int, raw: Any) -> dict[str, Any]:
    """A driver of a change: label, share (of what ``drivers_share_of`` says), note."""
    where = f"summary.drivers[{i}]"
    raw = mapping(raw, where)
    if not raw.get("label"):
        raise TaskError(f"{where} needs a 'label'")
    return {"label": str(raw["label"]), "share": number(raw.get("share"), f"{where}.share"), "note": text(raw, "note")}


def comparison(summary: Mapping[str, Any]) -> dict[str, Any]:
    """KPI tiles against the previous period, missed targets worst first, drivers and what they share."""
    drivers = [driver(i, d) for i, d in enumerate(as_list(summary, "drivers"))]
    shares = any(d["share"] is not None for d in drivers)
    checked = number(summary.get("targets_checked"), "summary.targets_checked")
    if checked is None:
        checked = sum(1 for k in as_list(summary, "kpis") if isinstance(k, Mapping) and k.get("target") is not None)
    return {
        "targets_checked": checked,
        "missed": worst_first([missed(i, m) for i, m in enumerate(as_list(summary, "missed_targets"))]),
        "drivers": drivers,
        # every share says what it is a share of; a summary that does not say gets the plain default
        "drivers_share_of": text(summary, "drivers_share_of") or (DEFAULT_SHARE_OF if shares else None),
        "previous_period": text(summary, "previous_period"),
    }


# ---------------------------------------------------------------------------------------------- status


def check(i: int, raw: Any) -> dict[str, Any]:
    """One check against a limit: where, metric, value, limit, kind, direction, state, attainment."""
    where = f"summary.checks[{i}]"
    raw = mapping(raw, where)
    value = number(raw.get("value"), f"{where}.value")
    limit = number(raw.get("limit"), f"{where}.limit")
    direction = choice(raw, ("direction",), DIRECTIONS[:2], "lower_is_better", where)
    return {
        "where": str(raw.get("where") or ""),
        "metric": str(raw.get("metric") or ""),
        "value": value,
        "limit": limit,
        "kind": choice(raw, ("kind",), VALUE_KINDS, "num", where),
        "direction": direction,
        "state": choice(raw, ("state",), ("breach", "ok"), "ok", where),
        "attainment": attainment(value, limit, direction),
    }


def change(i: int, raw: Any) -> dict[str, Any]:
    """A change of state since the last run: where, from, to, why."""
    where = f"summary.changes[{i}]"
    raw = mapping(raw, where)
    return {
        "where": str(raw.get("where") or raw.get("name") or raw.get("queue") or ""),
        "from": str(raw.get("from") or ""),
        "to": str(raw.get("to") or ""),
        "why": text(raw, "why") or "; ".join(str(r) for r in raw.get("reasons") or []) or None,
    }


def status(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The checks in breach (worst first), the ones within limits, and the changes of state."""
    checks = [check(i, c) for i, c in enumerate(as_list(summary, "checks"))]
    as_of = summary.get("as_of")
    moment = None
    if as_of:
        try:
            moment = datetime.fromisoformat(str(as_of).replace("Z", "+00:00"))
        except ValueError:
            raise TaskError(f"summary.as_of: {as_of!r} is not an ISO date and time") from None
        if moment.tzinfo is None:
            raise TaskError(f"summary.as_of: {as_of!r} has no timezone")
    return {
        "breaches": worst_first([c for c in checks if c["state"] == "breach"]),
        "checked": number(summary.get("checked"), "summary.checked") or len(checks),
        "changes": [change(i, c) for i, c in enumerate(as_list(summary, "changes"))],
        "as_of": moment,
    }


# ------------------------------------------------------------------------------------------- ingestion


def file_entry(i: int, raw: Any) -> dict[str, Any]:
    """One file read: file, vendor, status, rows, rejected, reason."""
    where = f"summary.files[{i}]"
    raw = mapping(raw, where)
    return {
        "file": str(raw.get("file") or ""),
        "vendor": text(raw, "vendor") or "",
        "status": choice(raw, ("status",), FILE_STATES, "archived", where),
        "rows": number(raw.get("rows"), f"{where}.rows") or 0,
        "rejected": number(raw.get("rejected"), f"{where}.rejected") or 0,
        "reason": text(raw, "reason"),
    }


def ingestion(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The files received (``received``), troubled ones first, and their totals."""
    files = [file_entry(i, f) for i, f in enumerate(as_list(summary, "files"))]
    order = {"quarantined": 0, "rejected": 1, "skipped": 3, "archived": 2}
    files.sort(key=lambda f: (order[f["status"]], -f["rejected"]))
    return {
        "received": files,
        "file_totals": {
            "read": sum(f["status"] == "archived" for f in files),
            "quarantined": sum(f["status"] in ("quarantined", "rejected") for f in files),
            "skipped": sum(f["status"] == "skipped" for f in files),
            "rows": sum(f["rows"] for f in files),
            "rejected": sum(f["rejected"] for f in files),
        },
    }


# ------------------------------------------------------------------------------------------------ plan


def plan_week(i: int, raw: Any) -> dict[str, Any]:
    """One week of the horizon: week, required, supply, gap."""
    where = f"summary.weeks[{i}]"
    raw = mapping(raw, where)
    required = number(raw.get("required"), f"{where}.required")
    supply = number(raw.get("supply"), f"{where}.supply")
    gap = number(raw.get("gap"), f"{where}.gap")
    if gap is None and required is not None and supply is not None:
        gap = supply - required
    return {"week": str(raw.get("week") or ""), "required": required, "supply": supply, "gap": gap}


def shortfall(i: int, raw: Any) -> dict[str, Any]:
    """One queue-week short of supply: where, week, required, supply, gap, coverage (supply / required)."""
    where = f"summary.shortfalls[{i}]"
    raw = mapping(raw, where)
    required = number(raw.get("required"), f"{where}.required")
    supply = number(raw.get("supply"), f"{where}.supply")
    return {
        "where": str(raw.get("where") or ""),
        "week": str(raw.get("week") or ""),
        "required": required,
        "supply": supply,
        "gap": None if required is None or supply is None else supply - required,
        "attainment": attainment(supply, required, "higher_is_better"),
    }


def plan(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The horizon, demand against supply per week, and the shortfalls worst first."""
    horizon = mapping(summary.get("horizon") or {}, "summary.horizon")
    return {
        "horizon": {"first": text(horizon, "first"), "last": text(horizon, "last"), "label": text(horizon, "label")},
        "weeks": [plan_week(i, w) for i, w in enumerate(as_list(summary, "weeks"))],
        "shortfalls": worst_first([shortfall(i, s) for i, s in enumerate(as_list(summary, "shortfalls"))]),
        "shortfalls_total": number(summary.get("shortfalls_total"), "summary.shortfalls_total"),
    }


# -------------------------------------------------------------------------------------- reconciliation


def side(summary: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One side of a reconciliation: its name (a file) and how many keyed rows it had."""
    raw = mapping(summary.get(key) or {}, f"summary.{key}")
    return {"name": text(raw, "name") or key, "rows": number(raw.get("rows"), f"summary.{key}.rows")}


def group(i: int, raw: Any) -> dict[str, Any]:
    """One group of a reconciliation: group, only_left, only_right, differing."""
    where = f"summary.groups[{i}]"
    raw = mapping(raw, where)
    counts = {k: number(raw.get(k), f"{where}.{k}") or 0 for k in ("only_left", "only_right", "differing")}
    return {"group": str(raw.get("group") or ""), **counts, "problems": sum(counts.values())}


def reconciliation(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Both sides, the counts, the groups with problems (most first) and the compared totals."""
    counts = {k: number(summary.get(k), f"summary.{k}") or 0 for k in ("matched", "only_left", "only_right")}
    counts["differing"] = number(summary.get("differing"), "summary.differing") or 0
    groups = [group(i, g) for i, g in enumerate(as_list(summary, "groups"))]
    totals = []
    for column, raw in mapping(summary.get("totals") or {}, "summary.totals").items():
        raw = mapping(raw, f"summary.totals.{column}")
        left, right = number(raw.get("left"), "left"), number(raw.get("right"), "right")
        diff = None if left is None or right is None else right - left
        totals.append({"column": str(column), "left": left, "right": right, "diff": diff})
    return {
        "left": side(summary, "left"),
        "right": side(summary, "right"),
        "keys": [str(k) for k in as_list(summary, "keys")],
        "counts": counts,
        "groups": sorted((g for g in groups if g["problems"]), key=lambda g: -g["problems"]),
        "totals": totals,
    }


KIND_SECTIONS = {
    "comparison": comparison,
    "status": status,
    "ingestion": ingestion,
    "plan": plan,
    "reconciliation": reconciliation,
}
