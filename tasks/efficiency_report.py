"""Moderation efficiency against targets: a workbook per period and the headline KPIs for the email."""

from __future__ import annotations

from typing import Any

from opskit import DataError, DataPath, DataPaths, Period, Result, RunContext, task
from opskit.reports import (
    METRICS,
    add_drivers,
    add_exceptions,
    add_notes,
    attribute_windows,
    case_exports,
    check_cuts,
    cut_columns,
    cut_rows,
    daily_rows,
    data_file,
    drivers,
    drivers_share_of,
    email_drivers,
    email_kpis,
    email_misses,
    email_series,
    metric_kpis,
    misses,
    moderators_in,
    productive_by,
    read_moderators,
    read_optional,
    read_queues,
    read_shifts,
    read_targets,
    report_for,
    save_report,
    scan_cases,
    show,
    targets_for,
    trend_scale,
    workbook_kpis,
    worst_first,
)


@task(schedule_hint="0 8 * * MON-FRI")
def efficiency_report(
    ctx: RunContext,
    *,
    period: Period = "yesterday",
    cases: DataPaths = "",
    cuts: tuple[str, ...] = ("queue", "vendor"),
    min_cases: int = 0,
    targets: DataPath = "",
    queues: DataPath = "",
    shifts: DataPath = "",
    moderators: DataPath = "",
) -> Result:
    """Moderation efficiency per queue, vendor, site, market or channel against targets, as a workbook.

    Args:
        period: Days to report, in the job's timezone. Week over week compares with the period before.
        cases: Case export CSV(s), comma-separated, relative to the data folder; by default the
            export an earlier step of the job produced, else cases/<period>.csv and, when present,
            cases/<previous period>.csv (the files export_cases publishes).
        cuts: Sheets to make: any of queue, vendor, site, market, channel.
        min_cases: Leave out groups with fewer completed cases than this.
        targets: Targets CSV/XLSX (period, level, key, metric, value, direction); default
            targets.csv in the data folder when it exists.
        queues: Queue list with queue_id and sla_hours (needed for SLA attainment); default
            queues.csv in the data folder when it exists.
        shifts: Shifts CSV/XLSX (moderator_id, date, productive_seconds) for UPH; UPH is left out
            without it.
        moderators: Moderator table CSV/XLSX (moderator_id, vendor, site): which vendor's and site's UPH
            a moderator's shifts count for; default moderators.csv in the data folder when it exists,
            else the shifts file's own vendor and site columns, else the vendor and site of the
            moderator's cases (one without cases is then "(unassigned)").
    """
    from opskit.excel import Column  # here, not at the top: `runner.py list` imports every task

    check_cuts(cuts)
    prev = period.previous()
    files = case_exports(ctx, cases, [period, prev])
    if not files:
        raise DataError(
            f"no case export for {period.label} in {ctx.data_dir / 'cases'}",
            hint="Run export_cases first, or pass cases=<file>",
        )
    notes = [f"Cases read from {', '.join(f.name for f in files)}."]
    sla = read_optional(ctx, queues, "queues.csv", read_queues, what="SLA attainment", notes=notes)
    all_targets = read_optional(ctx, targets, "targets.csv", read_targets, what="targets", notes=notes) or []
    windows = {"current": period, "previous": prev}
    scan = scan_cases(files, windows=windows, tz=ctx.tz, sla_hours=sla, trend=Period(prev.start, period.end))
    has_prev = scan.overall("previous").completed > 0
    if not has_prev:
        notes.append(f"No data for {prev.label} in the files read: no week-over-week change.")
    goals = {w: targets_for(all_targets, p.label, p.end) for w, p in windows.items()}
    productive: dict[str, dict[str, dict[str, float]] | None] = {"current": None, "previous": None}
    if shifts:
        path = data_file(ctx, shifts, "shifts")
        # Who works for which vendor and site: the moderator table, else the shifts file's own columns,
        # else each moderator's cases (a moderator without any is "(unassigned)").
        roster = read_optional(ctx, moderators, "moderators.csv", read_moderators, what="moderators", notes=[])
        roster = roster if roster is not None else moderators_in(path)
        if roster is None:
            notes.append("UPH: moderators are placed by their cases (no moderators.csv, no vendor in the shifts).")
        productive = {w: productive_by(scan, read_shifts(path, p.start, p.end), roster) for w, p in windows.items()}
    else:
        notes.append("UPH is left out: no shifts file was given (shifts=<file>).")

    def rows(window: str, dim: str) -> list[dict]:
        return cut_rows(
            scan,
            window,
            dim,
            sla=sla is not None,
            targets=goals[window],
            productive=productive[window],
            min_cases=min_cases,
        )

    overall, before = rows("current", "all"), rows("previous", "all")
    sheets = {dim: rows("current", dim) for dim in cuts}
    missed = misses(overall, "all", goals["current"])
    missed = worst_first(missed + [m for dim, cut in sheets.items() for m in misses(cut, dim, goals["current"])])
    shown = [m for m in METRICS if (m != "uph" or shifts) and (m != "sla_attainment" or sla is not None)]
    kpis = metric_kpis(overall[0] if overall else {}, before[0] if before and has_prev else {}, shown)
    aht_goal = goals["current"].get(("all", "all", "aht"))
    trend = daily_rows(scan, sla=sla is not None, days=None if has_prev else period)
    for day in trend:
        day["aht_target"] = aht_goal.value if aht_goal else None
    attr, _, _ = attribute_windows(scan, "aht", "vendor", "previous", "current")
    top = drivers(attr, "aht", "vendor") if attr and has_prev else []
    total = show("aht", attr.total, signed=True) if attr else ""
    share_of = drivers_share_of("AHT", prev.label, period.label, total) if top else None
    aht_scale = trend_scale(trend, ["aht", "aht_target"])

    report = report_for(
        ctx,
        f"Moderation efficiency {period.label}",
        task="efficiency_report",
        subject=period.label,
        description="; ".join(notes),
    )
    report.summary(workbook_kpis(kpis))
    for dim, cut in sheets.items():
        report.sheet(f"By {dim}", cut, cut_columns(dim, cut, kpis))
    x = Column("date", "Date", "date")
    aht = [Column("aht", "AHT (s)", "float"), Column("aht_target", "Target", "float")]
    report.trend("Trend AHT", trend, x=x, series=aht, title="AHT per day", y_title="seconds", y_range=aht_scale)
    volume = [Column("incoming", "Incoming", "int"), Column("completed", "Completed", "int")]
    report.trend("Trend volume", trend, x=x, series=volume, kind="bar", title="Cases per day")
    if top and share_of:
        add_drivers(report, top, share_of)
    add_exceptions(report, missed)
    add_notes(report, notes)
    path = save_report(ctx, report, f"efficiency_{period.label}.xlsx")
    ctx.log.info("efficiency %s: %d cases read, %d missed targets", period.label, scan.rows, len(missed))
    series = {"AHT (s)": "aht", **({"Target": "aht_target"} if aht_goal else {})}
    trend_chart: dict[str, Any] = {"title": "AHT per day (seconds)", "series": email_series(trend, series)}
    if aht_scale:
        trend_chart.update(y_min=aht_scale[0], y_max=aht_scale[1])
    summary = {
        "kind": "comparison",
        "period": period.label,
        "previous_period": prev.label if has_prev else None,
        "kpis": email_kpis(kpis),
        "targets_checked": len(goals["current"]),
        "missed_targets": email_misses(missed),
        "drivers": email_drivers(top),
        "drivers_share_of": share_of,
        "trend": trend_chart,
        **scan.gate_facts(),
        "notes": notes,
    }
    # The row count quality gates check is the report period's own volume, not the rows read (which
    # include the previous period for week over week).
    return Result(files=[path], rows=(overall[0] if overall else {}).get("completed", 0), summary=summary)
