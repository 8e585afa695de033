"""Why did a metric change? Mix, rate and interaction effects by vendor, channel, queue, market or site."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from opskit import DataError, Period, Result, RunContext, task
from opskit.reports import (
    ATTRIBUTABLE,
    drivers,
    existing,
    narrative,
    read_queues,
    scan_cases,
    segments,
    show,
    step_exports,
)


@task(schedule_hint="0 8 * * MON")
def metric_attribution(
    ctx: RunContext,
    *,
    current: Period = "last_week",
    baseline: Period | None = None,
    metric: Literal["aht", "sla_attainment", "accuracy"] = "aht",
    by: Literal["vendor", "channel", "queue", "market", "site"] = "vendor",
    cases: str = "",
    queues: str = "",
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
    if cases:
        files = [
            p if p.is_absolute() else ctx.data_dir / p for p in (Path(c.strip()) for c in cases.split(",") if c.strip())
        ]
    else:
        files = step_exports(ctx.steps) or existing(ctx.data_dir / "cases" / f"{p.label}.csv" for p in (current, base))
    if not files or not all(f.is_file() for f in files):
        raise DataError(
            f"no case export for {current.label} and {base.label}",
            hint="Run export_cases for both periods, or pass cases=<file>",
        )
    sla = None
    if metric == "sla_attainment":
        qpath = ctx.data_dir / (queues or "queues.csv")
        if not qpath.is_file():
            raise DataError(
                f"SLA attainment needs the queue list: {qpath} not found",
                hint="Pass queues=<file with queue_id, sla_hours>",
            )
        sla = read_queues(qpath)
    scan = scan_cases(
        files,
        windows={"current": current.bounds(ctx.tz), "baseline": base.bounds(ctx.tz)},
        tz=ctx.tz,
        sla_hours=sla,
    )
    from opskit.reports import attribute

    before, after = (segments(scan, w, by, metric) for w in ("baseline", "current"))
    attr = attribute(before, after)
    if attr is None:
        empty = base if not any(v for v, _ in before.values()) else current
        raise DataError(
            f"no {ATTRIBUTABLE[metric][0]} in {empty.label}: nothing to compare",
            hint="Check that the case exports cover both periods",
        )
    label = ATTRIBUTABLE[metric][0]
    stem = f"attribution_{metric}_by_{by}_{current.label}"
    md = narrative(attr, metric, by, base.label, current.label)
    with ctx.output(f"{stem}.md") as tmp:
        tmp.write_text(md, encoding="utf-8")
    with ctx.output(f"{stem}.xlsx") as tmp:
        _workbook(ctx, tmp, attr, metric, by, base, current, before, after)
    top = drivers(attr, metric, by)
    top_rate = max(attr.segments, key=lambda s: abs(s.rate))
    top_mix = max(attr.segments, key=lambda s: abs(s.mix))
    ctx.log.info("%s by %s: %s → %s", label, by, show(metric, attr.baseline), show(metric, attr.current))
    summary = {
        "period": current.label,
        "baseline": base.label,
        "metric": metric,
        "by": by,
        "kpis": [
            {
                "label": label,
                "value": attr.current,
                "kind": "duration" if metric == "aht" else "pct",
                "change": (
                    attr.total / attr.baseline
                    if metric == "aht" and attr.baseline
                    else attr.total
                    if metric != "aht"
                    else None
                ),
                "direction": "lower_is_better" if metric == "aht" else "higher_is_better",
            }
        ],
        "missed_targets": [],
        "drivers": [{k: d[k] for k in ("label", "share", "note")} for d in top],
        "attribution": {
            "baseline": attr.baseline,
            "current": attr.current,
            "total": attr.total,
            "mix": attr.mix,
            "rate": attr.rate,
            "interaction": attr.interaction,
            "top_rate": str(top_rate.segment),
            "top_rate_effect": top_rate.rate,
            "top_mix": str(top_mix.segment),
            "top_mix_effect": top_mix.mix,
        },
        "narrative": md.split("\n\n")[1],
        "columns": scan.columns,
        "newest": scan.newest.isoformat() if scan.newest else None,
    }
    return Result(files=[ctx.path(f"{stem}.xlsx"), ctx.path(f"{stem}.md")], rows=scan.rows, summary=summary)


def _workbook(
    ctx: RunContext,
    tmp: Path,
    attr,
    metric: str,
    by: str,
    base: Period,
    current: Period,
    before: dict,
    after: dict,
) -> None:
    from opskit.excel import Column, Report
    from opskit.reports import KPI

    label = ATTRIBUTABLE[metric][0]
    kind, eff = ("float", "#,##0.00") if metric == "aht" else ("percent", "+0.00%;-0.00%;0.00%")
    report = Report(
        f"{label} attribution by {by}",
        subject=f"{base.label} → {current.label}",
        keywords=tuple(x for x in ("metric_attribution", ctx.job) if x),
        created=ctx.scheduled_for,
    )
    report.summary(
        [
            KPI(
                label,
                attr.current,
                previous=attr.baseline,
                type=kind,
                direction="lower_is_better" if metric == "aht" else "higher_is_better",
            ),
            *(KPI(f"{name} effect", getattr(attr, name), type=kind) for name in ("mix", "rate", "interaction")),
            KPI("Total change", attr.total, type=kind),
        ]
    )
    rows = [
        {
            "segment": str(s.segment),
            "volume0": before.get(s.segment, (0, None))[0],
            "volume1": after.get(s.segment, (0, None))[0],
            "weight0": s.weight0,
            "weight1": s.weight1,
            "metric0": s.metric0,
            "metric1": s.metric1,
            "mix": s.mix,
            "rate": s.rate,
            "interaction": s.interaction,
            "total": s.total,
            "share": s.share,
        }
        for s in attr.segments
    ]
    report.sheet(
        "Segments",
        rows,
        [
            Column("segment", by.capitalize(), "str"),
            Column("volume0", f"Volume {base.label}", "int"),
            Column("volume1", f"Volume {current.label}", "int"),
            Column("weight0", f"Share {base.label}", "percent"),
            Column("weight1", f"Share {current.label}", "percent"),
            Column("metric0", f"{label} {base.label}", kind),
            Column("metric1", f"{label} {current.label}", kind),
            Column("mix", "Mix effect", kind, number_format=eff),
            Column("rate", "Rate effect", kind, number_format=eff),
            Column("interaction", "Interaction", kind, number_format=eff),
            Column("total", "Total effect", kind, number_format=eff, data_bar=True),
            Column("share", "Share of change", "percent"),
        ],
    )
    report.save(tmp)
