"""A report sheet's columns: what each holds, how it is formatted, totalled and judged against a target.

``Column`` is the unit a report is described in (``Report.sheet(name, rows, columns)``): the row key,
the header, a type that picks the number format (percent, duration, hours, ...), and optionally a
target that turns missed cells red and met cells green.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

FORMATS = {
    "int": "#,##0",
    "float": "#,##0.00",
    "percent": "0.0%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
    "duration": "[h]:mm:ss",
    "hours": "#,##0.0",
    "str": "General",
    "auto": "General",
    "seconds": "#,##0",
}
SCALES = {"duration": 86400.0, "hours": 3600.0}  # inputs are seconds
NUMERIC = {"int", "float", "percent", "duration", "hours", "seconds"}
SUBTOTAL = {"sum": 109, "average": 101, "count": 103, "min": 105, "max": 104}


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a report sheet.

    Args:
        key: The row dict key (or position, for sequence rows) holding the value.
        header: The header text; the key when omitted.
        type: str, int, float, percent (a ratio shown as %), date, datetime, duration (seconds shown
            as [h]:mm:ss), hours (seconds shown as hours), seconds, or auto.
        number_format: Overrides the type's format.
        width: Column width in characters; fitted to the header and values when omitted.
        target: A number, or the key of another column holding each row's target; cells that miss
            it turn red and cells that meet it green.
        direction: higher_is_better, lower_is_better, or neutral (workload: never coloured), for ``target``.
        data_bar: Show a data bar in the cells.
        total: sum, average, count, min or max in the totals row (SUBTOTAL, so filters apply);
            numeric columns other than percent default to sum.
        na: Text for an empty value (a ratio with a zero denominator); "n/a" for numeric types.
    """

    key: str
    header: str | None = None
    type: str = "auto"
    number_format: str | None = None
    width: float | None = None
    target: float | str | None = None
    direction: str = "higher_is_better"
    data_bar: bool = False
    total: str | None = None
    na: str | None = None

    def __post_init__(self) -> None:
        if self.type not in FORMATS:
            raise ValueError(f"unknown column type {self.type!r} (use {', '.join(FORMATS)})")
        if self.direction not in {"higher_is_better", "lower_is_better", "neutral"}:
            raise ValueError(f"direction must be higher_is_better, lower_is_better or neutral, not {self.direction!r}")
        if self.total is not None and self.total not in SUBTOTAL:
            raise ValueError(f"total must be one of {', '.join(SUBTOTAL)}, not {self.total!r}")

    @property
    def title(self) -> str:
        return self.header if self.header is not None else str(self.key)

    @property
    def fmt(self) -> str:
        return self.number_format or FORMATS[self.type]

    @property
    def empty_text(self) -> str:
        if self.na is not None:
            return self.na
        return "n/a" if self.type in NUMERIC else ""

    @property
    def total_function(self) -> str | None:
        if self.total:
            return self.total
        return "sum" if self.type in NUMERIC - {"percent"} else None


def fit_width(column: Column, values: Sequence[Any]) -> float:
    """A column width that fits the header and a sample of values, between 8 and 60 characters."""
    longest = min(len(column.title), 30) + 2
    for value in values:
        if value is None:
            size = len(column.empty_text)
        elif isinstance(value, datetime):
            size = 16
        elif isinstance(value, date):
            size = 10
        elif isinstance(value, bool):
            size = 5
        elif isinstance(value, int | float):
            size = 8 if column.type in {"percent", "duration"} else len(f"{value:,.2f}")
        else:
            size = max((len(line) for line in str(value).splitlines()), default=0)
        longest = max(longest, size + 1)
    return float(min(max(longest, 8), 60))
