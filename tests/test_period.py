from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from opskit.period import Period, PeriodError

BERLIN = ZoneInfo("Europe/Berlin")
# Wednesday 2026-11-18 08:00 in Berlin
WEDNESDAY = datetime(2026, 11, 18, 8, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("yesterday", date(2026, 11, 17), date(2026, 11, 17), "2026-11-17"),
        ("today", date(2026, 11, 18), date(2026, 11, 18), "2026-11-18"),
        ("last_week", date(2026, 11, 9), date(2026, 11, 15), "2026-W46"),
        ("this_week", date(2026, 11, 16), date(2026, 11, 22), "2026-W47"),
        ("last_month", date(2026, 10, 1), date(2026, 10, 31), "2026-10"),
        ("this_month", date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
        ("Last-Week", date(2026, 11, 9), date(2026, 11, 15), "2026-W46"),
        ("2026-11-16", date(2026, 11, 16), date(2026, 11, 16), "2026-11-16"),
        ("2026-11-01..2026-11-15", date(2026, 11, 1), date(2026, 11, 15), "2026-11-01..2026-11-15"),
        ("2026-W46", date(2026, 11, 9), date(2026, 11, 15), "2026-W46"),
        ("2026-w01", date(2025, 12, 29), date(2026, 1, 4), "2026-W01"),
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024-02"),
        ("last_7_days", date(2026, 11, 11), date(2026, 11, 17), "2026-11-11..2026-11-17"),
        ("last_2_weeks", date(2026, 11, 2), date(2026, 11, 15), "2026-11-02..2026-11-15"),
        ("last_1_weeks", date(2026, 11, 9), date(2026, 11, 15), "2026-W46"),
    ],
)
def test_period_forms(text, start, end, label):
    period = Period.parse(text, tz=BERLIN, scheduled_for=WEDNESDAY)
    assert (period.start, period.end, period.label) == (start, end, label)
    # The label parses back to the same period: history rows store labels.
    assert Period.parse(period.label, tz=BERLIN, scheduled_for=WEDNESDAY) == period


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("last_fortnight", "'last_fortnight' is not a period (use yesterday, today, last_week"),
        ("2026-02-30", "'2026-02-30' is not a valid date"),
        ("2026-W54", "'2026-W54' is not a valid ISO week"),
        ("2026-13", "'2026-13' is not a valid month"),
        ("2026-11-15..2026-11-01", "'2026-11-15..2026-11-01' ends before it starts"),
        ("16/11/2026", "'16/11/2026' is not a period"),
        ("last_0_days", "'last_0_days' is an empty period"),
    ],
)
def test_bad_period_names_the_value(text, message):
    with pytest.raises(PeriodError, match=re.escape(message)):
        Period.parse(text, tz=BERLIN, scheduled_for=WEDNESDAY)


def test_relative_periods_resolve_in_the_jobs_timezone_not_utc():
    # 23:30 UTC on Sunday 15 Nov is already Monday 16 Nov 00:30 in Berlin: "yesterday" is Sunday there.
    scheduled = datetime(2026, 11, 15, 23, 30, tzinfo=UTC)
    assert Period.parse("yesterday", tz=BERLIN, scheduled_for=scheduled).start == date(2026, 11, 15)
    assert Period.parse("yesterday", tz=UTC, scheduled_for=scheduled).start == date(2026, 11, 14)
    assert Period.parse("last_week", tz=BERLIN, scheduled_for=scheduled).label == "2026-W46"
    assert Period.parse("last_week", tz=UTC, scheduled_for=scheduled).label == "2026-W45"


def test_last_month_in_january_is_december_of_the_previous_year():
    jan = datetime(2027, 1, 5, tzinfo=BERLIN)
    assert Period.parse("last_month", tz=BERLIN, scheduled_for=jan).label == "2026-12"


def test_previous_period_for_week_over_week_and_month_over_month():
    week = Period.parse("2026-W46", tz=BERLIN, scheduled_for=WEDNESDAY)
    assert week.previous().label == "2026-W45"
    march = Period.parse("2026-03", tz=BERLIN, scheduled_for=WEDNESDAY)
    assert march.previous().label == "2026-02"
    assert Period(date(2026, 11, 1), date(2026, 11, 3)).previous() == Period(date(2026, 10, 29), date(2026, 10, 31))


def test_bounds_are_local_midnights_across_a_dst_change():
    # Berlin leaves summer time on 2026-10-25: that Sunday has 25 hours.
    start, end = Period.parse("2026-10-25", tz=BERLIN, scheduled_for=WEDNESDAY).bounds(BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 25 * 3600
    assert start.utcoffset().total_seconds() == 7200 and end.utcoffset().total_seconds() == 3600


def test_contains():
    week = Period.parse("2026-W46", tz=BERLIN, scheduled_for=WEDNESDAY)
    assert date(2026, 11, 9) in week and date(2026, 11, 15) in week
    assert date(2026, 11, 16) not in week
