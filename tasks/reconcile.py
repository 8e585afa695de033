"""Reconcile two datasets on key columns: rows on one side only, and values that differ."""

from __future__ import annotations

from pathlib import Path

from opskit import DataPath, Result, RunContext, task
from opskit.reports import (
    KPI,
    data_file,
    email_kpi,
    keyed_sums,
    parse_columns,
    parse_filters,
    read_side,
    reconcile_sums,
    report_for,
    save_report,
)


@task
def reconcile(
    ctx: RunContext,
    *,
    left: DataPath,
    right: DataPath,
    keys: tuple[str, ...] = ("date", "vendor", "moderator_id", "queue_id"),
    compare: tuple[str, ...] = ("handled", "handle_seconds"),
    left_columns: tuple[str, ...] = (),
    right_columns: tuple[str, ...] = (),
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
        keys: Fields that identify a row; rows with the same keys are summed.
        compare: Numeric fields to compare.
        left_columns: The left side's own headers for key or compared fields, as field=Header
            (e.g. moderator_id=Agent Login); tried before the built-in aliases.
        right_columns: The same for the right side (e.g. handled=Tickets Closed).
        tolerance: Largest difference still counted as equal (a ratio when ``relative``).
        relative: Compare |right - left| / |left| instead of |right - left|.
        only: Filters as field=value (e.g. vendor=Lumen BPO), applied to both sides.
    """
    from opskit.excel import Column  # here, not at the top: `runner.py list` imports every task

    filters = parse_filters(only)
    sides, names, notes = [], [], []
    for side, name, mapping in (("left", left, left_columns), ("right", right, right_columns)):
        path = data_file(ctx, name)
        columns = parse_columns(mapping, side)
        rows, said = read_side(
            path, ctx.tz, side=side, keys=keys, compare=compare, columns=columns, vendors=ctx.vendor_reports
        )
        sides.append(keyed_sums(rows, keys, compare, filters))
        names.append(path.name)
        notes += said
    (left_rows, left_sums), (right_rows, right_sums) = sides
    found = reconcile_sums(left_sums, right_sums, keys=keys, compare=compare, tolerance=tolerance, relative=relative)
    counts = found.counts()
    totals = found.totals()
    left_name, right_name = names

    report = report_for(ctx, "Reconciliation", task="reconcile", subject=f"{left_name} vs {right_name}")
    report.summary(
        [
            KPI(f"Keys on the left ({left_name})", counts["rows_left"], type="int", direction="neutral"),
            KPI(f"Keys on the right ({right_name})", counts["rows_right"], type="int", direction="neutral"),
            KPI("Matched on both sides", counts["matched"], type="int", direction="neutral"),
            KPI("Only on the left", counts["only_left"], target=0, direction="lower_is_better", type="int"),
            KPI("Only on the right", counts["only_right"], target=0, direction="lower_is_better", type="int"),
            KPI("On both, differing", counts["differing"], target=0, direction="lower_is_better", type="int"),
        ],
        value_header="Keys",
    )
    key_columns = [Column(f"k{i}", k, "str") for i, k in enumerate(keys)]
    both_sides = [
        Column(f"{c}_{side}", f"{c} {word}", "float")
        for c in compare
        for side, word in (("l", "left"), ("r", "right"), ("diff", "right − left"))
    ]
    by_group = [
        Column("group", "Group", "str"),
        Column("rows_left", "Keys left", "int"),
        Column("rows_right", "Keys right", "int"),
        Column("only_left", "Only left", "int", target=0, direction="lower_is_better"),
        Column("only_right", "Only right", "int", target=0, direction="lower_is_better"),
        Column("differing", "Differing", "int", target=0, direction="lower_is_better"),
    ]
    groups = found.groups()
    report.sheet("By group", groups, by_group + both_sides)
    sums = [{"column": c, **t, "diff": t["right"] - t["left"]} for c, t in totals.items()]
    report.sheet(
        "Totals",
        sums,
        [
            Column("column", "Field", "str"),
            Column("left", f"Left ({left_name})", "float"),
            Column("right", f"Right ({right_name})", "float"),
            Column("diff", "Right − left", "float"),
        ],
    )
    values = [Column(c, c, "float") for c in compare]
    report.sheet("Only in left", found.one_sided_rows("left"), key_columns + values)
    report.sheet("Only in right", found.one_sided_rows("right"), key_columns + values)
    report.sheet("Differences", found.difference_rows(), key_columns + both_sides)
    path = save_report(ctx, report, f"reconcile_{Path(left).stem}_vs_{Path(right).stem}.xlsx"[:120])
    ctx.log.info("reconcile: %s", counts)
    one_sided = counts["only_left"] + counts["only_right"]
    headline = (
        f"{left_name} and {right_name} agree on all {counts['matched']:,} keys."
        if not one_sided and not counts["differing"]
        else f"{counts['matched']:,} keys on both sides, {counts['differing']:,} of them differing;"
        f" {counts['only_left']:,} only on the left, {counts['only_right']:,} only on the right."
    )
    summary = {
        "kind": "reconciliation",
        "title": "Reconciliation",
        "headline": headline,
        **counts,
        "left": {"name": left_name, "rows": counts["rows_left"]},
        "right": {"name": right_name, "rows": counts["rows_right"]},
        "keys": list(keys),
        "groups": [{k: g[k] for k in ("group", "only_left", "only_right", "differing")} for g in groups],
        "totals": totals,
        "source_rows": {"left": left_rows, "right": right_rows},
        "notes": notes,
        "kpis": [
            email_kpi("Matched", counts["matched"], "num", "neutral"),
            email_kpi("Only on the left", counts["only_left"], "num", "lower_is_better"),
            email_kpi("Only on the right", counts["only_right"], "num", "lower_is_better"),
            email_kpi("Differing", counts["differing"], "num", "lower_is_better"),
        ],
        "columns": list(keys) + list(compare),
    }
    return Result(files=[path], rows=counts["rows_left"] + counts["only_right"], summary=summary)
