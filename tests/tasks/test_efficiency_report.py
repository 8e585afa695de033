"""efficiency_report on the console's data: metrics checked against SQL, the workbook opened and read."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest
from openpyxl import load_workbook

from opskit import DataError, Period
from opskit.reports.metrics import percentile_inc
from tests.tasks.conftest import BERLIN, utc_bounds

W46 = utc_bounds(__import__("datetime").date(2026, 11, 9), __import__("datetime").date(2026, 11, 16))


def week(label: str) -> Period:
    from datetime import UTC, datetime

    return Period.parse(label, tz=BERLIN, scheduled_for=datetime(2026, 11, 16, tzinfo=UTC))


@pytest.fixture(scope="module")
def report(console, make_ctx, run_task):
    ctx = make_ctx("efficiency_report", console.data_dir)
    result = run_task(
        "efficiency_report",
        ctx=ctx,
        period=week("2026-W46"),
        cases=str(console.all_cases),
        cuts=("queue", "vendor", "channel"),
        shifts="shifts.csv",
    )
    return result, load_workbook(result.files[0])


def by_vendor_sql(console):
    lo, hi = W46
    return {
        v: (n, h, esc, g, c)
        for v, n, h, esc, g, c in console.sql(
            "SELECT m.vendor, count(*), sum(c.handle_seconds), sum(c.escalated),"
            " sum(c.qa_sampled AND c.qa_correct IS NOT NULL), sum(coalesce(c.qa_correct, 0))"
            " FROM cases c JOIN moderators m USING (moderator_id)"
            " WHERE c.completed_at >= ? AND c.completed_at < ? GROUP BY 1",
            lo,
            hi,
        )
    }


def test_vendor_metrics_match_sql(report, console):
    result, wb = report
    ws = wb["By vendor"]
    header = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    expected = by_vendor_sql(console)
    # cases nobody picked up yet count as incoming for "(unassigned)", never as completed
    assert set(rows) == set(expected) | {"(unassigned)"} and "Lumen BPO" in rows
    assert rows["(unassigned)"]["Completed"] == 0 and rows["(unassigned)"]["AHT (s)"] == "n/a"
    for vendor, (n, handle, esc, graded, correct) in expected.items():
        assert rows[vendor]["Completed"] == n
        assert rows[vendor]["AHT (s)"] == pytest.approx(handle / n)
        assert rows[vendor]["Escalation rate"] == pytest.approx(esc / n)
        assert rows[vendor]["Accuracy"] == (pytest.approx(correct / graded) if graded else "n/a")


def test_vendor_uph_matches_sql(report, console):
    """UPH = completed / productive hours over the group's moderators' shifts in the week (DOMAIN.md): the
    shifts of every moderator of a vendor count, whether or not they closed a case."""
    _, wb = report
    lo, hi = W46
    expected = {
        vendor: completed / (productive / 3600)
        for vendor, completed, productive in console.sql(
            "SELECT m.vendor,"
            " (SELECT count(*) FROM cases c JOIN moderators cm USING (moderator_id)"
            "  WHERE cm.vendor = m.vendor AND c.completed_at >= ? AND c.completed_at < ?),"
            " sum(s.productive_seconds)"
            " FROM shifts s JOIN moderators m USING (moderator_id)"
            " WHERE s.date BETWEEN '2026-11-09' AND '2026-11-15' GROUP BY 1",
            lo,
            hi,
        )
    }
    ws = wb["By vendor"]
    header = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert len(expected) >= 2
    for vendor, uph in expected.items():
        assert rows[vendor]["UPH"] == pytest.approx(uph), vendor
    assert rows["(unassigned)"]["UPH"] == "n/a"  # every shift belongs to a known vendor


def test_queue_incoming_sla_and_tat_match_sql(report, console):
    _, wb = report
    ws = wb["By queue"]
    header = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    lo, hi = W46
    incoming = dict(
        console.sql(
            "SELECT queue_id, count(*) FROM cases WHERE created_at >= ? AND created_at < ? GROUP BY 1",
            lo,
            hi,
        )
    )
    done = console.sql(
        "SELECT c.queue_id, (julianday(completed_at) - julianday(created_at)) * 24,"
        " q.sla_hours FROM cases c JOIN queues q USING (queue_id)"
        " WHERE completed_at >= ? AND completed_at < ?",
        lo,
        hi,
    )
    for queue_id, n in incoming.items():
        assert rows[queue_id]["Incoming"] == n
    for queue_id in {q for q, _, _ in done}:
        tats = [t for q, t, _ in done if q == queue_id]
        within = sum(t <= sla + 1e-9 for q, t, sla in done if q == queue_id)
        assert rows[queue_id]["SLA attainment"] == pytest.approx(within / len(tats))
        assert rows[queue_id]["TAT p90 (h)"] == pytest.approx(percentile_inc(tats, 0.9), abs=1e-6)


def test_summary_kpis_week_over_week_and_email_shapes(report, console):
    result, wb = report
    s = result.summary
    assert s["kind"] == "comparison"
    assert s["period"] == "2026-W46" and s["previous_period"] == "2026-W45"
    kpis = {k["label"]: k for k in s["kpis"]}
    lo, hi = W46
    n, handle = console.sql(
        "SELECT count(*), sum(handle_seconds) FROM cases WHERE completed_at >= ? AND completed_at < ?",
        lo,
        hi,
    )[0]
    assert kpis["Completed"]["value"] == n and kpis["AHT (s)"]["value"] == pytest.approx(handle / n)
    assert kpis["AHT (s)"]["kind"] == "duration" and kpis["AHT (s)"]["change"] > 0.10  # the story
    assert kpis["AHT (s)"]["target"] == 128.0  # global W46 target from the console
    assert kpis["Incoming"]["direction"] == kpis["Completed"]["direction"] == "neutral"  # workload
    assert set(kpis["SLA attainment"]) == {
        "label",
        "value",
        "kind",
        "change",
        "direction",
        "target",
    }
    assert "UPH" in kpis and kpis["UPH"]["value"] > 0
    assert s["missed_targets"][0].keys() == {
        "where",
        "metric",
        "actual",
        "target",
        "kind",
        "direction",
        "attainment",
    }
    assert all(m["attainment"] < 1 for m in s["missed_targets"])
    attainments = [m["attainment"] for m in s["missed_targets"]]
    assert attainments == sorted(attainments)  # worst first
    assert s["drivers"] and s["drivers"][0]["label"].startswith("Lumen BPO")
    aht_line = s["trend"]["series"]["AHT (s)"]
    assert aht_line[0][0] == "2026-11-02" and len(aht_line) == 14
    assert s["trend"]["y_min"] <= min(v for _, v in aht_line) and s["trend"]["y_max"] >= max(v for _, v in aht_line)
    assert s["drivers_share_of"].startswith("the AHT change from 2026-W45 to 2026-W46 (+")
    assert "case_id" in s["columns"] and s["newest"].endswith("+00:00")
    json.dumps(s)  # stored with the run
    summary = wb["Summary"]
    assert wb.sheetnames[0] == "Summary"
    row = {c[0].value: c for c in summary.iter_rows(min_row=2)}
    assert row["AHT (s)"][1].value == pytest.approx(handle / n)
    assert row["AHT (s)"][6].value == "missed" and row["AHT (s)"][3].number_format == "+0.0%;-0.0%;0.0%"


def test_workbook_layout(report):
    result, wb = report
    assert wb.sheetnames == [
        "Summary",
        "By queue",
        "By vendor",
        "By channel",
        "Trend AHT",
        "Trend volume",
        "Drivers",
        "Exceptions",
        "Notes",
    ]
    ws = wb["By vendor"]
    assert ws.freeze_panes == "A2" and ws.tables
    header = [c.value for c in ws[1]]
    aht = header.index("AHT (s)") + 1
    lumen = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "Lumen BPO")
    assert ws.cell(lumen, aht).number_format == "#,##0.00"
    assert ws.cell(lumen, header.index("SLA attainment") + 1).number_format == "0.0%"
    assert ws.cell(lumen, header.index("AHT (s) target") + 1).value == 71.0  # console W46 target
    from openpyxl.utils import get_column_letter

    col, goal = get_column_letter(aht), get_column_letter(header.index("AHT (s) target") + 1)
    rules = [r.formula[0] for cf in ws.conditional_formatting for r in cf.rules if r.formula]
    # lower is better: red above the row's target, green at or below it
    assert f"AND(ISNUMBER({col}2),ISNUMBER({goal}2),{col}2>{goal}2)" in rules
    assert f"AND(ISNUMBER({col}2),ISNUMBER({goal}2),{col}2<={goal}2)" in rules
    chart = wb["Trend AHT"]._charts
    assert len(chart) == 1 and wb["Trend AHT"]["A2"].number_format == "yyyy-mm-dd"
    # the workbook's chart has the email's scale
    scaling = chart[0].y_axis.scaling
    assert (scaling.min, scaling.max) == (result.summary["trend"]["y_min"], result.summary["trend"]["y_max"])
    drivers = list(wb["Drivers"].iter_rows(min_row=2, values_only=True))
    emailed = [(d["label"], pytest.approx(d["share"])) for d in result.summary["drivers"]]
    assert [(r[0], r[4]) for r in drivers[:-1]] == emailed
    exceptions = wb["Exceptions"]
    assert exceptions.max_row == len(result.summary["missed_targets"]) + 1
    assert wb.properties.subject == "2026-W46" and wb.properties.title.startswith("Moderation")


def test_hostile_names_are_text_not_formulas(console, tmp_path, make_ctx, run_task):
    src, out = console.all_cases, tmp_path / "hostile.csv"
    with open(src, newline="") as fin, open(out, "w", newline="") as fout:
        reader, writer = csv.reader(fin), csv.writer(fout)
        header = next(reader)
        writer.writerow(header)
        for row in reader:
            if row[header.index("vendor")] == "Atlas CX":
                row[header.index("vendor")] = '=HYPERLINK("http://x","y")'
            if row[header.index("queue_id")] == "search-id-spam":
                row[header.index("queue_name")] = "@SUM(A1:A9)"
            writer.writerow(row)
    ctx = make_ctx("efficiency_report", console.data_dir)
    result = run_task("efficiency_report", ctx=ctx, period=week("2026-W46"), cases=str(out))
    wb = load_workbook(result.files[0])
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value[:1] in "=@"]
    assert {c.value for c in cells} >= {'=HYPERLINK("http://x","y")', "@SUM(A1:A9)"}
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)


def test_default_files_and_missing_inputs(console, tmp_path, make_ctx, run_task):
    ctx = make_ctx("efficiency_report", console.data_dir)
    result = run_task("efficiency_report", ctx=ctx, period=week("2026-W46"), cuts=("market",), min_cases=30)
    assert result.summary["notes"][0] == "Cases read from 2026-W46.csv, 2026-W45.csv."
    assert any("UPH is left out" in n for n in result.summary["notes"])
    assert "UPH" not in {k["label"] for k in result.summary["kpis"]}
    wb = load_workbook(result.files[0])
    completed = [r[2] for r in wb["By market"].iter_rows(min_row=2, values_only=True)]
    assert completed and min(completed) >= 30
    with pytest.raises(DataError, match="no case export for 2026-W40"):
        run_task("efficiency_report", ctx=ctx, period=week("2026-W40"))
    with pytest.raises(DataError, match="unknown cut"):
        run_task("efficiency_report", ctx=ctx, period=week("2026-W46"), cuts=("planet",))


def test_runs_through_the_cli(run_cli, tmp_project, console):
    tmp_project.write_config(
        textwrap.dedent(f"""\
        timezone: Europe/Berlin
        paths:
          data: {console.data_dir}
        jobs:
          weekly:
            task: efficiency_report
            params:
              period: last_week
              cuts: [vendor, site]
    """)
    )
    result = run_cli("run", "weekly", "--as-of", "2026-11-16T08:00", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "succeeded" and record["result"]["summary"]["period"] == "2026-W46"
    path = Path(record["result"]["files"][0])
    assert path.name == "efficiency_2026-W46.xlsx"
    assert load_workbook(path).sheetnames[:3] == ["Summary", "By vendor", "By site"]
