"""vendor_consolidation over the console's messy vendor workbooks: merge, validate, archive, quarantine."""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from opskit.reports import VENDOR_FIELDS


@pytest.fixture
def inbox(console, tmp_path):
    from demo.fixtures import write_vendor_workbooks

    data = tmp_path / "data"
    folder = data / "inbox" / "vendors"
    paths = write_vendor_workbooks(console.db, folder, date_from="2026-11-09", date_to="2026-11-15")
    northwind = next(p for p in paths if p.name.startswith("northwind"))
    wb = load_workbook(northwind)
    ws = wb["Daily Report"]
    ws.append(
        [
            '=HYPERLINK("http://evil")',
            date(2026, 11, 15),
            "comment-br-harassment",
            "KL",
            3,
            90,
            100,
            1,
            1,
        ]
    )  # hostile moderator id: accepted, stored as text
    ws.cell(ws.max_row, 1).data_type = "s"  # a text cell in the vendor's file, not a formula
    ws.append(["M00016", date(2026, 11, 15), "comment-br-harassment", "KL", 2, 50, 60, 1, 2])
    ws.append(["M00017", "not a date", "comment-br-harassment", "KL", 2, 50, 60, 0, 0])
    wb.save(northwind)
    return data, paths


def expected_rows(console) -> int:
    return console.sql(
        "SELECT count(*) FROM (SELECT 1 FROM cases c JOIN moderators m USING"
        " (moderator_id) WHERE m.vendor != 'in-house' AND c.completed_at >= "
        "'2026-11-09' AND c.completed_at < '2026-11-16' GROUP BY substr(completed_at,"
        " 1, 10), c.moderator_id, c.queue_id)"
    )[0][0]


def test_merges_validates_archives_and_quarantines(console, inbox, tmp_path, make_ctx, run_task):
    data, paths = inbox
    ctx = make_ctx("vendor_consolidation", data, tz=UTC)
    result = run_task("vendor_consolidation", ctx=ctx)
    s = result.summary
    assert (s["archived"], s["quarantined"], s["skipped"]) == (4, 1, 0)
    assert result.rows == expected_rows(console) + 1, s["files"]  # + the hostile row (valid data)
    archive, quarantine = data / "inbox" / "archive", data / "inbox" / "quarantine"
    assert sorted(p.name for p in archive.iterdir()) == sorted(p.name for p in paths[:4])
    assert (quarantine / "kestrel_moderation_daily_BROKEN.xlsx").exists()
    reason = (quarantine / "kestrel_moderation_daily_BROKEN.xlsx.reason.txt").read_text()
    assert "damaged or truncated" in reason
    assert not any((data / "inbox" / "vendors").iterdir())
    master = load_workbook(result.files[0])
    assert master.sheetnames == ["Summary", "Master", "Files"]
    ws = master["Master"]
    assert ws.freeze_panes == "A2" and ws["A2"].number_format == "yyyy-mm-dd"
    from opskit.reports import HEADERS

    shown = [c.value for c in ws[1]]
    assert shown[:5] == ["Date", "Vendor", "Site", "Moderator ID", "Queue ID"]  # headers in words
    field_of = {text: field for field, text in HEADERS.items() if field in VENDOR_FIELDS + ("source_file",)}
    header = [field_of[text] for text in shown]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    # an ingestion report: the quarantined file is a problem with a fix, never "every target was met"
    assert s["kind"] == "ingestion" and s["problems"][0]["where"] == "kestrel_moderation_daily_BROKEN.xlsx"
    assert "damaged or truncated" in s["problems"][0]["problem"] and s["problems"][0]["fix"]
    assert {r["vendor"] for r in rows} == {
        "Lumen BPO",
        "Northwind Services",
        "Atlas CX",
        "Kestrel Moderation",
    }
    lumen = console.sql(
        "SELECT count(*), sum(handle_seconds) FROM cases JOIN moderators USING "
        "(moderator_id) WHERE vendor='Lumen BPO' AND completed_at >= '2026-11-09'"
        " AND completed_at < '2026-11-16'"
    )[0]
    assert sum(r["handled"] for r in rows if r["vendor"] == "Lumen BPO") == lumen[0]
    assert sum(r["handle_seconds"] for r in rows if r["vendor"] == "Lumen BPO") == lumen[1]
    hostile = [c for row in ws.iter_rows() for c in row if c.value == '=HYPERLINK("http://evil")']
    assert len(hostile) == 1 and hostile[0].data_type == "s" and hostile[0].quotePrefix
    report = load_workbook(next(f for f in result.files if "validation_northwind" in f.name))
    rejected = list(report["Rejected rows"].iter_rows(min_row=2, values_only=True))
    northwind = load_workbook(archive / paths[1].name)["Daily Report"]
    last = northwind.max_row
    assert {(r[2], r[3], r[4]) for r in rejected} == {
        (last - 1, "qa_correct", "more QA passes than QA samples"),
        (last, "date", "not a date: 'not a date'"),
    }
    files = {f["file"]: f for f in s["files"]}
    assert files[paths[1].name]["rejected"] == 2


def test_a_file_already_archived_is_not_read_again(console, inbox, tmp_path, make_ctx, run_task):
    data, paths = inbox
    ctx = make_ctx("vendor_consolidation", data, tz=UTC)
    run_task("vendor_consolidation", ctx=ctx)
    archived = data / "inbox" / "archive" / paths[0].name
    shutil.copy(archived, data / "inbox" / "vendors" / "lumen_resent.xlsx")
    again = run_task(
        "vendor_consolidation",
        ctx=make_ctx("vendor_consolidation", data, tz=UTC, scheduled_for=datetime(2026, 11, 17, 7, tzinfo=UTC)),
    )
    assert again.rows == 0 and again.summary["skipped"] == 1 and again.summary["archived"] == 0
    assert again.summary["files"][0]["reason"] == (f"already processed (same content as inbox/archive/{paths[0].name})")
    assert (data / "inbox" / "quarantine" / "lumen_resent.xlsx").exists()
    assert archived.exists()  # never deleted


def test_aliases_file_maps_a_new_layout(console, tmp_path, make_ctx, run_task):
    data = tmp_path / "data"
    folder = data / "inbox" / "vendors"
    folder.mkdir(parents=True)
    (folder / "acme_week46.csv").write_text(
        "Tag,Mitarbeiter,Warteschlange,Erledigt,Bearbeitungszeit\n"
        "2026-11-09,M1,search-de-hate,4,200\n2026-11-10,M1,search-de-hate,-1,20\n"
    )
    (data / "aliases.yaml").write_text(
        textwrap.dedent("""\
        aliases:
          date: [Tag]
          moderator_id: [Mitarbeiter]
          queue_id: [Warteschlange]
          handled: [Erledigt]
          handle_seconds: [Bearbeitungszeit]
        vendors:
          ACME Moderation: ["acme*"]
        expected: [handle_seconds]
    """)
    )
    result = run_task(
        "vendor_consolidation", ctx=make_ctx("vendor_consolidation", data, tz=UTC), aliases="aliases.yaml"
    )
    assert result.rows == 1
    rows = list(load_workbook(result.files[0])["Master"].iter_rows(min_row=2, values_only=True))
    assert rows[0][1] == "ACME Moderation" and rows[0][5] == 4
    rejected = list(load_workbook(result.files[1])["Rejected rows"].iter_rows(min_row=2, values_only=True))
    assert rejected == [("acme_week46.csv", rejected[0][1], 3, "handled", "handled is empty or negative")]


def test_runs_through_the_cli(run_cli, tmp_project, console, inbox):
    from demo.fixtures import vendor_reports_config

    data, _ = inbox
    tmp_project.write_config(f"timezone: UTC\npaths:\n  data: {data}\n" + vendor_reports_config())
    result = run_cli("run", "vendor_consolidation", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["result"]["summary"]["archived"] == 4 and record["result"]["rows"] > 100
