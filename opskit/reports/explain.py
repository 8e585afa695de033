"""Why did a metric move? Attribution over a case scan, told in words for the email and the narrative.

``opskit.reports.attribution.attribute`` splits the change of a volume-weighted metric into mix,
rate and interaction (DOMAIN.md). Here that meets the case scan: ``segments`` gives each segment's
volume and level in one window, ``attribute_windows`` compares two windows, ``drivers`` picks the
largest single effects in plain words, ``narrative`` writes the Markdown an analyst would, and
``add_attribution`` lays it all out in a workbook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opskit.reports.attribution import Attribution, Segments, attribute
from opskit.reports.formulas import HIGHER, LOWER, ratio
from opskit.reports.scan import CaseScan
from opskit.reports.summary import drivers_share_of
from opskit.reports.workbook import KPI, add_drivers

if TYPE_CHECKING:
    from opskit.excel import Report

# metric -> (label, volume field, value field, more means)
ATTRIBUTABLE = {
    "aht": ("AHT", "completed", "aht", ("handling cases more slowly", "handling cases faster")),
    "sla_attainment": (
        "SLA attainment",
        "completed",
        "sla_attainment",
        ("meeting SLA more often", "meeting SLA less often"),
    ),
    "accuracy": (
        "Accuracy",
        "graded",
        "accuracy",
        ("deciding more accurately", "deciding less accurately"),
    ),
}


def segments(
    scan: CaseScan, window: str, dim: str, metric: str, *, sla: bool = True
) -> dict[str, tuple[float, float | None]]:
    """segment -> (volume, metric) of one window, for ``opskit.reports.attribution.attribute``.

    The volume is what the metric averages over: completed cases for AHT and SLA, graded ones for accuracy.
    """
    _, volume, value, _ = ATTRIBUTABLE[metric]
    return {key: (getattr(t, volume), t.metrics(sla=sla)[value]) for key, t in scan.cut(window, dim).items()}


def show(metric: str, value: float | None, *, signed: bool = False) -> str:
    """A metric value or effect in words: "121.8 s", "93.4%", "+10.9 s", "-1.2 pp"."""
    if value is None:
        return "n/a"
    if metric == "aht":
        return f"{value:+.1f} s" if signed else f"{value:.1f} s"
    return f"{value * 100:+.1f} pp" if signed else f"{value * 100:.1f}%"


def drivers(attr: Attribution, metric: str, dim: str, *, top: int = 3) -> list[dict[str, Any]]:
    """The largest single effects (a segment's mix or rate), for the email and the narrative.

    Each: label (plain words), share (the effect / the total change: ``drivers_share_of`` says so in
    words), note, segment, effect, value.
    """
    label, _, _, (up, down) = ATTRIBUTABLE[metric]
    items = []
    for s in attr.segments:
        for effect in ("rate", "mix"):
            value = getattr(s, effect)
            if not value:
                continue
            if effect == "rate":
                text = f"{s.segment} {up if value > 0 else down}"
                note = f"{label} {show(metric, s.metric0)} → {show(metric, s.metric1)}"
            else:
                more = s.weight1 > s.weight0
                text = f"volume moving {'to' if more else 'away from'} {s.segment}"
                note = (
                    f"share {s.weight0:.1%} → {s.weight1:.1%}; {label} "
                    f"{show(metric, s.metric0 if s.metric0 is not None else s.metric1)}"
                )
            items.append(
                {
                    "label": text,
                    "share": ratio(value, attr.total),
                    "note": note,
                    "segment": str(s.segment),
                    "effect": effect,
                    "value": value,
                }
            )
    items.sort(key=lambda d: abs(d["value"]), reverse=True)
    return items[:top]


def narrative(attr: Attribution, metric: str, dim: str, baseline: str, current: str) -> str:
    """Plain-words Markdown: what changed, by how much, and the top drivers."""
    label = ATTRIBUTABLE[metric][0]
    verb = "rose" if attr.total > 0 else "fell" if attr.total < 0 else "did not change"
    rel = ratio(attr.total, abs(attr.baseline))
    size = (
        f" {abs(rel):.0%}"
        if rel is not None and metric == "aht"
        else (f" {show(metric, attr.total, signed=True).lstrip('+-')}" if metric != "aht" else "")
    )
    lines = [
        f"# {label} by {dim}: {baseline} → {current}",
        "",
        f"{label} {verb}{size} ({show(metric, attr.baseline)} → {show(metric, attr.current)}) "
        f"from {baseline} to {current}. Rate effects (segments themselves) add "
        f"{show(metric, attr.rate, signed=True)}, mix (volume moving between {dim}s) "
        f"{show(metric, attr.mix, signed=True)}, interaction "
        f"{show(metric, attr.interaction, signed=True)}.",
    ]
    top = drivers(attr, metric, dim)
    words = []
    for d in top:
        words.append(f"{d['label']} ({d['effect']} effect {show(metric, d['value'], signed=True)}; {d['note']})")
    if words:
        lines += ["", f"The largest driver is {words[0]}."]
        if len(words) > 1:
            lines += ["", "Next: " + "; ".join(words[1:]) + "."]
    lines += [
        "",
        "| Segment | Mix | Rate | Interaction | Total | Share of change |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in attr.segments:
        share = "n/a" if s.share is None else f"{s.share:.1%}"
        name = str(s.segment).replace("|", "\\|")
        lines.append(
            f"| {name} | {show(metric, s.mix, signed=True)} | "
            f"{show(metric, s.rate, signed=True)} | {show(metric, s.interaction, signed=True)}"
            f" | {show(metric, s.total, signed=True)} | {share} |"
        )
    return "\n".join(lines) + "\n"


def attribute_windows(
    scan: CaseScan, metric: str, by: str, baseline: str, current: str
) -> tuple[Attribution | None, Segments, Segments]:
    """Attribute ``metric``'s change from window ``baseline`` to ``current`` of a scan to segments ``by``.

    Returns:
        (the attribution, or None when a window has no volume; baseline segments; current segments).
    """
    before, after = segments(scan, baseline, by, metric), segments(scan, current, by, metric)
    return attribute(before, after), before, after


def attribution_kpi(attr: Attribution, metric: str) -> dict[str, Any]:
    """The email's KPI tile of an attribution: the current level and its change from the baseline."""
    if metric == "aht":
        change = attr.total / attr.baseline if attr.baseline else None
    else:
        change = attr.total  # a ratio metric changes in points
    return {
        "label": ATTRIBUTABLE[metric][0],
        "value": attr.current,
        "kind": "duration" if metric == "aht" else "pct",
        "change": change,
        "direction": LOWER if metric == "aht" else HIGHER,
    }


def attribution_facts(attr: Attribution) -> dict[str, Any]:
    """The attribution's totals and its largest rate and mix effects, for the run's stored summary."""
    top_rate = max(attr.segments, key=lambda s: abs(s.rate))
    top_mix = max(attr.segments, key=lambda s: abs(s.mix))
    return {
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
    }


def segment_rows(attr: Attribution, before: Segments, after: Segments) -> list[dict[str, Any]]:
    """One row per segment, largest contribution first: volumes, shares, levels and effects of both periods.

    Every share of change is one definition, the email's: an effect / the total change (``mix_share``,
    ``rate_share``, and ``share`` for the segment's total effect).
    """
    return [
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
            "mix_share": ratio(s.mix, attr.total),
            "rate_share": ratio(s.rate, attr.total),
            "share": s.share,
        }
        for s in attr.segments
    ]


def add_attribution(
    report: Report,
    attr: Attribution,
    metric: str,
    by: str,
    before: Segments,
    after: Segments,
    *,
    baseline: str,
    current: str,
) -> Report:
    """The attribution workbook's sheets: a Summary (the level, its change, and the three effects),
    "Drivers" (the email's drivers with the same shares) and "Segments", one row per segment with both
    periods' volume, share and level, its effects and each effect's share of the change."""
    from opskit.excel import Column  # start-up: opskit.excel.write loads when a workbook is made

    label = ATTRIBUTABLE[metric][0]
    kind, effect = ("float", "#,##0.00") if metric == "aht" else ("percent", "+0.00%;-0.00%;0.00%")
    direction = LOWER if metric == "aht" else HIGHER
    report.summary(
        [
            KPI(label, attr.current, previous=attr.baseline, type=kind, direction=direction),
            *(KPI(f"{name} effect", getattr(attr, name), type=kind) for name in ("mix", "rate", "interaction")),
            KPI("Total change", attr.total, type=kind),
        ]
    )
    columns = [
        Column("segment", by.capitalize(), "str"),
        Column("volume0", f"Volume {baseline}", "int"),
        Column("volume1", f"Volume {current}", "int"),
        Column("weight0", f"Share {baseline}", "percent"),
        Column("weight1", f"Share {current}", "percent"),
        Column("metric0", f"{label} {baseline}", kind),
        Column("metric1", f"{label} {current}", kind),
        Column("mix", "Mix effect", kind, number_format=effect),
        Column("rate", "Rate effect", kind, number_format=effect),
        Column("interaction", "Interaction", kind, number_format=effect),
        Column("total", "Total effect", kind, number_format=effect, data_bar=True),
        Column("mix_share", "Mix share of change", "percent"),
        Column("rate_share", "Rate share of change", "percent"),
        Column("share", "Total share of change", "percent"),
    ]
    top = drivers(attr, metric, by)
    if top:
        add_drivers(report, top, drivers_share_of(label, baseline, current, show(metric, attr.total, signed=True)))
    return report.sheet("Segments", segment_rows(attr, before, after), columns)
