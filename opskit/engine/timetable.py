"""Timetables: when a job fires, as pure functions of a given instant (never the real clock).

A schedule in config.yaml is either a cron expression or a phrase, and both become one
``Timetable`` whose fire times come from ONE engine: cronsim, the cron evaluator of
healthchecks.io. Phrases are translated to cron (``every weekday at 07:00`` is
``0 7 * * MON-FRI``); business-day phrases pick a date from a ``Calendar`` and then ask the same
engine for the time on that date, so every form shares the same DST rules.

Accepted forms (case-insensitive for phrases and names):

- cron, 5 fields ``minute hour day-of-month month day-of-week`` with lists, ranges, steps,
  names (JAN-DEC, SUN-SAT), ``L`` / ``LW`` (last day / last weekday of the month), ``5L`` (last
  Friday) and ``1#2`` (second Monday); macros ``@hourly @daily @midnight @weekly @monthly
  @yearly @annually``. Seconds (6-field) forms, ``?`` and ``15W`` are rejected.
- ``every minute``, ``every N minutes`` (N divides 60, or is whole hours dividing the day),
  ``every hour [at :MM]``, ``every N hours [at :MM]`` (N divides 24, up to 12), ``every day at
  HH:MM``, ``every weekday at HH:MM``, ``every monday at HH:MM`` (any day name or its 3-letter
  form). Times are 24-hour ``HH:MM`` (``8:30`` is read as 08:30). The schedule library checks
  the ``every(n).unit.at()`` grammar it shares with these phrases; it never runs them.
- ``business day N of the month at HH:MM`` (N from 1 to 23, or -1 to -23 counting from the
  end), ``3rd business day of the month at HH:MM``, ``last business day of the month at HH:MM``.
  Business days skip the calendar's weekend and holidays; a month with fewer than N has no slot.

Intervals are anchored to the clock like cron (``every 15 minutes`` fires at :00, :15, :30 and
:45), not to the start of the process as in the schedule library, so they survive restarts. An
interval that does not divide the hour or day (``every 7 minutes``, ``every 5 hours``, ``every 2
days``) is a ConfigError: anchored to the clock it would leave one short gap per hour or day,
and anchored to the process start it would move on every restart. The error shows the cron
form for those who want cron's uneven ``*/7``.

DST follows Debian cron, as cronsim does:

- A fixed local time skipped by spring-forward (02:30 on 2026-03-29 in Berlin) fires once, at
  the first valid instant after the gap (03:00). Its ``Slot.dst`` is ``DstNote.GAP``.
- A fixed-hour job fires once in an hour repeated by fall-back, in the first copy.
- Jobs with a wildcard or stepped minute or hour field (``0 * * * *``, ``*/15 * * * *``,
  ``every 2 hours``) fire in both copies of a repeated hour, which are distinct instants, and
  have no slot in a skipped hour (02:30 does not happen; 03:00 comes 30 minutes after 01:30).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from opskit.engine.calendars import Calendar
from opskit.errors import ConfigError, did_you_mean

__all__ = [
    "BusinessDayRule",
    "CronRule",
    "DstNote",
    "Slot",
    "Timetable",
    "dst_note",
    "parse_schedule",
]


FORMS = (
    "Use a 5-field cron expression ('30 8 * * MON-FRI'), @hourly, @daily, @weekly, @monthly, "
    "@yearly, or a phrase: 'every 15 minutes', 'every 2 hours', 'every day at 08:30', "
    "'every monday at 09:00', 'every weekday at 07:00', "
    "'business day 3 of the month at 09:00', 'last business day of the month at 17:00'"
)
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_DAY_WORDS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
# (name, lowest, highest, names and the number of the first name)
_FIELDS = (
    ("minute", 0, 59, (), 0),
    ("hour", 0, 23, (), 0),
    ("day-of-month", 1, 31, (), 0),
    ("month", 1, 12, _MONTHS, 1),
    ("day-of-week", 0, 7, _DAYS, 0),
)
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "last": -1,
}
# cron accepts any step; a longer one than this is refused (no field has more than 60 values).
MAX_STEP = 100
# Longer is no schedule, and every error quotes the text.
MAX_SCHEDULE_CHARS = 200
# Slots skipped for holidays are searched this many years ahead before giving up.
_SKIP_HORIZON_YEARS = 5
# A fixed instant to check, when the config loads, that a calendar leaves some slot to fire.
_PROBE_FROM = datetime(2026, 1, 1, tzinfo=UTC)


class DstNote(StrEnum):
    """How a daylight-saving change touches one slot."""

    GAP = "gap"
    """The nominal local time did not exist (spring-forward); the slot fired at the first valid
    instant after the gap, so later than its nominal time."""

    OVERLAP = "overlap"
    """The slot's local time occurs twice (fall-back); the UTC offset tells which copy."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One planned fire time, as ``runner.py next`` lists it.

    ``skipped`` is the reason a calendar drops the slot (``"Christmas Day (DE holiday)"``) or
    None when it fires; ``dst`` flags slots touched by a DST change.
    """

    at: datetime
    skipped: str | None = None
    dst: DstNote | None = None


def dst_note(tz: tzinfo, dt: datetime) -> DstNote | None:
    """Whether a wall-clock time in ``tz`` falls in a DST gap or overlap.

    A naive ``dt``, or one whose tzinfo is ``tz`` itself, is read as a wall-clock reading (which
    may not exist); any other aware ``dt`` is converted to ``tz`` first, so it can only be in an
    overlap.
    """
    wall = dt.astimezone(tz).replace(tzinfo=None) if dt.tzinfo is not None else dt
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    # zoneinfo gives both sides of a transition different offsets, gap or overlap alike; only a
    # time that exists survives a round trip through UTC.
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return DstNote.GAP
    return DstNote.OVERLAP


def _cron_next(expr: str, tz: tzinfo, after: datetime) -> datetime | None:
    """The engine: the first fire time of a 5-field cron expression strictly after ``after``.

    None when there is none in the 50 years cronsim searches.

    cronsim walks fixed-time expressions in naive wall-clock time and maps the result back with
    fold=0, which can land on the first copy of a repeated hour when ``after`` is in the second
    copy. Such a slot already fired (once, as Debian cron does), so step past it.
    """
    from cronsim import CronSim

    # Compare in UTC: Python compares two datetimes that share a tzinfo by wall time alone,
    # so 03:00 CEST and 03:00 CET of a repeated hour would look equal.
    floor = after.astimezone(UTC)
    it = CronSim(expr, after.astimezone(tz))
    try:
        while True:
            at = next(it)
            if at.astimezone(UTC) > floor:
                return at
    except StopIteration:
        return None


@dataclass(frozen=True, slots=True)
class CronRule:
    """Fire times of a 5-field cron expression (phrases are translated to one)."""

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    wall_clock: bool
    """Fixed minute and hour: Debian cron's wall-clock DST handling applies (once per day)."""
    label: str | None = None
    """How a phrase describes itself where cronsim's wording is clumsy ("every 15 minutes")."""

    def next_after(self, after: datetime, tz: tzinfo) -> datetime | None:
        return _cron_next(self.expr, tz, after)

    def dst_of(self, at: datetime, tz: tzinfo) -> DstNote | None:
        if self.wall_clock and (at.hour not in self.hours or at.minute not in self.minutes):
            return DstNote.GAP  # moved out of a spring-forward gap
        return dst_note(tz, at)

    def describe(self) -> str:
        if self.label:
            return self.label
        from cronsim import CronSim

        text = CronSim(self.expr, datetime(2000, 1, 1)).explain()
        return text[:1].lower() + text[1:]


@dataclass(frozen=True, slots=True)
class BusinessDayRule:
    """The Nth (or, counting from -1, the Nth-last) business day of each month, at a local time.

    A month with fewer than N business days has no slot.
    """

    n: int
    hour: int
    minute: int
    calendar: Calendar

    def next_after(self, after: datetime, tz: tzinfo) -> datetime | None:
        local = after.astimezone(tz)
        year, month = local.year, local.month
        for _ in range(12 * _SKIP_HORIZON_YEARS):
            day = self.calendar.nth_business_day(year, month, self.n)
            if day is not None:
                # The same engine as cron, pinned to that date, so DST is handled alike.
                expr = f"{self.minute} {self.hour} {day.day} {day.month} *"
                at = _cron_next(expr, tz, _start_of(day, tz) - timedelta(seconds=1))
                if at is not None and at.astimezone(UTC) > after.astimezone(UTC):
                    return at
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return None

    def dst_of(self, at: datetime, tz: tzinfo) -> DstNote | None:
        if (at.hour, at.minute) != (self.hour, self.minute):
            return DstNote.GAP
        return dst_note(tz, at)

    def _which(self) -> str:
        if self.n == -1:
            return "a last business day"
        return f"business day {self.n}" if self.n > 0 else f"business day {-self.n} from the end"

    def describe(self) -> str:
        which = self._which().replace("a last", "the last")
        return f"at {self.hour:02d}:{self.minute:02d} on {which} of the month"


@dataclass(frozen=True, slots=True)
class Timetable:
    """When one job fires: a rule, the job's time zone, and optionally a holiday calendar.

    Build one with ``parse_schedule``. Every method takes the instant to count from; nothing
    reads the clock. Fire times are aware datetimes in ``tz``.
    """

    text: str
    tz: tzinfo
    rule: CronRule | BusinessDayRule
    calendar: Calendar | None = None
    skip_holidays: bool = False

    def next_fire(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after`` (aware, any zone), skipping holidays.

        Raises:
            ValueError: ``after`` is naive.
            ConfigError: The timetable never fires again (``parse_schedule`` checks this once,
                so it means every slot in the next five years is a skipped holiday).
        """
        _require_aware(after, "after")
        at = self._next_or_fail(after)
        if not self.skip_holidays or self.calendar is None:
            return at
        horizon = after.year + _SKIP_HORIZON_YEARS
        while self.calendar.skip_reason(at.date()) is not None:
            if at.year > horizon:
                raise ConfigError(
                    f"'{self.text}': every slot falls on a {self.calendar.label} holiday",
                    hint="Drop skip_holidays or pick days that are not holidays",
                )
            # Jump past the rest of the holiday instead of walking every slot of it (an
            # every-minute job would take 1,440 steps a day); max() guards a repeated hour.
            tomorrow = _start_of(at.date() + timedelta(days=1), self.tz)
            at = self._next_or_fail(max(tomorrow - timedelta(microseconds=1), at.astimezone(UTC)))
        return at

    def _next_or_fail(self, after: datetime) -> datetime:
        at = self.rule.next_after(after, self.tz)
        if at is None:
            raise ConfigError(
                f"'{self.text}': never fires after {after.astimezone(self.tz):%Y-%m-%d}",
                hint=FORMS,
            )
        return at

    def fires_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every fire time in (start, end], in order, holidays skipped."""
        _require_aware(end, "end")
        at, last = self.next_fire(start), end.astimezone(UTC)
        while at.astimezone(UTC) <= last:
            yield at
            at = self.next_fire(at)

    def upcoming(self, after: datetime, count: int) -> list[Slot]:
        """The next ``count`` slots after ``after``, including those a calendar skips, with why.

        This is what ``runner.py next`` shows: skipped slots carry their reason, and slots moved
        or doubled by DST carry a ``DstNote``.
        """
        _require_aware(after, "after")
        slots: list[Slot] = []
        at = after
        while len(slots) < count:
            at = self._next_or_fail(at)
            skipped = None
            if self.skip_holidays and self.calendar is not None:
                skipped = self.calendar.skip_reason(at.date())
            slots.append(Slot(at=at, skipped=skipped, dst=self.rule.dst_of(at, self.tz)))
        return slots

    def describe(self) -> str:
        """Human text, e.g. ``"at 08:30 on Monday through Friday (Europe/Berlin)"``."""
        text = self.rule.describe()
        if isinstance(self.rule, BusinessDayRule) and self.rule.calendar.market:
            text += f", excluding {self.rule.calendar.label} holidays"
        elif self.skip_holidays and self.calendar is not None:
            text += f", skipping {self.calendar.label} holidays"
        return f"{text} ({_zone_name(self.tz)})"


def parse_schedule(
    text: str,
    tz: tzinfo | str,
    *,
    calendar: Calendar | None = None,
    skip_holidays: bool = False,
) -> Timetable:
    """Parse a cron expression or schedule phrase into a ``Timetable`` in the job's zone.

    Args:
        text: ``"30 8 * * MON-FRI"``, ``"@daily"``, ``"every 15 minutes"``,
            ``"last business day of the month at 17:00"``, ... (see the module docstring).
        tz: The job's zone, a ``ZoneInfo`` or an IANA name.
        calendar: Holidays and weekends for business-day phrases and ``skip_holidays``;
            business-day phrases without one count weekends only.
        skip_holidays: Drop slots whose local date is a holiday in ``calendar``.

    Returns:
        The timetable; ``text`` keeps the original spelling.

    Raises:
        ConfigError: The schedule, zone or option is invalid. The message quotes the schedule
            and names the bad part; the caller adds ``where`` and the job.

    Example:
        >>> tt = parse_schedule("every weekday at 07:00", ZoneInfo("Europe/Berlin"))
        >>> tt.next_fire(datetime(2026, 11, 20, 8, tzinfo=UTC)).isoformat()
        '2026-11-23T07:00:00+01:00'
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("the schedule is empty", hint=FORMS)
    if len(text) > MAX_SCHEDULE_CHARS:
        raise ConfigError(
            f"the schedule is {len(text):,} characters long", hint=f"At most {MAX_SCHEDULE_CHARS}. {FORMS}"
        )
    zone = _as_zone(tz)
    if skip_holidays and calendar is None:
        raise ConfigError(
            f"'{text}': skip_holidays needs a calendar",
            hint="Give the job a calendar (a market such as DE) or drop skip_holidays",
        )
    clean = " ".join(text.split())
    rule: CronRule | BusinessDayRule
    if clean.startswith("@"):
        rule = _parse_macro(text, clean)
    elif clean[0].isalpha() or {"every", "business"} & set(clean.lower().split()):
        rule = _parse_phrase(text, clean.lower(), calendar)
    else:
        rule = _parse_cron(text, clean)
    if isinstance(rule, BusinessDayRule):
        calendar = rule.calendar
    timetable = Timetable(text, zone, rule, calendar, skip_holidays)
    # Reject at load what would never fire: business day 5 in a calendar that works Sundays
    # only, or a Christmas-only job that skips holidays.
    timetable.next_fire(_PROBE_FROM)
    return timetable


# -- cron ---------------------------------------------------------------------------------


def _parse_macro(text: str, clean: str) -> CronRule:
    expr = _MACROS.get(clean.lower())
    if expr is None:
        close = did_you_mean(clean.lower(), _MACROS)
        raise ConfigError(
            f"'{text}' is not a schedule macro",
            hint=f"{close + ' ' if close else ''}Use {', '.join(_MACROS)}, or a cron expression",
        )
    return _parse_cron(text, expr)


def _parse_cron(text: str, expr: str, label: str | None = None) -> CronRule:
    from cronsim import CronSim, CronSimError

    parts = expr.split()
    if len(parts) in (6, 7):
        raise ConfigError(
            f"'{text}': {len(parts)} fields; seconds (and years) are not supported",
            hint="Use 5 fields: minute hour day-of-month month day-of-week, e.g. '30 8 * * *'",
        )
    if len(parts) != 5:
        raise ConfigError(
            f"'{text}': a cron expression has 5 fields, not {len(parts)}",
            hint="Cron fields are minute hour day-of-month month day-of-week. " + FORMS,
        )
    for (name, low, high, names, first), part in zip(_FIELDS, parts, strict=True):
        for item in part.upper().split(","):
            _check_item(text, name, low, high, names, first, item)
    try:
        sim = CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as exc:  # our checks passed, so this is a date that never comes
        problem = "no month in its list has that day" if "day" in str(exc) else str(exc)
        raise ConfigError(f"'{text}': never fires: {problem}", hint=FORMS) from None
    wall_clock = not parts[0].startswith("*") and not parts[1].startswith("*")
    return CronRule(expr, frozenset(sim.minutes), frozenset(sim.hours), wall_clock, label)


def _check_item(text: str, name: str, low: int, high: int, names: tuple[str, ...], first: int, item: str) -> None:
    """Check one comma-separated item of a cron field, with a message naming what is wrong."""
    if item == "":
        raise ConfigError(f"'{text}': {name} has an empty list item", hint="Remove the extra ','")
    if item == "?":
        raise ConfigError(f"'{text}': '?' is not supported", hint="Use '*' for any value")
    if name == "day-of-month":
        if item in ("L", "LW"):
            return
        if item.endswith("W"):
            raise ConfigError(
                f"'{text}': nearest-weekday '{item}' is not supported",
                hint="Use 'LW' (last weekday of the month) or a business-day phrase",
            )
    if name == "day-of-week":
        if "#" in item:
            day, _, nth = item.partition("#")
            _check_value(text, name, low, high, names, first, day)
            if nth not in ("1", "2", "3", "4", "5"):
                raise ConfigError(
                    f"'{text}': '#{nth}' in {name} must be #1 to #5",
                    hint="'MON#2' is the second Monday of the month",
                )
            return
        if item.endswith("L"):
            if not _is_number(item[:-1]):
                raise ConfigError(
                    f"'{text}': '{item}' in {name} is not a last-weekday form",
                    hint="Use a day number and L: '5L' is the last Friday of the month",
                )
            _check_value(text, name, low, high, names, first, item[:-1])
            return
    base, slash, step = item.partition("/")
    if slash and not (_is_number(step) and step.strip("0")):
        raise ConfigError(
            f"'{text}': {name} step '/{step}' is not a whole number from 1",
            hint="'*/15' in the minute field is every 15 minutes",
        )
    if slash and (len(step) > 3 or int(step) > MAX_STEP):
        # cron takes any step, and one past the field's end means "the first value only" (a vector of
        # cronsim's tests has */100 in day-of-month); a step of thousands is a typing accident.
        raise ConfigError(
            f"'{text}': {name} step '/{short_text(step)}' is larger than any cron field ({low}-{high} here)",
            hint=f"A step is at most {MAX_STEP}; '*/15' in the minute field is every 15 minutes",
        )
    if base == "*":
        return
    start, dash, end = base.partition("-")
    if not start or (dash and not end) or "-" in end:
        raise ConfigError(
            f"'{text}': {name} '{item}' is not a number, range, list or step",
            hint="Write a value (5), a range (1-5), a list (1,3,5) or a step (*/15, 0-30/10)",
        )
    low_value = _check_value(text, name, low, high, names, first, start)
    if dash:
        high_value = _check_value(text, name, low, high, names, first, end)
        if high_value < low_value:
            raise ConfigError(
                f"'{text}': {name} range {start}-{end} is reversed",
                hint="Cron ranges do not wrap around: write two parts, e.g. '22-23,0-2'",
            )


def _check_value(text: str, name: str, low: int, high: int, names: tuple[str, ...], first: int, token: str) -> int:
    if _is_number(token):
        if len(token) > 4:  # int() of a huge digit string is slow, and no field goes past 59
            raise ConfigError(f"'{text}': {name} {token[:12]}... is out of range {low}-{high}", hint=FORMS)
        value = int(token)
        if not low <= value <= high:
            raise ConfigError(f"'{text}': {name} {value} is out of range {low}-{high}", hint=FORMS)
        return value
    if token in names:
        return names.index(token) + first
    accepted = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
    close = did_you_mean(token, names) if names else None
    raise ConfigError(
        f"'{text}': '{token}' is not a valid {name}",
        hint=f"{close + ' ' if close else ''}Use {accepted}",
    )


# -- phrases ------------------------------------------------------------------------------

# re.ASCII: only 0-9 are digits in a schedule (int() would quietly read Arabic-Indic or fullwidth ones).
_EVERY = re.compile(r"every(?: (?P<n>\d{1,6}))? (?P<unit>[a-z]+)(?: at (?P<at>\S+))?", re.ASCII)
_BUSINESS = re.compile(
    r"(?:business day (?P<n>-?\d{1,6})|(?P<ord>[a-z0-9]+) business day)"
    r" of (?:the|each|every) month(?: at (?P<at>\S+))?",
    re.ASCII,
)
_UNITS = (
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "weekday",
    "weekdays",
    *_DAY_WORDS,
    *(d + "s" for d in _DAY_WORDS),
    *(d[:3] for d in _DAY_WORDS),
)


def _parse_phrase(text: str, clean: str, calendar: Calendar | None) -> CronRule | BusinessDayRule:
    if match := _EVERY.fullmatch(clean):
        return _parse_every(text, match)
    if match := _BUSINESS.fullmatch(clean):
        return _parse_business(text, match, calendar)
    word = clean.split()[0]
    keywords = ("every", "business", "last", "first")
    close = did_you_mean(word, keywords) if word not in keywords else None
    raise ConfigError(
        f"'{text}' is not a schedule",
        hint=f"{close + ' ' if close else ''}{FORMS}",
    )


def _parse_every(text: str, match: re.Match[str]) -> CronRule:
    n = int(match["n"]) if match["n"] else 1
    unit, at = match["unit"], match["at"]
    if unit not in _UNITS:
        close = did_you_mean(unit, _UNITS)
        raise ConfigError(
            f"'{text}': '{unit}' is not a unit",
            hint=f"{close + ' ' if close else ''}Use minutes, hours, day, weekday or a day name",
        )
    if n < 1:
        raise ConfigError(f"'{text}': the interval must be at least 1", hint=FORMS)
    if unit in ("week", "weeks"):
        raise ConfigError(f"'{text}': say which day of the week", hint="'every monday at 09:00'")
    day = next((d for d in _DAY_WORDS if unit in (d, d + "s", d[:3])), None)
    if unit in ("minute", "minutes"):
        if at:
            raise ConfigError(f"'{text}': seconds are not supported", hint="Drop the 'at'")
        _check_with_schedule(text, n, unit, None)
        if n % 60 == 0:
            n, unit, at = n // 60, "hours", None
        elif 60 % n:
            cron = f", or cron '*/{n} * * * *' (minutes 0, {n}, {2 * n}, ... of every hour)"
            raise ConfigError(
                f"'{text}': {n} minutes does not divide the hour",
                hint="Use 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes, whole hours that divide "
                f"the day{cron if n < 30 else ''}",
            )
        else:
            label = "every minute" if n == 1 else f"every {n} minutes"
            return _parse_cron(text, f"{'*' if n == 1 else f'*/{n}'} * * * *", label)
    if unit in ("hour", "hours"):
        minute = _parse_minute_at(text, at)
        _check_with_schedule(text, n, unit, f":{minute:02d}")
        if n == 24:
            raise ConfigError(f"'{text}': a daily job needs its time of day", hint="'every day at 00:00'")
        if 24 % n:
            raise ConfigError(
                f"'{text}': {n} hours does not divide the day",
                hint="Use 1, 2, 3, 4, 6, 8 or 12 hours, or a cron list of hours: '0 7,12,17 * * *'",
            )
        return _parse_cron(text, f"{minute} {'*' if n == 1 else f'*/{n}'} * * *")
    if at is None:
        raise ConfigError(f"'{text}': say at what time", hint=f"'{text} at 08:30'")
    hour, minute = _parse_time(text, at)
    hhmm = f"{hour:02d}:{minute:02d}"
    if unit in ("weekday", "weekdays"):
        _check_with_schedule(text, n, "day" if n == 1 else "days", hhmm)
        if n != 1:
            raise ConfigError(f"'{text}': weekdays cannot be counted in steps", hint=FORMS)
        return _parse_cron(text, f"{minute} {hour} * * MON-FRI")
    if day is not None:
        _check_with_schedule(text, n, day, hhmm)  # rejects 'every 2 mondays', as schedule does
        return _parse_cron(text, f"{minute} {hour} * * {day[:3].upper()}")
    _check_with_schedule(text, n, unit, hhmm)
    if n != 1:
        raise ConfigError(
            f"'{text}': every {n} days cannot be kept in step with the calendar",
            hint="Use 'every day at HH:MM', days of the week ('0 8 * * MON,WED,FRI') "
            "or days of the month ('0 8 1,15 * *')",
        )
    return _parse_cron(text, f"{minute} {hour} * * *")


def _parse_business(text: str, match: re.Match[str], calendar: Calendar | None) -> BusinessDayRule:
    if match["n"] is not None:
        n = int(match["n"])
    else:
        word = match["ord"]
        numeric = re.fullmatch(r"(\d{1,3})(?:st|nd|rd|th)", word, re.ASCII)
        n = int(numeric[1]) if numeric else _ORDINALS.get(word, 0)
        if n == 0:
            close = did_you_mean(word, _ORDINALS)
            raise ConfigError(
                f"'{text}': '{word}' is not an ordinal",
                hint=f"{close + ' ' if close else ''}Use first, 2nd, 3rd, ... or last",
            )
    if n == 0 or abs(n) > 23:
        raise ConfigError(
            f"'{text}': business day {n} is out of range 1-23",
            hint="Count from 1 (first) or use 'last business day of the month'",
        )
    if match["at"] is None:
        raise ConfigError(f"'{text}': say at what time", hint=f"'{text} at 09:00'")
    hour, minute = _parse_time(text, match["at"])
    _check_with_schedule(text, 1, "day", f"{hour:02d}:{minute:02d}")
    return BusinessDayRule(n, hour, minute, calendar if calendar is not None else Calendar())


def _parse_time(text: str, at: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(:\d{2})?", at, re.ASCII)
    if not match:
        raise ConfigError(f"'{text}': '{at}' is not a time", hint="Use 24-hour HH:MM, e.g. 08:30")
    if match[3]:
        raise ConfigError(f"'{text}': seconds are not supported", hint="Use HH:MM, e.g. 08:30")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23:
        raise ConfigError(f"'{text}': hour {hour} is out of range 0-23", hint="Use HH:MM")
    if minute > 59:
        raise ConfigError(f"'{text}': minute {minute} is out of range 0-59", hint="Use HH:MM")
    return hour, minute


def _parse_minute_at(text: str, at: str | None) -> int:
    if at is None:
        return 0
    match = re.fullmatch(r":(\d{2})", at, re.ASCII)
    if not match:
        raise ConfigError(f"'{text}': '{at}' is not a minute of the hour", hint="Use :MM, e.g. :30")
    if int(match[1]) > 59:
        raise ConfigError(f"'{text}': minute {int(match[1])} is out of range 0-59", hint="Use :MM")
    return int(match[1])


def _check_with_schedule(text: str, n: int, unit: str, at: str | None) -> None:
    """Let the schedule library judge the ``every(n).unit.at(...)`` grammar it knows.

    Our own checks run first for times and ranges, where schedule's messages are weaker
    (it prints "Invalid number of hours ({} is not between 0 and 23)" literally). It never
    schedules anything: only ``Job.do`` reads the clock, and it is not called.
    """
    import schedule

    try:
        job = getattr(schedule.Scheduler().every(n), unit)
        if at is not None:
            job.at(at)
    except schedule.ScheduleError as exc:
        raise ConfigError(f"'{text}': {str(exc).rstrip('.')}", hint=FORMS) from None


# -- helpers ------------------------------------------------------------------------------


def _start_of(day: date, tz: tzinfo) -> datetime:
    """The instant a local day starts (after the gap, if midnight does not exist), in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def short_text(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _is_number(token: str) -> bool:
    """ASCII digits only: ``'³'.isdigit()`` is true, and ``int('٣')`` is 3; neither belongs in a schedule."""
    return token.isascii() and token.isdigit()


def _require_aware(dt: datetime, name: str) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt.isoformat()}")


def _zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def _as_zone(tz: tzinfo | str) -> tzinfo:
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        from zoneinfo import available_timezones

        close = did_you_mean(tz, available_timezones())
        raise ConfigError(
            f"'{tz}' is not a time zone",
            hint=f"{close + ' ' if close else ''}Use an IANA name such as Europe/Berlin",
        ) from None
