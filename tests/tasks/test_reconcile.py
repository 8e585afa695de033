"""reconcile: the platform's case export against a vendor's own workbook."""

from __future__ import annotations

import functools
import json
import shutil
from datetime import UTC

import pytest
from openpyxl import load_workbook

KEYS = ("date", "moderator_id", "queue_id")


@pytest.fixture
def northwind(console, tmp_path):
    from demo.fixtures import write_vendor_workbooks

    paths = write_vendor_workbooks(console.db, tmp_path / "data", date_from="2026-11-09", date_to="2026-11-15")
    return next(p for p in paths if p.name.startswith("northwind"))


def test_vendor_workbook_matches_the_platform(console, northwind, tmp_path, make_ctx, run_task):
    ctx = make_ctx("reconcile", console.data_dir, tz=UTC)
    result = run_task(
        "reconcile",
        ctx=ctx,
        left=str(console.all_cases),
        right=str(northwind),
        keys=KEYS,
        only=("vendor=Northwind Services", "date=2026-11-12"),
    )
    s = result.summary
    assert s["only_right"] == 0 and s["differing"] == 0 and s["matched"] == s["rows_right"] > 0
    assert (
        s["totals"]["handled"]["left"]
        == s["totals"]["handled"]["right"]
        == console.sql(
            "SELECT count(*) FROM cases JOIN moderators USING (moderator_id) WHERE vendor = "
            "'Northwind Services' AND substr(completed_at, 1, 10) = '2026-11-12'"
        )[0][0]
    )


def test_differences_and_one_sided_rows_are_listed(console, northwind, tmp_path, make_ctx, run_task):
    wb = load_workbook(northwind)
    ws = wb["Daily Report"]
    ws["E2"] = ws["E2"].value + 2  # handled off by two
    ws["F3"] = ws["F3"].value + 0.5  # handle seconds off by half a second
    removed = [c.value for c in ws[4]]
    ws.delete_rows(4)
    wb.save(northwind)
    ctx = make_ctx("reconcile", console.data_dir, tz=UTC)
    run = functools.partial(run_task, "reconcile")
    result = run(
        ctx=ctx,
        left=str(console.all_cases),
        right=str(northwind),
        keys=KEYS,
        only=("vendor=Northwind Services",),
    )
    s = result.summary
    assert (s["only_right"], s["differing"]) == (0, 2)
    only_left_sql = console.sql(
        "SELECT count(*) FROM (SELECT 1 FROM cases JOIN moderators USING (moderator_id) WHERE vendor"
        " = 'Northwind Services' AND completed_at IS NOT NULL AND NOT (completed_at >= '2026-11-09'"
        " AND completed_at < '2026-11-16') GROUP BY substr(completed_at, 1, 10), moderator_id,"
        " queue_id)"
    )[0][0]
    assert s["only_left"] == only_left_sql + 1  # the other weeks + the row deleted from the workbook
    out = load_workbook(result.files[0])
    assert out.sheetnames == ["Summary", "By group", "Totals", "Only in left", "Only in right", "Differences"]
    diff = out["Differences"]
    header = [c.value for c in diff[1]]
    rows = [dict(zip(header, r, strict=True)) for r in diff.iter_rows(min_row=2, values_only=True)]
    assert sorted(r["handled right − left"] for r in rows) == [0, 2]
    assert sorted(r["handle_seconds right − left"] for r in rows) == [0, 0.5]
    left_only = [r[:3] for r in out["Only in left"].iter_rows(min_row=2, values_only=True)]
    assert (removed[1].date().isoformat(), removed[0], removed[2]) in left_only
    assert out["Differences"].freeze_panes == "A2"
    tolerant = run(
        ctx=ctx,
        left=str(console.all_cases),
        right=str(northwind),
        keys=KEYS,
        only=("vendor=Northwind Services",),
        tolerance=1.0,
    )
    assert tolerant.summary["differing"] == 1  # 0.5 s is within 1, 2 cases are not
    relative = run(
        ctx=ctx,
        left=str(console.all_cases),
        right=str(northwind),
        keys=KEYS,
        only=("vendor=Northwind Services",),
        tolerance=0.01,
        relative=True,
    )
    assert relative.summary["differing"] >= 1


def test_by_group_summarises_the_master_workbook(console, tmp_path, run_cli, tmp_project):
    from demo.fixtures import vendor_reports_config, write_vendor_workbooks

    data = tmp_path / "data"
    write_vendor_workbooks(console.db, data / "inbox" / "vendors", date_from="2026-11-09", date_to="2026-11-15")
    roots = f"  data_roots: [{data}, {console.all_cases.parent}]\n"  # the console's export lives beside its data
    tmp_project.write_config(f"timezone: UTC\npaths:\n  data: {data}\n{roots}" + vendor_reports_config())
    consolidated = json.loads(run_cli("run", "vendor_consolidation", "--json").stdout)
    master = shutil.copy(consolidated["result"]["files"][0], data)  # file parameters stay inside the data roots
    result = run_cli(
        "run",
        "reconcile",
        "-p",
        f"left={console.all_cases}",
        "-p",
        f"right={master}",
        "-p",
        "only=date=2026-11-10",
        "--json",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    s = record["result"]["summary"]
    wb = load_workbook(record["result"]["files"][0])
    groups = {r[0]: r for r in wb["By group"].iter_rows(min_row=2, values_only=True)}
    # Kestrel reports AHT rounded to whole seconds, so its handle time differs by a few seconds
    assert s["only_right"] == 0 and s["differing"] == groups["Kestrel Moderation"][5] > 0
    assert groups["in-house"][3] > 0 and groups["in-house"][2] == 0  # no report from in-house
    assert groups["Lumen BPO"][3:6] == (0, 0, 0)


def test_a_workbook_from_an_unknown_vendor_is_an_error_not_a_vendor_named_after_the_file(
    console, northwind, tmp_path, make_ctx, run_task
):
    from opskit.errors import DataError

    renamed = tmp_path / "weekly_bpo_export.xlsx"
    renamed.write_bytes(northwind.read_bytes())
    ctx = make_ctx("reconcile", console.data_dir, tz=UTC)
    with pytest.raises(DataError) as caught:
        run_task("reconcile", ctx=ctx, left=str(console.all_cases), right=str(renamed))
    assert str(caught.value).startswith(
        "right side (weekly_bpo_export.xlsx) has no vendor column, and no vendor_reports.vendors pattern"
    )


def test_a_raw_vendor_workbook_matches_on_the_default_keys(console, northwind, tmp_path, make_ctx, run_task):
    """The default keys hold vendor, which a vendor's own workbook has no column for: it comes from the
    file name, so the keys match instead of every row being one-sided."""
    ctx = make_ctx("reconcile", console.data_dir, tz=UTC)
    result = run_task(
        "reconcile", ctx=ctx, left=str(console.all_cases), right=str(northwind), only=("date=2026-11-12",)
    )
    s = result.summary
    assert s["kind"] == "reconciliation" and s["matched"] == s["rows_right"] > 0
    assert s["only_right"] == 0 and s["differing"] == 0
    assert s["left"] == {"name": console.all_cases.name, "rows": s["rows_left"]}
    assert s["right"]["name"] == northwind.name
    assert s["notes"] == [
        f"right side ({northwind.name}) has no vendor column: vendor 'Northwind Services' by its file name"
        " (config.yaml vendor_reports.vendors)."
    ]
    summary = load_workbook(result.files[0])["Summary"]
    assert [c.value for c in summary[1]] == ["Metric", "Keys", "Target", "Attainment", "Status"]
    assert summary["A2"].value == f"Keys on the left ({console.all_cases.name})"


def test_a_column_mapping_reads_headers_no_alias_knows(console, northwind, tmp_path, make_ctx, run_task):
    wb = load_workbook(northwind)
    ws = wb["Daily Report"]
    header = [c.value for c in ws[1]]
    renamed = {"moderator": "Login", "cases_handled": "Tickets closed"}
    for col, text in enumerate(header, start=1):
        if text in renamed:
            ws.cell(1, col).value = renamed[text]
    wb.save(northwind)
    ctx = make_ctx("reconcile", console.data_dir, tz=UTC)
    run = functools.partial(run_task, "reconcile")
    from opskit.errors import DataError

    with pytest.raises(DataError) as info:
        run(ctx=ctx, left=str(console.all_cases), right=str(northwind), only=("date=2026-11-12",))
    message = str(info.value)
    assert message.startswith(f"right side ({northwind.name}): ") and "moderator_id" in message
    assert message.endswith("Map the field to one of its headers with right_columns=field=Header")
    mapped = run(
        ctx=ctx,
        left=str(console.all_cases),
        right=str(northwind),
        only=("date=2026-11-12",),
        right_columns=("moderator_id=Login", "handled=Tickets closed"),
    )
    assert mapped.summary["matched"] == mapped.summary["rows_right"] > 0 and mapped.summary["differing"] == 0
