"""Reconcile two datasets on key columns: rows on one side only, and values that differ."""

from __future__ import annotations

from pathlib import Path

from opskit import Result, RunContext, task
from opskit.reports import (
    KPI,
    case_export_rows,
    complete_vendor_row,
    data_file,
    email_kpi,
    is_case_export,
    keyed_sums,
    parse_filters,
    read_vendor_report,
    reconcile_sums,
    report_for,
    save_report,
)


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
    from opskit.excel import Column  # here, not at the top: `runner.py list` imports every task

    filters = parse_filters(only)
    sides = []
    for name in (left, right):
        path = data_file(ctx, name)
        if is_case_export(path):
            rows = case_export_rows(path, ctx.tz)
        else:
            required = [c for c in (*keys, *compare) if c not in ("vendor", "handle_seconds")]
            rows = [complete_vendor_row(r) for r in read_vendor_report(path, required=required).rows]
        sides.append(keyed_sums(rows, keys, compare, filters))
    (left_rows, left_sums), (right_rows, right_sums) = sides
    found = reconcile_sums(left_sums, right_sums, keys=keys, compare=compare, tolerance=tolerance, relative=relative)
    counts = found.counts()

    totals = found.totals()
    report = report_for(ctx, "Reconciliation", task="reconcile")
    report.summary(
        [
            KPI("Rows left", counts["rows_left"], type="int"),
            KPI("Rows right", counts["rows_right"], type="int"),
            KPI("Only in left", counts["only_left"], target=0, direction="lower_is_better", type="int"),
            KPI("Only in right", counts["only_right"], target=0, direction="lower_is_better", type="int"),
            KPI("Differing rows", counts["differing"], target=0, direction="lower_is_better", type="int"),
            *(KPI(f"{c} left / right", t["left"], previous=t["right"]) for c, t in totals.items()),
        ]
    )
    key_columns = [Column(f"k{i}", k, "str") for i, k in enumerate(keys)]
    both_sides = [
        Column(f"{c}_{side}", f"{c} {word}", "float")
        for c in compare
        for side, word in (("l", "left"), ("r", "right"), ("diff", "diff"))
    ]
    by_group = [
        Column("group", "Group", "str"),
        Column("rows_left", "Rows left", "int"),
        Column("rows_right", "Rows right", "int"),
        Column("only_left", "Only left", "int", target=0, direction="lower_is_better"),
        Column("only_right", "Only right", "int", target=0, direction="lower_is_better"),
        Column("differing", "Differing", "int", target=0, direction="lower_is_better"),
    ]
    report.sheet("By group", found.groups(), by_group + both_sides)
    values = [Column(c, c, "float") for c in compare]
    report.sheet("Only in left", found.one_sided_rows("left"), key_columns + values)
    report.sheet("Only in right", found.one_sided_rows("right"), key_columns + values)
    report.sheet("Differences", found.difference_rows(), key_columns + both_sides)
    path = save_report(ctx, report, f"reconcile_{Path(left).stem}_vs_{Path(right).stem}.xlsx"[:120])
    ctx.log.info("reconcile: %s", counts)
    summary = {
        **counts,
        "totals": totals,
        "source_rows": {"left": left_rows, "right": right_rows},
        "kpis": [
            email_kpi("Only in left", counts["only_left"], "num", "lower_is_better"),
            email_kpi("Only in right", counts["only_right"], "num", "lower_is_better"),
            email_kpi("Differing rows", counts["differing"], "num", "lower_is_better"),
        ],
        "missed_targets": [],
        "drivers": [],
        "columns": list(keys) + list(compare),
    }
    return Result(files=[path], rows=counts["rows_left"] + counts["only_right"], summary=summary)
