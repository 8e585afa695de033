"""Why did a metric change? Mix, rate and interaction effects by vendor, channel, queue, market or site."""

from __future__ import annotations

from typing import Literal

from opskit import DataError, DataPath, DataPaths, Period, Result, RunContext, task
from opskit.reports import (
    ATTRIBUTABLE,
    add_attribution,
    attribute_windows,
    attribution_facts,
    attribution_kpi,
    case_exports,
    data_path,
    drivers,
    drivers_share_of,
    email_drivers,
    narrative,
    read_queues,
    report_for,
    save_report,
    scan_cases,
    show,
)


@task(schedule_hint="0 8 * * MON")
def metric_attribution(
    ctx: RunContext,
    *,
    current: Period = "last_week",
    baseline: Period | None = None,
    metric: Literal["aht", "sla_attainment", "accuracy"] = "aht",
    by: Literal["vendor", "channel", "queue", "market", "site"] = "vendor",
    cases: DataPaths = "",
    queues: DataPath = "",
) -> Result:
    """Split a metric's change between two periods into mix, rate and interaction, with the drivers.

    Args:
        current: The period to explain.
        baseline: The period to compare with; the one just before ``current`` by default.
        metric: aht, sla_attainment or accuracy (volume-weighted averages over completed cases).
        by: The segments: vendor, channel, queue, market or site.
        cases: Case export CSV(s) covering both periods, comma-separated, relative to the data
            folder; by default the export an earlier step of the job produced, else
            cases/<current>.csv and cases/<baseline>.csv.
        queues: Queue list with sla_hours (needed for sla_attainment); default queues.csv.
    """
    base = baseline or current.previous()
    files = case_exports(ctx, cases, [current, base])
    if not files:
        raise DataError(
            f"no case export for {current.label} and {base.label}",
            hint="Run export_cases for both periods, or pass cases=<file>",
        )
    sla = None
    if metric == "sla_attainment":
        path = data_path(ctx, queues or "queues.csv")
        if not path.is_file():
            raise DataError(
                f"SLA attainment needs the queue list: {path} not found",
                hint="Pass queues=<file with queue_id, sla_hours>",
            )
        sla = read_queues(path)
    windows = {"current": current, "baseline": base}
    scan = scan_cases(files, windows=windows, tz=ctx.tz, sla_hours=sla)
    attr, before, after = attribute_windows(scan, metric, by, "baseline", "current")
    label = ATTRIBUTABLE[metric][0]
    if attr is None:
        empty = base if not any(v for v, _ in before.values()) else current
        raise DataError(
            f"no {label} in {empty.label}: nothing to compare",
            hint="Check that the case exports cover both periods",
        )
    stem = f"attribution_{metric}_by_{by}_{current.label}"
    md = narrative(attr, metric, by, base.label, current.label)
    with ctx.output(f"{stem}.md") as tmp:
        tmp.write_text(md, encoding="utf-8")

    subject = f"{base.label} → {current.label}"
    report = report_for(ctx, f"{label} attribution by {by}", task="metric_attribution", subject=subject)
    add_attribution(report, attr, metric, by, before, after, baseline=base.label, current=current.label)
    path = save_report(ctx, report, f"{stem}.xlsx")
    ctx.log.info("%s by %s: %s → %s", label, by, show(metric, attr.baseline), show(metric, attr.current))
    summary = {
        "kind": "comparison",
        "period": current.label,
        "previous_period": base.label,
        "baseline": base.label,
        "metric": metric,
        "by": by,
        "kpis": [attribution_kpi(attr, metric)],
        "targets_checked": 0,
        "missed_targets": [],
        "drivers": email_drivers(drivers(attr, metric, by)),
        "drivers_share_of": drivers_share_of(label, base.label, current.label, show(metric, attr.total, signed=True)),
        "attribution": attribution_facts(attr),
        "narrative": md.split("\n\n")[1],
        **scan.gate_facts(),
    }
    return Result(files=[path, ctx.path(f"{stem}.md")], rows=scan.rows, summary=summary)
