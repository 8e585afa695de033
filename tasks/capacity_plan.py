"""Required FTE per queue for the coming weeks against the vendors' planned staffing, with the gaps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opskit import DataError, DataPath, DataPaths, Period, Result, RunContext, task
from opskit.reports import (
    KPI,
    case_exports,
    data_file,
    email_kpi,
    iso_week,
    read_staffing,
    report_for,
    save_report,
    scan_cases,
    week_start,
    weekly_requirement,
    weeks_before,
    worst_first,
)


@task(schedule_hint="0 7 * * MON")
def capacity_plan(
    ctx: RunContext,
    *,
    weeks: int = 4,
    staffing: DataPath = "staffing.xlsx",
    cases: DataPaths = "",
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
    from opskit.excel import Column  # here, not at the top: `runner.py list` imports every task

    monday = week_start(ctx.scheduled_for.astimezone(ctx.tz).date())
    history = Period(monday - timedelta(weeks=history_weeks), monday - timedelta(days=1))
    # the forecast divides by history_weeks: only whole weeks, never a chain's shorter export
    files = case_exports(ctx, cases, weeks_before(monday, history_weeks), from_steps=False)
    if not files:
        raise DataError(f"no case history for {history.label}", hint="Pass cases=<export CSV>")
    scan = scan_cases(files, windows={"history": history}, tz=ctx.tz)
    hint = "A workbook or CSV with week, vendor, queue_id, fte"
    supply = read_staffing(data_file(ctx, staffing, "staffing", hint=hint))
    plan_weeks = [iso_week(monday + timedelta(weeks=w)) for w in range(weeks)]
    rows: list[dict[str, Any]] = []
    for queue_id, totals in sorted(scan.cut("history", "queue").items()):
        name, channel, _ = scan.queues.get(queue_id, ("", "", ""))
        volume = totals.completed / history_weeks
        aht = totals.handle / totals.completed if totals.completed else 0.0
        need, model = weekly_requirement(
            volume,
            aht,
            realtime=channel in realtime,
            target_utilization=target_utilization,
            paid_hours=paid_hours,
            shrinkage=shrinkage,
            service_goal=service_goal,
            answer_seconds=answer_seconds,
        )
        for week in plan_weeks:
            have = supply.get((week, queue_id), 0.0)
            rows.append(
                {"week": week, "queue_id": queue_id, "queue": name, "channel": channel, "model": model}
                | {"forecast": volume, "aht": aht, "required": need, "supply": have, "gap": have - need}
            )
    for r in rows:  # how much of the requirement the supply covers: the worst-first rule's attainment
        r["coverage"] = r["supply"] / r["required"] if r["required"] else None
    short = worst_first([r for r in rows if r["gap"] < 0], key="coverage")
    shown = plan_weeks if rows else []

    def total(key: str, week: str) -> float:
        return sum(r[key] for r in rows if r["week"] == week)

    last_day = monday + timedelta(weeks=weeks, days=-1)
    horizon = f"{monday:%-d %b} – {last_day:%-d %b %Y}"
    subject = f"{shown[0]}..{shown[-1]}" if shown else None
    report = report_for(ctx, "Capacity plan", task="capacity_plan", subject=f"{subject} ({horizon})" if shown else None)
    report.summary(
        [KPI(f"Required FTE {w}", total("required", w), direction="neutral") for w in shown]
        + [KPI(f"Supply FTE {w}", total("supply", w), direction="neutral") for w in shown]
        + [KPI(f"Gap FTE {w}", total("gap", w), direction="neutral") for w in shown]
        + [KPI("Queue-weeks short", len(short), target=0, direction="lower_is_better", type="int")],
        value_header="Plan",
    )
    by_week = [{"week": w, **{k: total(k, w) for k in ("required", "supply", "gap")}} for w in shown]
    week_column, queue_column = Column("week", "Week", "str"), Column("queue", "Queue", "str")
    required, supplied = Column("required", "Required FTE", "float"), Column("supply", "Supply FTE", "float")
    gap_columns = [
        week_column,
        Column("queue_id", "Queue ID", "str"),
        queue_column,
        Column("channel", "Channel", "str"),
        Column("model", "Model", "str"),
        Column("forecast", "Forecast cases/week", "int", number_format="#,##0"),
        Column("aht", "AHT (s)", "float"),
        required,
        supplied,
        Column("gap", "Gap FTE", "float", target=0.0, direction="higher_is_better"),
    ]
    gap = Column("gap", "Gap FTE", "float", target=0.0, direction="higher_is_better")
    report.sheet("By week", by_week, [week_column, required, supplied, gap])
    report.sheet("Gap", rows, gap_columns)
    coverage = Column("coverage", "Covered", "percent", target=1.0)
    report.sheet("Shortfalls", short, [week_column, queue_column, required, supplied, gap, coverage])
    path = save_report(ctx, report, f"capacity_plan_{monday.isoformat()}.xlsx")
    first = shown[0] if shown else ""
    kpis = [
        email_kpi(f"Required FTE, {first}", total("required", first), "fte", "neutral"),
        email_kpi(f"Supply FTE, {first}", total("supply", first), "fte", "neutral"),
        email_kpi("Queue-weeks short", len(short), "num", "lower_is_better"),
    ]
    shortfalls = [
        {"where": r["queue"] or r["queue_id"], "week": r["week"], "required": r["required"], "supply": r["supply"]}
        for r in short
    ]
    if short:
        worst = short[0]
        name = worst["queue"] or worst["queue_id"]
        headline = (
            f"{len(short)} queue-week(s) short over {len(shown)} weeks; the worst, {name}"
            f" in {worst['week']}, has {worst['coverage']:.0%} of the FTE it needs."
        )
    else:
        headline = "Supply covers the requirement of every queue in every week."
    summary = {
        "kind": "plan",
        "title": "Capacity plan",
        "period": subject,
        "period_label": f"Weeks {shown[0]} to {shown[-1]} ({horizon})" if shown else "No weeks to plan",
        "headline": headline if rows else "No queue had completed cases in the history weeks.",
        "horizon": {"first": shown[0] if shown else None, "last": shown[-1] if shown else None},
        "kpis": kpis if rows else [],
        "weeks": by_week,
        "shortfalls": shortfalls,
        **scan.gate_facts(),
    }
    return Result(files=[path], rows=len(rows), summary=summary)
