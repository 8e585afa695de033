"""Reconcile two datasets on key columns: rows on one side only, and values that differ."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from opskit import DataError, Result, RunContext, task
from opskit.reports import VENDOR_ALIASES, VENDOR_TYPES


@task
def reconcile(
    ctx: RunContext,
    *,
    left: str,
    right: str,
    keys: tuple[str, ...] = ("date", "vendor", "moderator_id", "queue_id"),
    compare: tuple[str, ...] = ("handled", "handle_seconds"),
    tolerance: float = 0.0,
    relative: bool = False,
    only: tuple[str, ...] = (),
) -> Result:
    """Compare two datasets (e.g. the platform's case export against a vendor workbook) key by key.

    Args:
        left: The reference: a case export CSV (aggregated to the vendor daily report grain: one
            row per completion day in the job's timezone, vendor, site, moderator and queue) or any
            CSV/XLSX table. Relative to the data folder.
        right: The other side, e.g. a vendor workbook or vendor_consolidation's master workbook;
            headers are mapped through the vendor daily report aliases.
        keys: Columns that identify a row; rows with the same keys are summed.
        compare: Numeric columns to compare.
        tolerance: Largest difference still counted as equal (a ratio when ``relative``).
        relative: Compare |right - left| / |left| instead of |right - left|.
        only: Filters as column=value (e.g. vendor=Lumen BPO), applied to both sides.
    """
    filters = [tuple(f.split("=", 1)) for f in only]
    if any(len(f) != 2 for f in filters):
        raise DataError(f"only: {only!r} is not column=value", hint="e.g. only=vendor=Lumen BPO")
    sides = [_load(ctx, name, keys, compare, dict(filters)) for name in (left, right)]
    (lrows, lsums), (rrows, rsums) = sides
    group = "vendor" if "vendor" in keys else keys[0]
    gi = keys.index(group)
    only_left = [k for k in lsums if k not in rsums]
    only_right = [k for k in rsums if k not in lsums]
    differing = []
    for k in lsums.keys() & rsums.keys():
        diffs = [rsums[k][i] - lsums[k][i] for i in range(len(compare))]
        if any(_beyond(d, lsums[k][i], tolerance, relative) for i, d in enumerate(diffs)):
            differing.append(k)
    groups: dict[str, dict[str, Any]] = {}
    for name, found in (
        ("only_left", only_left),
        ("only_right", only_right),
        ("differing", differing),
        ("rows_left", lsums),
        ("rows_right", rsums),
    ):
        for k in found:
            g = groups.setdefault(
                k[gi],
                {
                    "group": k[gi],
                    "rows_left": 0,
                    "rows_right": 0,
                    "only_left": 0,
                    "only_right": 0,
                    "differing": 0,
                    **{f"{c}_{s}": 0.0 for c in compare for s in "lr"},
                },
            )
            g[name] += 1
            if name in ("rows_left", "rows_right"):
                sums = lsums if name == "rows_left" else rsums
                for i, c in enumerate(compare):
                    g[f"{c}_{name[5]}"] += sums[k][i]
    for g in groups.values():
        for c in compare:
            g[f"{c}_diff"] = g[f"{c}_r"] - g[f"{c}_l"]
    path = ctx.path(f"reconcile_{Path(left).stem}_vs_{Path(right).stem}.xlsx"[:120])
    with ctx.output(path) as tmp:
        _workbook(
            ctx,
            tmp,
            keys,
            compare,
            lsums,
            rsums,
            only_left,
            only_right,
            differing,
            sorted(groups.values(), key=lambda g: str(g["group"])),
        )
    counts = {
        "rows_left": len(lsums),
        "rows_right": len(rsums),
        "matched": len(lsums) - len(only_left),
        "only_left": len(only_left),
        "only_right": len(only_right),
        "differing": len(differing),
    }
    totals = {
        c: {"left": sum(v[i] for v in lsums.values()), "right": sum(v[i] for v in rsums.values())}
        for i, c in enumerate(compare)
    }
    ctx.log.info("reconcile: %s", counts)
    summary = {
        **counts,
        "totals": totals,
        "source_rows": {"left": lrows, "right": rrows},
        "kpis": [
            {
                "label": label,
                "value": counts[key],
                "kind": "num",
                "change": None,
                "direction": "lower_is_better",
            }
            for key, label in (
                ("only_left", "Only in left"),
                ("only_right", "Only in right"),
                ("differing", "Differing rows"),
            )
        ],
        "missed_targets": [],
        "drivers": [],
        "columns": list(keys) + list(compare),
    }
    return Result(files=[path], rows=len(lsums) + len(only_right), summary=summary)


def _beyond(diff: float, base: float, tolerance: float, relative: bool) -> bool:
    if relative:
        return abs(diff) > tolerance * abs(base) if base else diff != 0
    return abs(diff) > tolerance + 1e-9


def _norm(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _load(
    ctx: RunContext,
    name: str,
    keys: tuple[str, ...],
    compare: tuple[str, ...],
    only: dict[str, str],
) -> tuple[int, dict[tuple[str, ...], list[float]]]:
    """(source rows, key -> summed compare values) of one side."""
    path = Path(name) if Path(name).is_absolute() else ctx.data_dir / name
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    rows = _case_export(ctx, path) if _is_case_export(path) else _table(path, keys, compare)
    sums: dict[tuple[str, ...], list[float]] = {}
    n = 0
    for row in rows:
        if any(c in row and _norm(row[c]) != v for c, v in only.items()):  # absent: no filter
            continue
        n += 1
        k = tuple(_norm(row.get(c)) for c in keys)
        acc = sums.setdefault(k, [0.0] * len(compare))
        for i, c in enumerate(compare):
            acc[i] += float(row.get(c) or 0)
    return n, sums


def _is_case_export(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    return "case_id" in header and "completed_at" in header


def _case_export(ctx: RunContext, path: Path) -> list[dict[str, Any]]:
    """Completed cases as vendor daily report rows (one per case; summed by key later)."""
    import csv

    out = []
    days: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            done = r["completed_at"]
            if not done or not r["vendor"]:
                continue
            day = days.get(done[:16])
            if day is None:
                moment = datetime.fromisoformat(done[:16] + "+00:00")
                day = days[done[:16]] = moment.astimezone(ctx.tz).date().isoformat()
            out.append(
                {
                    "date": day,
                    "vendor": r["vendor"],
                    "site": r["site"],
                    "moderator_id": r["moderator_id"],
                    "queue_id": r["queue_id"],
                    "handled": 1,
                    "handle_seconds": float(r["handle_seconds"] or 0),
                    "qa_sampled": int(r["qa_sampled"] or 0),
                    "qa_correct": int(r["qa_correct"] or 0),
                }
            )
    return out


def _table(path: Path, keys: tuple[str, ...], compare: tuple[str, ...]) -> list[dict[str, Any]]:
    from opskit.excel import read_table

    table = read_table(
        path,
        aliases=VENDOR_ALIASES,
        types=VENDOR_TYPES,
        dayfirst=True,
        required=[c for c in (*keys, *compare) if c not in ("vendor", "handle_seconds")],
    )
    rows = list(table.rows)
    for row in rows:
        if row.get("handle_seconds") is None and row.get("aht_seconds") is not None:
            row["handle_seconds"] = row["aht_seconds"] * (row.get("handled") or 0)
    return rows


def _workbook(
    ctx: RunContext,
    tmp: Path,
    keys: tuple[str, ...],
    compare: tuple[str, ...],
    lsums: dict,
    rsums: dict,
    only_left: list,
    only_right: list,
    differing: list,
    groups: list[dict[str, Any]],
) -> None:
    from opskit.excel import Column, Report
    from opskit.reports import KPI

    report = Report(
        "Reconciliation",
        created=ctx.scheduled_for,
        keywords=tuple(x for x in ("reconcile", ctx.job) if x),
    )
    report.summary(
        [
            KPI("Rows left", len(lsums), type="int"),
            KPI("Rows right", len(rsums), type="int"),
            KPI("Only in left", len(only_left), target=0, direction="lower_is_better", type="int"),
            KPI("Only in right", len(only_right), target=0, direction="lower_is_better", type="int"),
            KPI("Differing rows", len(differing), target=0, direction="lower_is_better", type="int"),
            *(
                KPI(
                    f"{c} left / right",
                    sum(v[i] for v in lsums.values()),
                    previous=sum(v[i] for v in rsums.values()),
                    type="float",
                )
                for i, c in enumerate(compare)
            ),
        ]
    )
    kcols = [Column(f"k{i}", k, "str") for i, k in enumerate(keys)]
    report.sheet(
        "By group",
        groups,
        [
            Column("group", "Group", "str"),
            Column("rows_left", "Rows left", "int"),
            Column("rows_right", "Rows right", "int"),
            Column("only_left", "Only left", "int", target=0, direction="lower_is_better"),
            Column("only_right", "Only right", "int", target=0, direction="lower_is_better"),
            Column("differing", "Differing", "int", target=0, direction="lower_is_better"),
            *(
                Column(f"{c}_{s}", f"{c} {word}", "float")
                for c in compare
                for s, word in (("l", "left"), ("r", "right"), ("diff", "diff"))
            ),
        ],
    )
    for name, found, sums in (
        ("Only in left", only_left, lsums),
        ("Only in right", only_right, rsums),
    ):
        rows = [
            {**{f"k{i}": v for i, v in enumerate(k)}, **dict(zip(compare, sums[k], strict=True))} for k in sorted(found)
        ]
        report.sheet(name, rows, kcols + [Column(c, c, "float") for c in compare])
    rows = []
    for k in sorted(differing):
        row: dict[str, Any] = {f"k{i}": v for i, v in enumerate(k)}
        for i, c in enumerate(compare):
            row.update(
                {
                    f"{c}_l": lsums[k][i],
                    f"{c}_r": rsums[k][i],
                    f"{c}_diff": rsums[k][i] - lsums[k][i],
                }
            )
        rows.append(row)
    report.sheet(
        "Differences",
        rows,
        kcols
        + [
            Column(f"{c}_{s}", f"{c} {word}", "float")
            for c in compare
            for s, word in (("l", "left"), ("r", "right"), ("diff", "diff"))
        ],
    )
    report.save(tmp)
