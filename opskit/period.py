"""Periods as analysts write them: ``yesterday``, ``last_week``, ``2026-W46``, ``2026-11-01..2026-11-15``.

A relative period resolves in the job's timezone against the run's *scheduled* time, not the wall clock, so
a re-run of last Monday's job reports last Monday's "yesterday".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

ACCEPTED_FORMS = (
    "yesterday, today, last_week, this_week, last_month, this_month, last_7_days, last_4_weeks, "
    "2026-11-16, 2026-11-01..2026-11-15, 2026-W46, 2026-11"
)

# re.ASCII: only 0-9 are digits here; int() would quietly read Arabic-Indic or fullwidth ones.
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.ASCII)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_LAST_N = re.compile(r"^last_(\d{1,3})_(days|weeks)$", re.ASCII)
# The years a period may touch: Excel has no dates before 1900, and a range with room on both sides keeps
# ``previous()`` and ``bounds()`` (the day after the end) clear of Python's date limits.
FIRST_YEAR, LAST_YEAR = 1900, 2999


class PeriodError(ValueError):
    """A text that is not a period; the message names the text and the accepted forms."""


@dataclass(frozen=True, slots=True)
class Period:
    """A range of whole calendar days, ``start`` to ``end`` inclusive.

    Tasks declare a parameter as ``period: Period = "yesterday"``; opskit resolves the text before the task
    starts, so the task always receives a ``Period``.
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        for day in (self.start, self.end):
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                raise PeriodError(f"{day.isoformat()} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
        if self.end < self.start:
            raise PeriodError(f"'{self.start}..{self.end}' ends before it starts")

    @classmethod
    def parse(cls, text: str, *, tz: tzinfo, scheduled_for: datetime) -> Period:
        """Resolve ``text`` in ``tz`` relative to ``scheduled_for``.

        Raises:
            PeriodError: the text is not one of the accepted forms, or names an impossible date.
        """
        raw = text.strip()
        word = raw.lower().replace("-", "_").replace(" ", "_")
        today = scheduled_for.astimezone(tz).date()
        if not FIRST_YEAR <= today.year <= LAST_YEAR:
            raise PeriodError(f"the run's date {today.isoformat()} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
        monday = today - timedelta(days=today.weekday())
        relative = {
            "today": lambda: cls(today, today),
            "yesterday": lambda: cls(today - timedelta(days=1), today - timedelta(days=1)),
            "this_week": lambda: cls(monday, monday + timedelta(days=6)),
            "last_week": lambda: cls(monday - timedelta(days=7), monday - timedelta(days=1)),
            "this_month": lambda: cls.month(today.year, today.month),
            "last_month": lambda: cls.month(
                *((today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12))
            ),
        }
        if word in relative:
            return relative[word]()
        if m := _LAST_N.match(word):
            # The N whole days before today, or the N whole ISO weeks before this week.
            n = int(m.group(1))
            if n == 0:
                raise PeriodError(f"'{raw}' is an empty period")
            if m.group(2) == "days":
                return cls(today - timedelta(days=n), today - timedelta(days=1))
            return cls(monday - timedelta(days=7 * n), monday - timedelta(days=1))
        if ".." in raw:
            left, _, right = raw.partition("..")
            start, end = _parse_day(left.strip(), raw), _parse_day(right.strip(), raw)
            if end < start:
                raise PeriodError(f"'{raw}' ends before it starts")
            return cls(start, end)
        if m := _WEEK.match(raw.upper()):
            year, week = int(m.group(1)), int(m.group(2))
            try:
                start = date.fromisocalendar(year, week, 1)
            except ValueError:
                raise PeriodError(f"'{raw}' is not a valid ISO week (week {week} of {year})") from None
            return cls(start, start + timedelta(days=6))
        if m := _MONTH.match(raw):
            year, month = int(m.group(1)), int(m.group(2))
            if not 1 <= month <= 12:
                raise PeriodError(f"'{raw}' is not a valid month")
            return cls.month(year, month)
        if _DAY.match(raw):
            day = _parse_day(raw, raw)
            return cls(day, day)
        raise PeriodError(f"'{raw}' is not a period (use {ACCEPTED_FORMS})")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls(start, following - timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        """The shortest name a person would use: 2026-11-16, 2026-W46, 2026-11, or a range."""
        if self.start == self.end:
            return self.start.isoformat()
        iso = self.start.isocalendar()
        if self.days == 7 and iso.weekday == 1:
            return f"{iso.year}-W{iso.week:02d}"
        if self == Period.month(self.start.year, self.start.month):
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def human_label(self) -> str:
        """The period as people say it, for titles: "Mon 16 Nov 2026", "Week 2026-W46 (9-15 Nov)",
        "November 2026", "1-15 Nov 2026". Report emails and documents head their pages with it."""
        return human_period(self)

    def previous(self) -> Period:
        """The period of the same length just before this one (a month before a whole month)."""
        if self.label == f"{self.start.year}-{self.start.month:02d}" and self.days > 1:
            prev_end = self.start - timedelta(days=1)
            return Period.month(prev_end.year, prev_end.month)
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnight of the first day to local midnight after the last."""
        return (
            datetime.combine(self.start, time(), tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time(), tzinfo=tz),
        )

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def __str__(self) -> str:
        return self.label

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic validate a ``Period`` field from text, using the run's tz and time as context."""
        from pydantic_core import core_schema

        return core_schema.with_info_plain_validator_function(
            _validate_period,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


def date_ticks(first: date, last: date) -> tuple[str, int]:
    """The tick unit and step for a date axis from ``first`` to ``last``: a tick a day up to ten days
    (("day", 1): a week), every other day up to four weeks (a fortnight's labels would touch), a tick a
    week up to 16 weeks (a quarter), every other week up to half a year, then months. The email's chart
    and the workbook's chart both follow it, so they tick alike.
    """
    span = (last - first).days
    if span <= 9:
        return "day", 1
    if span <= 28:
        return "day", 2
    if span <= 16 * 7:
        return "week", 1
    if span <= 26 * 7:
        return "week", 2
    return "month", 1 if span <= 2 * 365 else 3


def human_period(period: Period) -> str:
    """``period.human_label``: a day, an ISO week with its dates, a whole month, or a span of days."""
    s, e = period.start, period.end
    if s == e:
        return f"{s:%a} {s.day} {s:%b %Y}"
    if period.label == f"{s.year}-{s.month:02d}":
        return f"{s:%B %Y}"
    if s.year != e.year:
        span, year = f"{s.day} {s:%b %Y}-{e.day} {e:%b %Y}", ""
    elif s.month != e.month:
        span, year = f"{s.day} {s:%b}-{e.day} {e:%b}", f" {e.year}"
    else:
        span, year = f"{s.day}-{e.day} {e:%b}", f" {e.year}"
    if "-W" in period.label:
        return f"Week {period.label} ({span})"
    return span + year


def _validate_period(value: Any, info: Any) -> Period:
    if isinstance(value, Period):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return Period(value, value)
    if not isinstance(value, str):
        raise PeriodError(f"{value!r} is not a period (use {ACCEPTED_FORMS})")
    context = info.context or {}
    tz = context.get("tz")
    scheduled_for = context.get("scheduled_for")
    if tz is None or scheduled_for is None:
        raise PeriodError("a period needs the run's timezone and scheduled time to resolve")
    return Period.parse(value, tz=tz, scheduled_for=scheduled_for)


def _parse_day(text: str, whole: str) -> date:
    if not _DAY.match(text):
        raise PeriodError(f"'{whole}' is not a period (use {ACCEPTED_FORMS})")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"'{text}' is not a valid date") from None
