"""Required FTE per queue for the coming weeks against the vendors' planned staffing, with the gaps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from opskit import DataError, Period, Result, RunContext, task
from opskit.reports import existing, read_rows, scan_cases


@task(schedule_hint="0 7 * * MON")
def capacity_plan(
    ctx: RunContext,
    *,
    weeks: int = 4,
    staffing: str = "staffing.xlsx",
    cases: str = "",
    history_weeks: int = 4,
    target_utilization: float = 0.85,
    paid_hours: float = 40.0,
    shrinkage: float = 0.3,
    realtime: tuple[str, ...] = ("messaging",),
    service_goal: float = 0.8,
    answer_seconds: float = 60.0,
) -> Result:
    """Required FTE per queue and week (workload model; Erlang C for real-time channels) vs supply.

    Args:
        weeks: How many weeks to plan, starting with the week after the run's scheduled day.
        staffing: Vendor staffing workbook/CSV (week, vendor, queue_id, fte), in the data folder.
        cases: Case export CSV(s) of the history, comma-separated; by default cases/<week>.csv
            for each history week.
        history_weeks: Full weeks before the run whose completed volume and AHT are the forecast.
        target_utilization: Handle time / productive time to plan for (workload model).
        paid_hours: Paid hours per FTE per week.
        shrinkage: Share of paid time not available (training, meetings, absence).
        realtime: Channels planned with Erlang C (answered within ``answer_seconds``).
        service_goal: Erlang C service-level goal (0.8 = 80% answered in time).
        answer_seconds: Erlang C answer-time threshold.
    """
    from opskit.reports import agents_for_service_level, required_fte, required_hours

    today = ctx.scheduled_for.astimezone(ctx.tz).date()
    monday = today - timedelta(days=today.weekday())
    history = Period(monday - timedelta(weeks=history_weeks), monday - timedelta(days=1))
    labels = [
        Period(monday - timedelta(weeks=w), monday - timedelta(weeks=w, days=-6)).label
        for w in range(1, history_weeks + 1)
    ]
    files = (
        [ctx.data_dir / c.strip() for c in cases.split(",") if c.strip()]
        if cases
        else existing(ctx.data_dir / "cases" / f"{label}.csv" for label in labels)
    )
    if not files or not all(f.is_file() for f in files):
        raise DataError(f"no case history for {history.label}", hint="Pass cases=<export CSV>")
    scan = scan_cases(files, windows={"history": history.bounds(ctx.tz)}, tz=ctx.tz)
    supply = _supply(ctx.data_dir / staffing)
    plan_weeks = [monday + timedelta(weeks=w) for w in range(weeks)]
    rows: list[dict[str, Any]] = []
    for queue_id, totals in sorted(scan.cut("history", "queue").items()):
        name, channel, _ = scan.queues.get(queue_id, ("", "", ""))
        volume = totals.completed / history_weeks
        aht = totals.handle / totals.completed if totals.completed else 0.0
        if channel in realtime and volume and aht:
            agents = agents_for_service_level(volume / (7 * 48), 1800, aht, service_goal, answer_seconds)
            need = required_fte(agents * 168.0, paid_hours, shrinkage)
            model = f"Erlang C ({agents} agents 24/7)"
        else:
            need = required_fte(required_hours(volume, aht, target_utilization), paid_hours, shrinkage)
            model = "workload"
        for start in plan_weeks:
            iso = start.isocalendar()
            week = f"{iso.year}-W{iso.week:02d}"
            have = supply.get((week, queue_id), 0.0)
            rows.append(
                {
                    "week": week,
                    "queue_id": queue_id,
                    "queue": name,
                    "channel": channel,
                    "model": model,
                    "forecast": volume,
                    "aht": aht,
                    "required": need or 0.0,
                    "supply": have,
                    "gap": have - (need or 0.0),
                }
            )
    short = [r for r in rows if r["gap"] < 0]
    path = ctx.path(f"capacity_plan_{plan_weeks[0].isoformat()}.xlsx")
    with ctx.output(path) as tmp:
        _workbook(ctx, tmp, rows, short)
    summary = {
        "period": f"{rows[0]['week']}..{rows[-1]['week']}" if rows else None,
        "kpis": [
            {
                "label": "Required FTE (week 1)",
                "value": sum(r["required"] for r in rows if r["week"] == rows[0]["week"]),
                "kind": "rate",
                "change": None,
                "direction": "lower_is_better",
            },
            {
                "label": "Supply FTE (week 1)",
                "value": sum(r["supply"] for r in rows if r["week"] == rows[0]["week"]),
                "kind": "rate",
                "change": None,
                "direction": "higher_is_better",
            },
            {
                "label": "Queue-weeks short",
                "value": len(short),
                "kind": "num",
                "change": None,
                "direction": "lower_is_better",
            },
        ]
        if rows
        else [],
        "missed_targets": [
            {
                "where": f"{r['queue'] or r['queue_id']} {r['week']}",
                "metric": "FTE",
                "actual": r["supply"],
                "target": r["required"],
                "kind": "rate",
                "attainment": r["supply"] / r["required"],
            }
            for r in short
        ],
        "drivers": [],
        "columns": scan.columns,
        "newest": scan.newest.isoformat() if scan.newest else None,
    }
    return Result(files=[path], rows=len(rows), summary=summary)


def _supply(path: Path) -> dict[tuple[str, str], float]:
    if not path.is_file():
        raise DataError(
            f"staffing file not found: {path}",
            hint="A workbook or CSV with week, vendor, queue_id, fte",
        )
    out: dict[tuple[str, str], float] = {}
    for r in read_rows(path, ("week", "queue_id", "fte")):
        key = (str(r["week"]), str(r["queue_id"]))
        out[key] = out.get(key, 0.0) + float(r["fte"] or 0)
    return out


def _workbook(ctx: RunContext, tmp: Path, rows: list[dict[str, Any]], short: list[dict]) -> None:
    from opskit.excel import Column, Report
    from opskit.reports import KPI

    weeks = sorted({r["week"] for r in rows})
    report = Report(
        "Capacity plan",
        subject=f"{weeks[0]}..{weeks[-1]}" if weeks else None,
        keywords=tuple(x for x in ("capacity_plan", ctx.job) if x),
        created=ctx.scheduled_for,
    )
    report.summary(
        [
            KPI(
                f"Required FTE {w}",
                sum(r["required"] for r in rows if r["week"] == w),
                type="float",
            )
            for w in weeks
        ]
        + [KPI(f"Gap FTE {w}", sum(r["gap"] for r in rows if r["week"] == w), type="float") for w in weeks]
        + [KPI("Queue-weeks short", len(short), target=0, direction="lower_is_better", type="int")]
    )
    report.sheet(
        "Gap",
        rows,
        [
            Column("week", "Week", "str"),
            Column("queue_id", "Queue ID", "str"),
            Column("queue", "Queue", "str"),
            Column("channel", "Channel", "str"),
            Column("model", "Model", "str"),
            Column("forecast", "Forecast cases/week", "int", number_format="#,##0"),
            Column("aht", "AHT (s)", "float"),
            Column("required", "Required FTE", "float"),
            Column("supply", "Supply FTE", "float"),
            Column("gap", "Gap FTE", "float", target=0.0, direction="higher_is_better"),
        ],
    )
    report.sheet(
        "Shortfalls",
        short,
        [
            Column("week", "Week", "str"),
            Column("queue", "Queue", "str"),
            Column("required", "Required FTE", "float"),
            Column("supply", "Supply FTE", "float"),
            Column("gap", "Gap FTE", "float", target=0.0),
        ],
    )
    report.save(tmp)
