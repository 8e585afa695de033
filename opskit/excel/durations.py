"""Durations, the one parser: whatever form a vendor gives a length of time in, as seconds.

Vendors report handle, productive, logged-in and idle time in every form a spreadsheet allows: plain
seconds, ``h:mm:ss`` or ``mm:ss`` text, Excel duration cells (``[h]:mm:ss``, which arrive as a
``timedelta`` or a ``time``), decimal hours or minutes with the unit in the header ("Productive hrs",
"Handling (min)"), or text with units ("1h 30m"). Which form a number is in is not guessable from the
number, so the header says it: ``header_unit`` splits "Productive hrs" into ("Productive", "h"), and
``parse_seconds(value, unit)`` reads a value of that column. Every duration column of every reader goes
through ``parse_seconds``; a value it cannot read raises ``ValueError`` whose text is the row's
rejection reason.

Units: ``s``, ``min``, ``h`` (a number is that many of the unit), ``h:mm`` (two-part text is hours and
minutes) and ``clock`` (``h:mm:ss``/``mm:ss``: a number is an Excel day fraction). Without a unit a
number is seconds, or a day fraction when the caller says so (``numbers="day"``: the ``duration`` type).
Two-part text such as ``4:30`` is minutes and seconds (``mm:ss``) unless the header says hours — ``(h:mm)``,
or an hours unit as in "Productive hrs", where ``7:30`` is seven and a half hours.

A duration cell a reader hands over as a date (Excel shows ``h:mm`` formats of 1 day and more that way)
is counted from Excel's day 0 of the workbook's date system: 1899-12-30 in the 1900 system — but
1899-12-31 for the first 59 days, which readers shift by Excel's fictitious 29 February 1900 — and
1904-01-01 in the 1904 system (a date in 1904 is taken as that: 1,461 days and more in the 1900 system
is no duration a vendor reports). Any other date — a timestamp in a duration column — is refused, as
are NaN and infinite numbers.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta

EPOCH_1900 = datetime(1899, 12, 30)
_BEFORE_LEAP_DAY = (datetime(1899, 12, 31), datetime(1900, 3, 1))  # serials 1-59: day 1 is 1900-01-01
_EPOCH_1904 = (datetime(1904, 1, 1), datetime(1905, 1, 1))  # a duration of under a year, 1904 system
_LAST_1900_DURATION = datetime(1901, 1, 1)  # a year: any longer is a date, not a duration
UNITS = ("s", "min", "h", "h:mm", "clock")
_FACTORS = {"s": 1.0, "min": 60.0, "h": 3600.0}
# The words a header's unit is written with, by unit (compared casefolded, without dots).
_UNIT_WORDS = {
    "s": ("s", "sec", "secs", "second", "seconds", "in seconds", "in secs"),
    "min": ("m", "min", "mins", "minute", "minutes", "in minutes", "in mins"),
    "h": ("h", "hr", "hrs", "hour", "hours", "in hours", "in hrs"),
    "h:mm": ("h:mm", "hh:mm", "hrs:mins"),
    "clock": ("h:mm:ss", "hh:mm:ss", "mm:ss", "m:ss", "hhmmss", "hms", "[h]:mm:ss"),
}
_WORD_UNIT = {w: unit for unit, words in _UNIT_WORDS.items() for w in words}
# A unit in brackets at the end of a header: "Handle time (sec)", "AHT [h:mm:ss]".
_BRACKETED = re.compile(r"^(.*?)[\s_-]*[(\[]\s*([^()\[\]]+?)\s*[)\]]\s*$")
# A unit word at the end of a header: "Productive hrs", "handle_time_sec", "Idle minutes".
_TRAILING = re.compile(
    r"^(.*?\w)[\s_-]+(secs?|seconds?|mins?|minutes?|hrs?|hours?)\s*$",
    re.I,
)
_CLOCK = re.compile(r"^(-)?(\d+):([0-5]?\d)(?::([0-5]?\d(?:\.\d+)?))?$")
_WITH_UNITS = re.compile(
    r"^(?:(\d+(?:\.\d+)?)\s*h(?:ours?|rs?)?)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in(?:utes?|s)?)?)?"
    r"\s*(?:(\d+(?:\.\d+)?)\s*s(?:ec(?:onds?|s)?)?)?$",
    re.I,
)
_PLAIN = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")


def header_unit(header: object) -> tuple[str, str | None]:
    """A header's name and the duration unit it declares: "Productive hrs" -> ("Productive", "h").

    The unit is a bracketed suffix ("(sec)", "[h:mm:ss]", "(hrs)") or a last word ("hours", "mins",
    "_sec"); a header without one is returned whole, with None. A bracketed suffix that is not a unit
    ("Queue (EU)") stays part of the name.
    """
    text = " ".join(str(header).split())  # a header typed with Alt+Enter has a line break before its unit
    match = _BRACKETED.match(text)
    if match:
        unit = _WORD_UNIT.get(match[2].casefold().replace(".", "").strip())
        if unit is not None and match[1].strip():
            return match[1].strip(), unit
    match = _TRAILING.match(text)
    if match:
        unit = _WORD_UNIT.get(match[2].casefold())
        if unit is not None:
            return match[1].strip(), unit
    return text, None


def parse_seconds(value: object, unit: str | None = None, *, numbers: str = "s") -> float | None:
    """A duration cell as seconds; None for an empty cell.

    Args:
        value: The cell as the reader gives it: a number, text, ``timedelta``, ``time`` or ``datetime``.
        unit: The header's unit (``header_unit``), or None.
        numbers: What a number is without a unit: ``"s"`` (seconds) or ``"day"`` (an Excel day fraction).

    Raises:
        ValueError: not a duration; the text names the accepted forms.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    if isinstance(value, date) and not isinstance(value, datetime):  # whole days: calamine gives a date
        value = datetime.combine(value, time())
    if isinstance(value, datetime):  # a duration of 1 day or more, shown by the reader as a date
        moment = value.replace(tzinfo=None)
        return (moment - _day_zero(moment)).total_seconds()
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a duration, got {value!r}")
        return _number_as(float(value), unit, numbers)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration, got {value!r}")
    text = value.strip()
    match = _CLOCK.match(text)
    if match:
        sign = -1.0 if match[1] else 1.0
        a, b = int(match[2]), int(match[3])
        if match[4] is not None:
            return sign * (a * 3600 + b * 60 + float(match[4]))
        return sign * (a * 3600 + b * 60 if unit in ("h:mm", "h") else a * 60 + b)
    plain = text.translate(_SPACES)
    if plain and _PLAIN.match(plain) and plain not in {"+", "-", "."}:
        return _number_as(float(plain.replace(",", "")), unit, numbers)
    match = _WITH_UNITS.match(text)
    if match and any(match.groups()):
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        return h * 3600 + m * 60 + s
    raise ValueError(f"expected a duration (seconds, h:mm:ss, mm:ss or 1h 30m), got {value!r}")


def _day_zero(value: datetime) -> datetime:
    """Excel's day 0 for a duration cell read as ``value`` (the module's docstring says why).

    Raises:
        ValueError: a date no duration cell shows (a timestamp in a duration column, "Login time"
            holding when the moderator logged in): read as a length it would be decades.
    """
    if _BEFORE_LEAP_DAY[0] <= value < _BEFORE_LEAP_DAY[1]:
        return _BEFORE_LEAP_DAY[0]
    if _BEFORE_LEAP_DAY[1] <= value < _LAST_1900_DURATION:
        return EPOCH_1900
    if _EPOCH_1904[0] <= value < _EPOCH_1904[1]:
        return _EPOCH_1904[0]
    raise ValueError(f"expected a duration, got the date {value:%Y-%m-%d %H:%M}")


def _number_as(number: float, unit: str | None, numbers: str) -> float:
    if unit in _FACTORS:
        return round(number * _FACTORS[unit], 3)
    if unit in ("clock", "h:mm") or (unit is None and numbers == "day"):
        return round(number * 86400, 3)  # an Excel duration cell read as its day fraction
    return number
