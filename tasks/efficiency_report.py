"""Moderation efficiency against targets: a workbook per period and the headline KPIs for the email."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opskit import DataError, Period, Result, RunContext, task
from opskit.reports import (
    CUTS,
    METRICS,
    cut_rows,
    drivers,
    email_change,
    existing,
    misses,
    productive_by,
    read_queues,
    read_shifts,
    read_targets,
    scan_cases,
    segments,
    step_exports,
    targets_for,
)


@task(schedule_hint="0 8 * * MON-FRI")
def efficiency_report(
    ctx: RunContext,
    *,
    period: Period = "yesterday",
    cases: str = "",
    cuts: tuple[str, ...] = ("queue", "vendor"),
    min_cases: int = 0,
    targets: str = "",
    queues: str = "",
    shifts: str = "",
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
    """
    bad = [c for c in cuts if c not in CUTS]
    if bad:
        raise DataError(f"unknown cut(s) {', '.join(bad)}", hint=f"Use {', '.join(CUTS)}")
    prev = period.previous()
    files = (not cases and step_exports(ctx.steps)) or _inputs(
        ctx, cases, [f"cases/{period.label}.csv", f"cases/{prev.label}.csv"]
    )
    if not files:
        raise DataError(
            f"no case export for {period.label} in {ctx.data_dir / 'cases'}",
            hint="Run export_cases first, or pass cases=<file>",
        )
    notes = [f"Cases read from {', '.join(f.name for f in files)}."]
    sla = _optional(ctx, queues, "queues.csv", read_queues, notes, "SLA attainment")
    all_targets = _optional(ctx, targets, "targets.csv", read_targets, notes, "targets") or []
    scan = scan_cases(
        files,
        windows={"current": period.bounds(ctx.tz), "previous": prev.bounds(ctx.tz)},
        tz=ctx.tz,
        sla_hours=sla,
        trend=(prev.bounds(ctx.tz)[0], period.bounds(ctx.tz)[1]),
    )
    has_prev = scan.overall("previous").completed > 0
    if not has_prev:
        notes.append(f"No data for {prev.label} in the files read: no week-over-week change.")
    goals, goals_prev = (targets_for(all_targets, p.label, p.end) for p in (period, prev))
    productive = prev_productive = None
    if shifts:
        path = _resolve(ctx, shifts)
        if not path.is_file():
            raise DataError(f"shifts file not found: {path}")
        productive = productive_by(scan, read_shifts(path, period.start, period.end))
        prev_productive = productive_by(scan, read_shifts(path, prev.start, prev.end))
    else:
        notes.append("UPH is left out: no shifts file was given (shifts=<file>).")
    opts = {"sla": sla is not None, "min_cases": min_cases}
    overall = cut_rows(scan, "current", "all", targets=goals, productive=productive, **opts)
    before = cut_rows(scan, "previous", "all", targets=goals_prev, productive=prev_productive, **opts)
    sheets = {dim: cut_rows(scan, "current", dim, targets=goals, productive=productive, **opts) for dim in cuts}
    missed = misses(overall, "all", goals) + [m for dim, rows in sheets.items() for m in misses(rows, dim, goals)]
    now = overall[0] if overall else {}
    was = before[0] if before and has_prev else {}
    shown = [m for m in METRICS if m != "uph" or productive is not None]
    if sla is None:
        shown.remove("sla_attainment")
    kpis = [
        {
            "label": METRICS[m][0],
            "value": now.get(m),
            "kind": METRICS[m][1],
            "change": email_change(m, now.get(m), was.get(m)),
            "direction": METRICS[m][2],
            "target": now.get(f"{m}_target"),
            "previous": was.get(m),
            "metric": m,
        }
        for m in shown
    ]
    aht_goal = goals.get(("all", "all", "aht"))
    trend = [
        {
            "date": d,
            "aht": t.metrics()["aht"],
            "aht_target": aht_goal.value if aht_goal else None,
            "incoming": t.incoming,
            "completed": t.completed,
            "sla_attainment": t.metrics(sla=sla is not None)["sla_attainment"],
        }
        for d, t in sorted(scan.daily.items())
        if has_prev or d in period
    ]
    top = []
    if has_prev:
        from opskit.reports import attribute

        attr = attribute(segments(scan, "previous", "vendor", "aht"), segments(scan, "current", "vendor", "aht"))
        top = drivers(attr, "aht", "vendor") if attr else []
    path = ctx.path(f"efficiency_{period.label}.xlsx")
    with ctx.output(path) as tmp:
        _workbook(ctx, tmp, period, kpis, sheets, missed, trend, notes)
    current_rows = now.get("completed", 0)
    ctx.log.info("efficiency %s: %d cases read, %d missed targets", period.label, scan.rows, len(missed))
    summary = {
        "period": period.label,
        "previous_period": prev.label if has_prev else None,
        "kpis": [{k: v for k, v in kpi.items() if k not in ("previous", "metric")} for kpi in kpis],
        "missed_targets": [
            {k: m[k] for k in ("where", "metric", "actual", "target", "kind", "attainment")} for m in missed
        ],
        "drivers": [{k: d[k] for k in ("label", "share", "note")} for d in top],
        "trend": {
            "AHT (s)": [[r["date"].isoformat(), r["aht"]] for r in trend],
            **({"Target": [[r["date"].isoformat(), r["aht_target"]] for r in trend]} if aht_goal else {}),
        },
        "columns": scan.columns,
        "newest": scan.newest.isoformat() if scan.newest else None,
        "notes": notes,
    }
    # The row count quality gates check is the report period's own volume, not the rows read (which
    # include the previous period for week over week).
    return Result(files=[path], rows=current_rows, summary=summary)


def _workbook(
    ctx: RunContext,
    tmp: Path,
    period: Period,
    kpis: list[dict[str, Any]],
    sheets: dict[str, list[dict[str, Any]]],
    missed: list[dict[str, Any]],
    trend: list[dict[str, Any]],
    notes: list[str],
) -> None:
    from opskit.excel import Column, Report
    from opskit.reports import KPI

    types = {"num": "int", "duration": "float", "pct": "percent", "rate": "float"}
    report = Report(
        f"Moderation efficiency {period.label}",
        subject=period.label,
        keywords=tuple(x for x in ("efficiency_report", ctx.job) if x),
        description="; ".join(notes),
        created=ctx.scheduled_for,
    )
    report.summary(
        [
            KPI(
                k["label"],
                k["value"],
                previous=k["previous"],
                target=k["target"],
                direction=k["direction"],
                type=types[k["kind"]],
            )
            for k in kpis
        ]
    )
    for dim, rows in sheets.items():
        report.sheet(f"By {dim}", rows, _columns(dim, rows, kpis))
    x = Column("date", "Date", "date")
    report.trend(
        "Trend AHT",
        trend,
        x=x,
        series=[Column("aht", "AHT (s)", "float"), Column("aht_target", "Target", "float")],
        title="AHT per day",
        y_title="seconds",
    )
    report.trend(
        "Trend volume",
        trend,
        x=x,
        series=[Column("incoming", "Incoming", "int"), Column("completed", "Completed", "int")],
        kind="bar",
        title="Cases per day",
    )
    report.sheet(
        "Exceptions",
        [
            {
                **m,
                "actual": m["actual"] * (100 if m["kind"] == "pct" else 1),
                "target": m["target"] * (100 if m["kind"] == "pct" else 1),
                "unit": "%" if m["kind"] == "pct" else "",
            }
            for m in missed
        ],
        [
            Column("where", "Where", "str"),
            Column("metric", "Metric", "str"),
            Column("actual", "Actual", "float"),
            Column("target", "Target", "float"),
            Column("unit", "Unit", "str"),
            Column("attainment", "Attainment", "percent", target=1.0),
        ],
    )
    report.sheet(
        "Notes",
        [{"note": n} for n in notes],
        [Column("note", "Note", "str", width=100)],
        table=False,
    )
    report.save(tmp)


def _columns(dim: str, rows: list[dict[str, Any]], kpis: list[dict[str, Any]]) -> list[Any]:
    from opskit.excel import Column

    types = {"num": "int", "duration": "float", "pct": "percent", "rate": "float"}
    cols = [Column("key", {"queue": "Queue ID"}.get(dim, dim.capitalize()), "str")]
    if dim == "queue":
        cols += [
            Column("name", "Queue", "str"),
            Column("channel", "Channel", "str"),
            Column("market", "Market", "str"),
        ]
    for k in kpis:
        m = k["metric"]
        has_target = any(r.get(f"{m}_target") is not None for r in rows)
        fmt = "0.0" if m.startswith("tat") else None
        cols.append(
            Column(
                m,
                k["label"],
                types[k["kind"]],
                number_format=fmt,
                target=f"{m}_target" if has_target else None,
                direction=k["direction"],
            )
        )
        if has_target:
            cols.append(Column(f"{m}_target", f"{k['label']} target", types[k["kind"]]))
    return cols


def _resolve(ctx: RunContext, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else ctx.data_dir / path


def _inputs(ctx: RunContext, given: str, defaults: list[str]) -> list[Path]:
    if given:
        paths = [_resolve(ctx, p.strip()) for p in given.split(",") if p.strip()]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise DataError(f"case export not found: {', '.join(missing)}")
        return paths
    return existing(_resolve(ctx, d) for d in defaults)


def _optional(ctx: RunContext, given: str, default: str, reader: Any, notes: list[str], what: str) -> Any:
    path = _resolve(ctx, given or default)
    if not path.is_file():
        if given:
            raise DataError(f"{what} file not found: {path}")
        notes.append(f"No {default} in the data folder: {what} left out.")
        return None
    return reader(path)
