"""capacity_plan: workload model and Erlang C against a vendor staffing workbook."""

from __future__ import annotations

import json
from datetime import UTC, date

import pytest
from openpyxl import load_workbook

from demo.fixtures import write_staffing_workbook
from opskit.reports import agents_for_service_level


@pytest.fixture(scope="module")
def plan(console, make_ctx, run_task):
    write_staffing_workbook(console.db, console.data_dir / "staffing.xlsx", first_week=date(2026, 11, 16), weeks=4)
    ctx = make_ctx("capacity_plan", console.data_dir, tz=UTC)
    return run_task("capacity_plan", ctx=ctx, weeks=2, cases=str(console.all_cases))


def rows(result):
    ws = load_workbook(result.files[0])["Gap"]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]


def test_workload_requirement_matches_the_formula(plan, console):
    n, handle = console.sql(
        "SELECT count(*), sum(handle_seconds) FROM cases WHERE queue_id = "
        "'search-de-hate' AND completed_at >= '2026-10-19' AND completed_at < "
        "'2026-11-16'"
    )[0]
    volume, aht = n / 4, handle / n
    expected = volume * aht / 3600 / 0.85 / (40 * 0.7)
    got = [r for r in rows(plan) if r["Queue ID"] == "search-de-hate"]
    assert [r["Week"] for r in got] == ["2026-W47", "2026-W48"]
    assert got[0]["Required FTE"] == pytest.approx(expected) and got[0]["Model"] == "workload"
    assert got[0]["Gap FTE"] == pytest.approx(got[0]["Supply FTE"] - expected)


def test_messaging_queues_use_erlang_c(plan, console):
    queue, n, handle = console.sql(
        "SELECT queue_id, count(*), sum(handle_seconds) FROM cases JOIN queues USING (queue_id)"
        " WHERE channel = 'messaging' AND completed_at >= '2026-10-19' AND completed_at <"
        " '2026-11-16' GROUP BY 1 ORDER BY 1 LIMIT 1"
    )[0]
    agents = agents_for_service_level(n / 4 / 336, 1800, handle / n, 0.8, 60)
    row = next(r for r in rows(plan) if r["Queue ID"] == queue)
    assert row["Model"] == f"Erlang C ({agents} agents 24/7)"
    assert row["Required FTE"] == pytest.approx(agents * 168 / 28)


def test_shortfalls_are_highlighted(plan):
    wb = load_workbook(plan.files[0])
    assert wb.sheetnames == ["Summary", "By week", "Gap", "Shortfalls"]
    ws = wb["Gap"]
    assert ws.freeze_panes == "A2" and ws["J2"].number_format == "#,##0.00"
    formulas = [r.formula[0] for cf in ws.conditional_formatting for r in cf.rules]
    assert "AND(ISNUMBER(J2),J2<0.0)" in formulas and "AND(ISNUMBER(J2),J2>=0.0)" in formulas
    short = [r for r in rows(plan) if r["Gap FTE"] < 0]
    summary = plan.summary
    assert summary["kind"] == "plan" and "missed_targets" not in summary
    assert short and len(summary["shortfalls"]) == len(short)
    assert wb["Shortfalls"].max_row == len(short) + 1
    # worst first: the least covered queue-week leads, in the email and in the workbook
    covered = [s["supply"] / s["required"] for s in summary["shortfalls"]]
    assert covered == sorted(covered) and all(c < 1 for c in covered)
    sheet = [r[-1] for r in wb["Shortfalls"].iter_rows(min_row=2, values_only=True)]
    assert sheet == pytest.approx(covered)
    # the header shows the plan's horizon, not the run date
    assert summary["period_label"] == "Weeks 2026-W47 to 2026-W48 (16 Nov – 29 Nov 2026)"
    assert summary["weeks"][0]["week"] == "2026-W47"
    assert summary["weeks"][0]["gap"] == pytest.approx(sum(r["Gap FTE"] for r in rows(plan) if r["Week"] == "2026-W47"))


def test_runs_through_the_cli(run_cli, tmp_project, console, plan):
    roots = f"  data_roots: [{console.data_dir}, {console.all_cases.parent}]\n"  # the export lives beside the data
    tmp_project.write_config(f"timezone: UTC\npaths:\n  data: {console.data_dir}\n{roots}")
    result = run_cli(
        "run",
        "capacity_plan",
        "-p",
        "weeks=1",
        "-p",
        f"cases={console.all_cases}",
        "--as-of",
        "2026-11-16T07:00",
        "--json",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)["result"]["summary"]
    assert summary["period"] == "2026-W47..2026-W47" and summary["kpis"][0]["value"] > 0
