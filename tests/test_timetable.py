"""Timetables: cron and phrases through one engine, DST, calendars, and exact error text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opskit.engine.calendars import Calendar
from opskit.engine.timetable import FORMS, DstNote, Slot, Timetable, dst_note, parse_schedule
from opskit.errors import ConfigError
from tests.shared import corpus, corpus_or_none

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
CORPUS = corpus_or_none("cron", "cron_cases.json")  # None when missing: test_corpus_vector_counts fails then


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)


def walls(times: list[datetime]) -> list[str]:
    """'HH:MM+offset' in the timetable's zone: what a wall clock shows, and which copy."""
    return [t.strftime("%m-%d %H:%M%z") for t in times]


# -- conformance: the cronsim/croniter vectors of shared/corpus/cron -------------------------

ORACLE = ("cronsim", "croniter")  # Debian-cron DST semantics; robfig and cron-parser differ
ROWS = [r for r in json.loads(CORPUS.read_text()) if r["semantics"].startswith(ORACLE)] if CORPUS else []
FIVE = [r for r in ROWS if r["fields"] == 5]
SIX = [r for r in ROWS if r["fields"] != 5]


def row_id(row: dict) -> str:
    return f"{row['expr']}|{row['tz']}|{row['start']}"


def as_utc(text: str) -> datetime:
    # tz null rows are naive wall-clock times: read them, start and results alike, as UTC.
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


@pytest.mark.parametrize("row", FIVE, ids=row_id)
def test_corpus_vector_fires_like_cronsim(row):
    timetable = parse_schedule(row["expr"], row["tz"] or "UTC")
    at, got = as_utc(row["start"]), []
    for _ in row["expected_next"]:
        at = timetable.next_fire(at)
        got.append(at.astimezone(UTC))
    assert got == [as_utc(t) for t in row["expected_next"]]


@pytest.mark.parametrize("row", SIX, ids=row_id)
def test_corpus_seconds_vector_is_rejected(row):
    message = f"'{row['expr']}': 6 fields; seconds (and years) are not supported"
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_schedule(row["expr"], row["tz"] or "UTC")


def test_corpus_vector_counts():
    # Every oracle row is either run (5 fields, L/LW/#nth included) or asserted as rejected.
    corpus("cron", "cron_cases.json")  # a missing corpus fails here, loudly, instead of running nothing
    dst_rows = [r for r in FIVE if "dst" in r["features"]]
    print(f"cron corpus: {len(FIVE)} vectors run ({len(dst_rows)} DST), {len(SIX)} rejected")
    assert (len(FIVE), len(dst_rows), len(SIX)) == (51, 42, 4)


# -- DST, by hand ---------------------------------------------------------------------------


def test_berlin_gap_fixed_time_fires_once_at_0300():
    # 2026-03-29 in Berlin: at 02:00 CET the clock jumps to 03:00 CEST; 02:30 never exists.
    # The 02:30 job runs once, at the first valid instant after the gap: 03:00 CEST.
    timetable = parse_schedule("30 2 * * *", BERLIN)
    got = list(timetable.fires_between(utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)))
    assert walls(got) == ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]


def test_berlin_overlap_fixed_time_fires_once():
    # 2026-10-25 in Berlin: at 03:00 CEST the clock goes back to 02:00 CET, so 02:00-02:59
    # happens twice. A fixed 02:30 job runs once, in the first copy (02:30 CEST).
    timetable = parse_schedule("30 2 * * *", BERLIN)
    got = list(timetable.fires_between(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)))
    assert walls(got) == ["10-25 02:30+0200", "10-26 02:30+0100"]


def test_berlin_overlap_after_in_second_copy_waits_for_tomorrow():
    # 02:15 CET is in the second copy of the repeated hour; 02:45 CEST (the first copy) is
    # already past, and a fixed-time job does not run again in the second copy.
    timetable = parse_schedule("45 2 * * *", BERLIN)
    after = local(BERLIN, 2026, 10, 25, 2, 15, fold=1)
    assert walls([timetable.next_fire(after)]) == ["10-26 02:45+0100"]


def test_berlin_overlap_every_30_minutes_fires_in_both_copies():
    # 2026-10-25: 02:00 and 02:30 come twice (CEST, then CET); they are four real instants,
    # half an hour apart, and a wildcard-hour job fires at each of them.
    timetable = parse_schedule("*/30 * * * *", BERLIN)
    got = list(timetable.fires_between(utc(2026, 10, 24, 23, 45), utc(2026, 10, 25, 2)))
    assert walls(got) == [
        "10-25 02:00+0200",
        "10-25 02:30+0200",
        "10-25 02:00+0100",
        "10-25 02:30+0100",
        "10-25 03:00+0100",
    ]
    instants = [t.astimezone(UTC) for t in got]  # same-zone datetimes subtract by wall time
    assert {b - a for a, b in zip(instants, instants[1:], strict=False)} == {timedelta(minutes=30)}


def test_berlin_gap_every_30_minutes_has_no_slot_in_the_missing_hour():
    # 2026-03-29: 01:30 CET is followed, 30 real minutes later, by 03:00 CEST.
    timetable = parse_schedule("*/30 * * * *", BERLIN)
    got = list(timetable.fires_between(utc(2026, 3, 29, 0), utc(2026, 3, 29, 1, 30)))
    assert walls(got) == ["03-29 01:30+0100", "03-29 03:00+0200", "03-29 03:30+0200"]


def test_new_york_gap_fixed_time_fires_at_0300():
    # 2026-03-08 in New York: at 02:00 EST the clock jumps to 03:00 EDT.
    timetable = parse_schedule("30 2 * * *", NEW_YORK)
    got = list(timetable.fires_between(utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)))
    assert walls(got) == ["03-08 03:00-0400", "03-09 02:30-0400"]


def test_new_york_overlap_fixed_time_fires_once():
    # 2026-11-01 in New York: at 02:00 EDT the clock goes back to 01:00 EST; 01:30 happens twice.
    timetable = parse_schedule("30 1 * * *", NEW_YORK)
    got = list(timetable.fires_between(utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)))
    assert walls(got) == ["11-01 01:30-0400", "11-02 01:30-0500"]


def test_new_york_overlap_every_30_minutes_fires_in_both_copies():
    # 01:00 and 01:30 come twice on 2026-11-01 (EDT, then EST).
    timetable = parse_schedule("*/30 * * * *", NEW_YORK)
    got = list(timetable.fires_between(utc(2026, 11, 1, 4, 45), utc(2026, 11, 1, 7)))
    assert walls(got) == [
        "11-01 01:00-0400",
        "11-01 01:30-0400",
        "11-01 01:00-0500",
        "11-01 01:30-0500",
        "11-01 02:00-0500",
    ]


@pytest.mark.parametrize(
    ("phrase", "cron", "tz", "start", "end"),
    [
        ("every day at 02:30", "30 2 * * *", BERLIN, utc(2026, 3, 27), utc(2026, 3, 31)),
        ("every day at 02:30", "30 2 * * *", BERLIN, utc(2026, 10, 23), utc(2026, 10, 27)),
        ("every 30 minutes", "*/30 * * * *", BERLIN, utc(2026, 10, 24, 22), utc(2026, 10, 25, 3)),
        ("every 30 minutes", "*/30 * * * *", BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3)),
        ("every hour", "0 * * * *", NEW_YORK, utc(2026, 11, 1, 3), utc(2026, 11, 1, 9)),
        ("every 2 hours", "0 */2 * * *", NEW_YORK, utc(2026, 3, 8, 3), utc(2026, 3, 8, 12)),
        ("every day at 01:30", "30 1 * * *", NEW_YORK, utc(2026, 10, 30), utc(2026, 11, 3)),
        ("every sunday at 02:30", "30 2 * * SUN", NEW_YORK, utc(2026, 3, 1), utc(2026, 3, 16)),
    ],
)
def test_phrase_fires_like_its_cron_across_dst(phrase, cron, tz, start, end):
    from_phrase = list(parse_schedule(phrase, tz).fires_between(start, end))
    from_cron = list(parse_schedule(cron, tz).fires_between(start, end))
    assert from_phrase and walls(from_phrase) == walls(from_cron)  # offsets tell the copies apart


def test_upcoming_flags_gap_and_overlap_slots():
    gap = parse_schedule("every day at 02:30", BERLIN).upcoming(utc(2026, 3, 28, 12), 2)
    assert [s.dst for s in gap] == [DstNote.GAP, None]
    overlap = parse_schedule("30 2 * * *", BERLIN).upcoming(utc(2026, 10, 24, 12), 2)
    assert [s.dst for s in overlap] == [DstNote.OVERLAP, None]
    # 03:00 CEST on the gap day is the job's own time, not a moved one.
    assert parse_schedule("0 3 * * *", BERLIN).upcoming(utc(2026, 3, 28, 12), 1)[0].dst is None


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (datetime(2026, 3, 29, 2, 30), DstNote.GAP),  # never shown by a Berlin clock
        (datetime(2026, 3, 29, 3, 0), None),
        (datetime(2026, 10, 25, 2, 30), DstNote.OVERLAP),  # shown twice
        (datetime(2026, 10, 25, 3, 0), None),
        (local(BERLIN, 2026, 3, 29, 2, 30), DstNote.GAP),  # aware in the zone: its wall time
        (utc(2026, 10, 25, 1, 30), DstNote.OVERLAP),  # 02:30 CET, the second copy
        (utc(2026, 7, 1, 12), None),
    ],
)
def test_dst_note_classifies_wall_times(wall, expected):
    assert dst_note(BERLIN, wall) == expected


# -- the timetable API ------------------------------------------------------------------------


def test_next_fire_is_strictly_after_and_in_the_job_zone():
    timetable = parse_schedule("30 8 * * MON-FRI", BERLIN)
    at = timetable.next_fire(local(BERLIN, 2026, 11, 20, 8, 30))  # Friday 08:30 exactly
    assert at == local(BERLIN, 2026, 11, 23, 8, 30) and at.tzinfo is BERLIN
    # any zone in, the job's zone out; a fraction of a second before still counts
    assert timetable.next_fire(utc(2026, 11, 23, 7, 29, 59, 999999)) == at
    assert timetable.next_fire(datetime(2026, 11, 23, 2, 29, tzinfo=NEW_YORK)) == at


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        parse_schedule("@daily", BERLIN).next_fire(datetime(2026, 1, 1))


def test_fires_between_is_start_exclusive_end_inclusive():
    timetable = parse_schedule("every 15 minutes", "UTC")
    got = list(timetable.fires_between(utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)))
    assert [t.strftime("%H:%M") for t in got] == ["09:15", "09:30", "09:45", "10:00"]


def test_timetable_is_a_frozen_record_keeping_the_text():
    timetable = parse_schedule("  Every Weekday at 7:00 ", BERLIN)
    assert isinstance(timetable, Timetable)
    assert timetable.text == "  Every Weekday at 7:00 "
    with pytest.raises(AttributeError):
        timetable.text = "x"  # type: ignore[misc]
    assert timetable == parse_schedule("  Every Weekday at 7:00 ", BERLIN)


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every minute", "* * * * *"),
        ("every 15 minutes", "*/15 * * * *"),
        ("every 120 minutes", "0 */2 * * *"),
        ("every hour", "0 * * * *"),
        ("every hour at :45", "45 * * * *"),
        ("every 2 hours", "0 */2 * * *"),
        ("every 6 hours at :30", "30 */6 * * *"),
        ("every day at 08:30", "30 8 * * *"),
        ("every day at 8:05", "5 8 * * *"),
        ("every weekday at 07:00", "0 7 * * MON-FRI"),
        ("every monday at 09:00", "0 9 * * MON"),
        ("every fri at 17:00", "0 17 * * FRI"),
        ("EVERY  SUNDAY AT 23:59", "59 23 * * SUN"),
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_phrases_and_macros_become_cron(text, cron):
    assert parse_schedule(text, BERLIN).rule.expr == cron


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("30 8 * * MON-FRI", "at 08:30 on Monday through Friday (Europe/Berlin)"),
        ("every weekday at 07:00", "at 07:00 on Monday through Friday (Europe/Berlin)"),
        ("every 15 minutes", "every 15 minutes (Europe/Berlin)"),
        ("0 9 * * 1#2", "at 09:00 on the second Monday of the month (Europe/Berlin)"),
        ("1 1 LW 5 *", "at 01:01 on the last weekday of May (Europe/Berlin)"),
        (
            "business day 3 of the month at 09:00",
            "at 09:00 on business day 3 of the month (Europe/Berlin)",
        ),
        (
            "last business day of the month at 17:00",
            "at 17:00 on the last business day of the month (Europe/Berlin)",
        ),
    ],
)
def test_describe(text, described):
    assert parse_schedule(text, BERLIN).describe() == described


def test_describe_names_the_calendar():
    de = Calendar("DE")
    skipping = parse_schedule("0 9 * * *", BERLIN, calendar=de, skip_holidays=True)
    assert skipping.describe() == "at 09:00 every day, skipping DE holidays (Europe/Berlin)"
    business = parse_schedule("2nd business day of the month at 09:00", BERLIN, calendar=de)
    assert business.describe() == ("at 09:00 on business day 2 of the month, excluding DE holidays (Europe/Berlin)")


# -- calendars in timetables -----------------------------------------------------------------


def test_holiday_slots_are_listed_as_skipped_and_never_fired():
    timetable = parse_schedule("0 9 * * *", BERLIN, calendar=Calendar("DE"), skip_holidays=True)
    slots = timetable.upcoming(utc(2026, 12, 24, 12), 3)
    assert slots == [
        Slot(local(BERLIN, 2026, 12, 25, 9), skipped="Christmas Day (DE holiday)"),
        Slot(local(BERLIN, 2026, 12, 26, 9), skipped="Second Day of Christmas (DE holiday)"),
        Slot(local(BERLIN, 2026, 12, 27, 9)),
    ]
    assert timetable.next_fire(utc(2026, 12, 24, 12)) == local(BERLIN, 2026, 12, 27, 9)


def test_every_minute_jumps_over_a_holiday():
    # Walking 1,440 skipped minutes per holiday would be slow; the timetable jumps a day.
    timetable = parse_schedule("every minute", BERLIN, calendar=Calendar("DE"), skip_holidays=True)
    assert timetable.next_fire(utc(2026, 12, 24, 23, 30)) == local(BERLIN, 2026, 12, 27, 0, 0)


def test_a_business_day_that_never_comes_is_a_config_error():
    sundays_only = Calendar(weekend=(0, 1, 2, 3, 4, 5))  # at most five business days a month
    message = "'business day 6 of the month at 09:00': never fires after 2026-01-01"
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_schedule("business day 6 of the month at 09:00", BERLIN, calendar=sundays_only)


def test_a_timetable_that_only_hits_holidays_is_a_config_error():
    message = "'0 9 25 12 *': every slot falls on a DE holiday"
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_schedule("0 9 25 12 *", BERLIN, calendar=Calendar("DE"), skip_holidays=True)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        # Germany, November 2026: 2nd is Monday (business day 1), so day 3 is Wednesday the 4th.
        ("business day 3 of the month at 09:00", utc(2026, 11, 1), (2026, 11, 4, 9, 0)),
        ("3rd business day of the month at 09:00", utc(2026, 11, 4, 8), (2026, 12, 3, 9, 0)),
        ("first business day of the month at 06:00", utc(2026, 12, 2), (2027, 1, 4, 6, 0)),
        # 2026-12-31 is a Thursday and not a public holiday in DE.
        ("last business day of the month at 17:00", utc(2026, 12, 1), (2026, 12, 31, 17, 0)),
        # May 2026 ends Friday 29th... Whit Monday is the 25th, 31st is a Sunday.
        ("last business day of the month at 17:00", utc(2026, 5, 1), (2026, 5, 29, 17, 0)),
        ("business day -2 of the month at 12:00", utc(2026, 12, 1), (2026, 12, 30, 12, 0)),
    ],
)
def test_business_day_phrases(text, after, expected):
    timetable = parse_schedule(text, BERLIN, calendar=Calendar("DE"))
    assert timetable.next_fire(after) == local(BERLIN, *expected)


def test_business_day_counts_holidays_out():
    # January 2027 in DE: Friday 1st is New Year's Day, so business day 1 is Monday the 4th.
    timetable = parse_schedule("business day 1 of the month at 09:00", BERLIN, calendar=Calendar("DE"))
    assert timetable.next_fire(utc(2026, 12, 15)) == local(BERLIN, 2027, 1, 4, 9)
    weekends_only = parse_schedule("business day 1 of the month at 09:00", BERLIN)
    assert weekends_only.next_fire(utc(2026, 12, 15)) == local(BERLIN, 2027, 1, 1, 9)


def test_business_day_in_a_dst_gap_fires_after_the_gap():
    # A calendar where Sunday 2026-03-29 is the last business day of March: 02:30 does not
    # exist in Berlin that night, so the slot fires at 03:00 CEST and is flagged.
    calendar = Calendar(weekend=(), extra_holidays=(date(2026, 3, 30), date(2026, 3, 31)))
    timetable = parse_schedule("last business day of the month at 02:30", BERLIN, calendar=calendar)
    [slot] = timetable.upcoming(utc(2026, 3, 1), 1)
    assert slot == Slot(local(BERLIN, 2026, 3, 29, 3, 0), dst=DstNote.GAP)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("61 * * * *", "'61 * * * *': minute 61 is out of range 0-59. "),
        ("0 24 * * *", "'0 24 * * *': hour 24 is out of range 0-23. "),
        ("0 0 0 * *", "'0 0 0 * *': day-of-month 0 is out of range 1-31. "),
        ("0 0 * 13 *", "'0 0 * 13 *': month 13 is out of range 1-12. "),
        ("0 0 * * 8", "'0 0 * * 8': day-of-week 8 is out of range 0-7. "),
        (
            "0 0 * * MOX",
            "'0 0 * * MOX': 'MOX' is not a valid day-of-week. Did you mean 'MON'? Use 0-7 or SUN-SAT",
        ),
        (
            "0 0 * JANUARY *",
            "'0 0 * JANUARY *': 'JANUARY' is not a valid month. Did you mean 'JAN'? Use 1-12 or JAN-DEC",
        ),
        (
            "0 22-2 * * *",
            "'0 22-2 * * *': hour range 22-2 is reversed. Cron ranges do not wrap "
            "around: write two parts, e.g. '22-23,0-2'",
        ),
        ("*/0 * * * *", "'*/0 * * * *': minute step '/0' is not a whole number from 1"),
        ("1,,2 * * * *", "'1,,2 * * * *': minute has an empty list item. Remove the extra ','"),
        ("0 0 ? * MON", "'0 0 ? * MON': '?' is not supported. Use '*' for any value"),
        ("0 0 15W * *", "'0 0 15W * *': nearest-weekday '15W' is not supported"),
        ("0 0 * * MON#6", "'0 0 * * MON#6': '#6' in day-of-week must be #1 to #5"),
        ("0 0 * * FRIL", "'0 0 * * FRIL': 'FRIL' in day-of-week is not a last-weekday form"),
        ("0 0 30 2 *", "'0 0 30 2 *': never fires: no month in its list has that day"),
        (
            "0 0 * *",
            "'0 0 * *': a cron expression has 5 fields, not 4. Cron fields are minute "
            "hour day-of-month month day-of-week. Use a 5-field",
        ),
        (
            "0 0 8 * * *",
            "'0 0 8 * * *': 6 fields; seconds (and years) are not supported. "
            "Use 5 fields: minute hour day-of-month month day-of-week, e.g. '30 8 * * *'",
        ),
        ("@hourley", "'@hourley' is not a schedule macro. Did you mean '@hourly'? Use @hourly, "),
        ("@reboot", "'@reboot' is not a schedule macro. Use @hourly"),
        (
            "every 7 minutes",
            "'every 7 minutes': 7 minutes does not divide the hour. Use 1, 2, 3, "
            "4, 5, 6, 10, 12, 15, 20 or 30 minutes, whole hours that divide the "
            "day, or cron '*/7 * * * *' (minutes 0, 7, 14, ... of every hour)",
        ),
        (
            "every 90 minutes",
            "'every 90 minutes': 90 minutes does not divide the hour. Use 1, 2, 3, 4, 5, 6, 10, "
            "12, 15, 20 or 30 minutes, whole hours that divide the day",
        ),
        ("every 24 hours", "'every 24 hours': a daily job needs its time of day. 'every day at"),
        ("0 0 -1 * *", "'0 0 -1 * *': day-of-month '-1' is not a number, range, list or step"),
        ("0 0 1-2-3 * *", "'0 0 1-2-3 * *': day-of-month '1-2-3' is not a number, range, list"),
        ("business day x of the month", "'business day x of the month' is not a schedule. Use a"),
        (
            "every 5 hours",
            "'every 5 hours': 5 hours does not divide the day. Use 1, 2, 3, 4, 6, 8 or 12 hours",
        ),
        (
            "every 2 days at 08:00",
            "'every 2 days at 08:00': every 2 days cannot be kept in step with the calendar",
        ),
        ("every 0 minutes", "'every 0 minutes': the interval must be at least 1"),
        ("every day", "'every day': say at what time. 'every day at 08:30'"),
        ("every week", "'every week': say which day of the week. 'every monday at 09:00'"),
        ("every day at 25:00", "'every day at 25:00': hour 25 is out of range 0-23. Use HH:MM"),
        ("every day at 08:61", "'every day at 08:61': minute 61 is out of range 0-59"),
        ("every day at 8am", "'every day at 8am': '8am' is not a time. Use 24-hour HH:MM"),
        ("every day at 08:30:15", "'every day at 08:30:15': seconds are not supported"),
        ("every hour at 30", "'every hour at 30': '30' is not a minute of the hour. Use :MM"),
        ("every 2 minute", "'every 2 minute': Use minutes instead of minute. Use a 5-field"),
        (
            "every 2 mondays at 09:00",
            "'every 2 mondays at 09:00': Scheduling .monday() jobs is only allowed for weekly jobs",
        ),
        (
            "every mondey at 09:00",
            "'every mondey at 09:00': 'mondey' is not a unit. Did you mean 'monday'?",
        ),
        (
            "evry day at 08:00",
            "'evry day at 08:00' is not a schedule. Did you mean 'every'? Use a ",
        ),
        (
            "business day 0 of the month at 09:00",
            "'business day 0 of the month at 09:00': business day 0 is out of range 1-23",
        ),
        (
            "business day 24 of the month at 09:00",
            "'business day 24 of the month at 09:00': business day 24 is out of range 1-23",
        ),
        (
            "lst business day of the month at 09:00",
            "'lst business day of the month at 09:00': 'lst' is not an ordinal. Did you mean 'last'?",
        ),
        ("last business day of the month", "'last business day of the month': say at what time"),
        ("", "the schedule is empty. Use a 5-field cron expression"),
    ],
)
def test_invalid_schedules_name_the_bad_part(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        parse_schedule(text, BERLIN)
    assert caught.value.where is None  # the caller adds file:line and the job


def test_unknown_phrase_lists_every_accepted_form():
    with pytest.raises(ConfigError) as caught:
        parse_schedule("twice a day", BERLIN)
    assert str(caught.value) == f"'twice a day' is not a schedule. {FORMS}"


def test_skip_holidays_without_a_calendar_is_refused():
    with pytest.raises(ConfigError, match=re.escape("'@daily': skip_holidays needs a calendar")):
        parse_schedule("@daily", BERLIN, skip_holidays=True)


def test_unknown_zone_suggests_a_close_name():
    with pytest.raises(ConfigError, match=re.escape("'Europe/Berln' is not a time zone. Did you")):
        parse_schedule("@daily", "Europe/Berln")


# -- import weight ----------------------------------------------------------------------------


def test_import_stays_light():
    # runner.py list imports this module and must start in < 0.3 s: cronsim, schedule and
    # holidays (95 ms alone) load only when a schedule is parsed.
    code = (
        "import sys, opskit.engine.timetable; "
        "lazy = ('cronsim', 'schedule', 'holidays', 'croniter'); "
        "print(sorted(m for m in lazy if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
