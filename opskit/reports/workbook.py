"""The standard report workbook: headline KPIs on a Summary sheet, a sheet per cut, exceptions, notes.

``opskit.excel.Report`` writes any workbook; these helpers give the report tasks one shape: tagged
with the task and the job, a Summary of ``KPI``s (change and target attainment by the DOMAIN.md
formulas, which is why KPI lives here and not in the excel layer), a sheet per cut whose metric
columns turn red or green against each row's own target, the missed targets, the notes that say what
was left out, and an atomic save into the run folder.

Example:
    report = report_for(ctx, f"Moderation efficiency {period.label}", task="efficiency_report",
                        subject=period.label)
    report.summary(workbook_kpis(kpis))
    report.sheet("By queue", rows, cut_columns("queue", rows, kpis))
    add_exceptions(report, missed)
    path = save_report(ctx, report, f"efficiency_{period.label}.xlsx")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.reports.formulas import HIGHER, change, point_change, target_attainment

if TYPE_CHECKING:
    from opskit.context import RunContext
    from opskit.excel import Column, Report

# The email's KPI kinds as workbook column types (a duration KPI is seconds, shown as a number).
KIND_TYPES = {
    "num": "int",
    "duration": "float",
    "pct": "percent",
    "rate": "float",
    "fte": "float",
    "hours": "float",
    "currency": "float",
}


@dataclass(frozen=True, slots=True)
class KPI:
    """A headline number for the Summary sheet (``Report.summary``), with its previous value and target.

    Args:
        name: The metric as the reader knows it ("AHT (s)").
        value: This period's value; None shows "n/a".
        previous: The previous period's value, for the change.
        target: The target; attainment and met/missed are shown when given.
        direction: higher_is_better, lower_is_better, or neutral (workload: no attainment).
        type: The workbook column type of the value (int, float, percent, seconds, ...).
    """

    name: str
    value: float | None
    previous: float | None = None
    target: float | None = None
    direction: str = HIGHER
    type: str = "float"

    @property
    def change(self) -> float | None:
        """Change against the previous period: in percentage points for a percentage (73.0% after
        72.0% is +1.0 pp, as the email says), relative otherwise; None with nothing to compare."""
        if self.type == "percent":
            points = point_change(self.value, self.previous)
            return None if points is None else points * 100
        return change(self.value, self.previous)

    @property
    def attainment(self) -> float | None:
        """actual / target (higher is better) or target / actual (lower is better); >= 1 is met."""
        return target_attainment(self.value, self.target, self.direction)


def report_for(
    ctx: RunContext, title: str, *, task: str | None = None, subject: str | None = None, description: str | None = None
) -> Report:
    """A new ``Report`` dated at the run's scheduled time (not the wall clock, so a re-run is identical).

    Args:
        task: Tag the workbook with the task's and the job's names (its keywords), so a reader can
            tell where a file came from; no keywords when None.
        subject: The workbook's subject, usually the period label.
        description: The workbook's description, e.g. the report's notes.
    """
    from opskit.excel import Report  # start-up: opskit.excel.write is imported when a report is made

    keywords = tuple(x for x in (task, ctx.job) if x) if task else ()
    return Report(title, subject=subject, keywords=keywords, description=description, created=ctx.scheduled_for)


def save_report(ctx: RunContext, report: Report, name: str) -> Path:
    """Save ``report`` as ``name`` in the run folder, atomically (``ctx.output``); returns the path."""
    path = ctx.path(name)
    with ctx.output(path) as tmp:
        report.save(tmp)
    return path


def workbook_kpis(kpis: Iterable[Mapping[str, Any]]) -> list[KPI]:
    """The email's KPI tiles (``summary.metric_kpis``) as Summary sheet KPIs, with previous and target."""
    return [
        KPI(
            k["label"],
            k["value"],
            previous=k.get("previous"),
            target=k.get("target"),
            direction=k["direction"],
            type=KIND_TYPES[k["kind"]],
        )
        for k in kpis
    ]


def cut_columns(dim: str, rows: Sequence[Mapping[str, Any]], kpis: Iterable[Mapping[str, Any]]) -> list[Column]:
    """The columns of a cut's sheet (``cuts.cut_rows``): the group, then each KPI's metric.

    A metric with a target in any row gets its target column beside it, and its cells turn red or
    green against their own row's target. A queue sheet also shows the queue's name, channel and market.
    """
    from opskit.excel import Column  # start-up, as in report_for

    cols = [Column("key", {"queue": "Queue ID"}.get(dim, dim.capitalize()), "str")]
    if dim == "queue":
        cols += [Column("name", "Queue", "str"), Column("channel", "Channel", "str"), Column("market", "Market", "str")]
    for k in kpis:
        m = k["metric"]
        has_target = any(r.get(f"{m}_target") is not None for r in rows)
        fmt = "0.0" if m.startswith("tat") else None
        kind = KIND_TYPES[k["kind"]]
        target = f"{m}_target" if has_target else None
        cols.append(Column(m, k["label"], kind, number_format=fmt, target=target, direction=k["direction"]))
        if has_target:
            cols.append(Column(f"{m}_target", f"{k['label']} target", kind))
    return cols


def add_exceptions(report: Report, missed: Sequence[Mapping[str, Any]]) -> Report:
    """An "Exceptions" sheet of missed targets (``cuts.misses``); percentages shown as numbers with a unit."""
    from opskit.excel import Column  # start-up, as in report_for

    def shown(m: Mapping[str, Any]) -> dict[str, Any]:
        scale, unit = (100, "%") if m["kind"] == "pct" else (1, "")
        return {**m, "actual": m["actual"] * scale, "target": m["target"] * scale, "unit": unit}

    return report.sheet(
        "Exceptions",
        [shown(m) for m in missed],
        [
            Column("where", "Where", "str"),
            Column("metric", "Metric", "str"),
            Column("actual", "Actual", "float"),
            Column("target", "Target", "float"),
            Column("unit", "Unit", "str"),
            Column("attainment", "Attainment", "percent", target=1.0),
        ],
    )


def add_drivers(report: Report, top: Sequence[Mapping[str, Any]], share_of: str) -> Report:
    """A "Drivers" sheet: the drivers the email lists (``explain.drivers``), with the same share.

    Each row: the driver in words, its effect (mix or rate), the segment, the effect's size and its
    share, and one line under the table saying what every share is a share of (``share_of``, the
    email's ``drivers_share_of``): the email and the workbook tell one number one way.
    """
    from opskit.excel import Column  # start-up, as in report_for

    rows = [
        {
            "label": d["label"],
            "effect": d.get("effect"),
            "segment": d.get("segment"),
            "value": d.get("value"),
            "share": d.get("share"),
            "note": d.get("note"),
        }
        for d in top
    ]
    columns = [
        Column("label", "Driver", "str"),
        Column("effect", "Effect", "str"),
        Column("segment", "Segment", "str"),
        Column("value", "Effect size", "float", na=""),
        Column("share", "Share", "percent", number_format="0.0%", na=""),
        Column("note", "Why", "str"),
    ]
    report.sheet("Drivers", rows + [{"label": f"Each share is of {share_of}."}], columns, table=False)
    return report


def add_notes(report: Report, notes: Sequence[str]) -> Report:
    """A "Notes" sheet: what was read and what was left out, one line each."""
    from opskit.excel import Column  # start-up, as in report_for

    return report.sheet("Notes", [{"note": n} for n in notes], [Column("note", "Note", "str", width=100)], table=False)
