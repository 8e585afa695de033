"""Cell value conversion: what a vendor typed or exported, to the Python value a column declares.

Each converter takes one raw cell value (as calamine, openpyxl or the csv module gives it) and returns
the typed value, ``None`` for an empty cell, or raises ``ValueError`` whose text is the rejection
reason shown to the analyst. Converters never guess: an ambiguous text date such as ``03/04/2026``
without an explicit ``dayfirst`` is a rejection, not a coin toss.

Types: ``str``, ``int``, ``float``, ``percent`` (a ratio: ``85%`` -> 0.85), ``bool``, ``date``,
``datetime``, ``duration`` (seconds, from ``h:mm:ss``/``mm:ss`` text, ``timedelta``/``time`` cells or
Excel day fractions) and ``seconds`` (seconds, from plain numbers, the same texts and cells). Both
durations go through ``durations.parse_seconds``, with the unit the column's header declares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from opskit.excel.durations import parse_seconds

TYPES = ("str", "int", "float", "percent", "bool", "date", "datetime", "duration", "seconds")

EPOCH_1900 = datetime(1899, 12, 30)  # Excel's 1900 system, with its fictitious 1900-02-29 skipped
EPOCH_1904 = datetime(1904, 1, 1)

_ERRORS = frozenset(
    {
        "#N/A",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
    }
)
_TRUE = frozenset({"y", "yes", "true", "t", "1", "x", "✓", "ja", "sí", "si", "oui"})
_FALSE = frozenset({"n", "no", "false", "f", "0", "", "-", "nein", "non"})
_NUMBER_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_YMD_RE = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[T ]+(.+))?$")
_DMY_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[T ]+(.+))?$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([ap]\.?m\.?)?$", re.I)
_MONTHS = {
    m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_MONTHS["sept"] = 9
_NAMED_DMY = re.compile(r"^(\d{1,2})[\s\-/.]+([a-z]{3,9})\.?[\s\-/.,]+(\d{2}|\d{4})(?:[T ,]+(.+))?$", re.I)
_NAMED_MDY = re.compile(r"^([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?:[T ,]+(.+))?$", re.I)


@dataclass(frozen=True, slots=True)
class Context:
    """What conversion needs to know besides the value: date system, day order, time zone."""

    epoch: datetime = EPOCH_1900
    dayfirst: bool | None = None
    tz: tzinfo | None = None
    order_fixed: bool = False
    """The column's day order was decided from all its values (``column_dayfirst``): a date that is only
    valid in the other order (13/11 in a month-first column) is an error, not read the other way."""


def excel_error(value: object) -> str | None:
    """The Excel error code a cell holds as text (``#N/A``), or None."""
    if isinstance(value, str) and "#" in value[:3] and value.strip().upper() in _ERRORS:
        return value.strip().upper()
    return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_str(value: object, ctx: Context) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # calamine returns whole numbers (IDs) as floats
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):  # a cell holding NaN or INF, as some scripts write them
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip().translate(_SPACES)
        negative = text.startswith("(") and text.endswith(")")  # accounting style (1,234)
        if negative:
            text = text[1:-1]
        if text and _NUMBER_RE.match(text) and text not in {"+", "-", "."}:
            number = float(text.replace(",", ""))
            return -number if negative else number
    raise ValueError(f"expected a number, got {value!r}")


def to_float(value: object, ctx: Context) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, str) and value.strip().endswith("%"):
        return _number(value.strip()[:-1]) / 100
    return _number(value)


def to_int(value: object, ctx: Context) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _number(value)
    if not number.is_integer():
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)


def to_percent(value: object, ctx: Context) -> float | None:
    """A ratio: ``85%`` and ``85 %`` -> 0.85; a number (a %-formatted cell) is already a ratio."""
    if _blank(value):
        return None
    if isinstance(value, str) and value.strip().endswith("%"):
        return _number(value.strip()[:-1].strip()) / 100
    return _number(value)


def to_bool(value: object, ctx: Context) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        raise ValueError(f"expected yes/no, got {value!r}")
    text = str(value).strip().casefold()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected yes/no (Y/N, Yes/No, 1/0, TRUE/FALSE), got {value!r}")


def _serial(value: float, ctx: Context) -> datetime:
    if not 0 <= value < 2958466:  # 9999-12-31
        raise ValueError(f"{value!r} is not an Excel date serial")
    if ctx.epoch == EPOCH_1900 and value < 60:
        value += 1  # serials before 1900-03-01 count the fictitious 1900-02-29
    moment = ctx.epoch + timedelta(days=value)
    # Excel stores times as day fractions: round to the millisecond to drop float noise.
    micro = round(moment.microsecond, -3)
    return moment.replace(microsecond=0) + timedelta(microseconds=micro)


def _clock(text: str, value: object) -> time:
    match = _TIME_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a date and time: {value!r}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    meridiem = (match[4] or "").lower().replace(".", "")
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError(f"not a time: {value!r}")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    return time(hour, minute, second)


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if len(text) == 2 else year


def _parse_text_datetime(value: str, ctx: Context) -> datetime:
    text = value.strip()
    match = _ISO_RE.match(text)
    if match:
        y, mo, d = int(match[1]), int(match[2]), int(match[3])
        h, mi, s = int(match[4] or 0), int(match[5] or 0), int(match[6] or 0)
        micro = int(float(match[7]) * 1_000_000) if match[7] else 0
        moment = datetime(y, mo, d, h, mi, s, micro)
        if match[8]:
            moment = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
        return moment
    rest: str | None = None
    match = _YMD_RE.match(text)
    if match:
        y, mo, d, rest = int(match[1]), int(match[2]), int(match[3]), match[4]
    elif match := _DMY_RE.match(text):
        a, b, y, rest = int(match[1]), int(match[2]), _year(match[3]), match[4]
        if ctx.order_fixed and ((a > 12 and b <= 12 and not ctx.dayfirst) or (b > 12 and a <= 12 and ctx.dayfirst)):
            order = "day-first" if ctx.dayfirst else "month-first"
            raise ValueError(f"date {value!r} contradicts the column's other dates, which are {order}")
        if a > 12 and b <= 12:
            d, mo = a, b
        elif b > 12 and a <= 12:
            d, mo = b, a
        elif a == b:
            d = mo = a
        elif ctx.dayfirst is None:
            raise ValueError(
                f"ambiguous date {value!r}: day and month could be swapped; "
                "set dayfirst=True (31/12/2026) or dayfirst=False (12/31/2026)"
            )
        else:
            d, mo = (a, b) if ctx.dayfirst else (b, a)
    elif match := _NAMED_DMY.match(text):
        d, mo, y, rest = int(match[1]), _month(match[2], value), _year(match[3]), match[4]
    elif match := _NAMED_MDY.match(text):
        mo, d, y, rest = _month(match[1], value), int(match[2]), int(match[3]), match[4]
    else:
        raise ValueError(f"not a date: {value!r}")
    clock = _clock(rest, value) if rest else time()
    try:
        return datetime.combine(date(y, mo, d), clock)
    except ValueError:
        raise ValueError(f"not a valid date: {value!r}") from None


def column_dayfirst(values: Iterable[object], dayfirst: bool | None) -> bool | None:
    """The day order of one column of one file, decided once from all its text dates.

    A vendor's export writes every date of a column the same way: if any value is only valid month-first
    (11/13/2026), the whole column is month-first, and 11/12/2026 in it is 12 November, not 11 December.
    Otherwise ``dayfirst`` (the caller's setting) stands. Reading each value on its own would mix orders
    within a file without a word.
    """
    for value in values:
        if not isinstance(value, str):
            continue
        text = value.strip()
        if _ISO_RE.match(text) or _YMD_RE.match(text) or not (match := _DMY_RE.match(text)):
            continue
        if int(match[2]) > 12 and int(match[1]) <= 12:
            return False
    return dayfirst


def _month(name: str, value: object) -> int:
    month = _MONTHS.get(name[:4].lower()) or _MONTHS.get(name[:3].lower())
    if month is None:
        raise ValueError(f"not a date: {value!r}")
    return month


def to_datetime(value: object, ctx: Context) -> datetime | None:
    """A datetime, naive unless the text carries an offset or ``ctx.tz`` is given."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = _serial(float(value), ctx)
    elif isinstance(value, str):
        moment = _parse_text_datetime(value, ctx)
    else:
        raise ValueError(f"not a date and time: {value!r}")
    if ctx.tz is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=ctx.tz)
    return moment


def to_date(value: object, ctx: Context) -> date | None:
    if _blank(value):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = to_datetime(value, replace(ctx, tz=None))
    return moment.date() if moment is not None else None


def to_duration(value: object, ctx: Context) -> float | None:
    """Seconds, from ``h:mm:ss``/``mm:ss`` text, a time/timedelta cell, or a number as an Excel day fraction."""
    return parse_seconds(value, numbers="day")


def to_seconds(value: object, ctx: Context) -> float | None:
    """Seconds, from a plain number of seconds, ``h:mm:ss``/``mm:ss`` text or an Excel duration cell."""
    return parse_seconds(value)


CONVERTERS: dict[str, Callable[[object, Context], object]] = {
    "str": to_str,
    "int": to_int,
    "float": to_float,
    "percent": to_percent,
    "bool": to_bool,
    "date": to_date,
    "datetime": to_datetime,
    "duration": to_duration,
    "seconds": to_seconds,
}


def converter(type_name: str, unit: str | None = None) -> Callable[[object, Context], object]:
    """The converter for a column type name; ValueError naming the accepted types otherwise.

    ``unit`` is the duration unit the column's header declares (``durations.header_unit``): a
    ``seconds`` or ``duration`` column headed "Productive hrs" reads 7.5 as 27,000 seconds.
    """
    try:
        convert = CONVERTERS[type_name]
    except KeyError:
        raise ValueError(f"unknown column type {type_name!r} (use {', '.join(TYPES)})") from None
    if unit is not None and type_name in ("seconds", "duration"):
        numbers = "day" if type_name == "duration" else "s"
        return lambda value, ctx: parse_seconds(value, unit, numbers=numbers)
    return convert
