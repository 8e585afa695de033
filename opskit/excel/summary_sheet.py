"""The Summary sheet's content: which columns its headline numbers can fill, and their rows.

A Summary shows only what its numbers have: Previous and Change when some number has a previous value,
Target, Attainment and Status when some has a target, under headers in the report's own terms. A change
of a percentage is in points ("+1.0 pp"), of anything else relative ("+4.2%").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from opskit.excel.columns import Column


class SummaryItem(Protocol):
    """What ``Report.summary`` writes of each headline number (``opskit.reports.KPI`` is one).

    The excel layer only lays the numbers out; what a change or an attainment *is* (points or
    relative, direction-aware ratios) is defined with the metrics, in opskit.reports.
    """

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def previous(self) -> float | None: ...
    @property
    def target(self) -> float | None: ...
    @property
    def type(self) -> str: ...
    @property
    def change(self) -> float | None: ...
    @property
    def attainment(self) -> float | None: ...


def summary_columns(kpis: Sequence[SummaryItem], value_header: str, previous_header: str) -> list[Column]:
    """The Summary's columns for these KPIs (module docstring)."""
    columns = [Column("metric", "Metric", "str"), Column("value", value_header, "float")]
    if any(k.previous is not None for k in kpis):
        columns += [Column("previous", previous_header, "float"), Column("change", "Change", "percent")]
    if any(k.target is not None for k in kpis):
        columns += [
            Column("target", "Target", "float"),
            Column("attainment", "Attainment", "percent", target=1.0),
            Column("status", "Status", "str"),
        ]
    return columns


def summary_rows(kpis: Sequence[SummaryItem]) -> list[dict[str, Any]]:
    """One row per KPI, by column key, with its value type under ``_type``."""
    rows = []
    for kpi in kpis:
        attainment = kpi.attainment
        rows.append(
            {
                "metric": kpi.name,
                "value": kpi.value,
                "previous": kpi.previous,
                "change": kpi.change,
                "target": kpi.target,
                "attainment": attainment,
                "status": "" if attainment is None else ("met" if attainment >= 1 else "missed"),
                "_type": kpi.type,
            }
        )
    return rows


def change_format(value_type: str) -> str:
    """The Change column's number format: points for a percentage, relative otherwise."""
    return '+0.0" pp";-0.0" pp";0.0" pp"' if value_type == "percent" else "+0.0%;-0.0%;0.0%"
