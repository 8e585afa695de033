"""Calendars: business days per market from the holidays library, plus company exceptions."""

from __future__ import annotations

import re
from datetime import date

import pytest

from opskit.engine.calendars import Calendar
from opskit.errors import ConfigError


@pytest.mark.parametrize(
    ("market", "day", "name"),
    [
        ("DE", date(2026, 12, 25), "Christmas Day"),  # English, not 'Erster Weihnachtstag'
        ("US", date(2026, 7, 3), "Independence Day (observed)"),  # the 4th is a Saturday
        ("GB", date(2026, 1, 1), "New Year's Day"),
        ("BR", date(2026, 4, 21), "Tiradentes' Day"),
        ("ID", date(2026, 8, 17), "Independence Day"),
        ("CN", date(2026, 2, 17), "Chinese New Year (Spring Festival)"),
        ("TW", date(2026, 10, 10), "National Day"),
        ("HK", date(2026, 7, 1), "Hong Kong S.A.R. Establishment Day"),
        ("NYSE", date(2026, 11, 26), "Thanksgiving Day"),
        ("de", date(2026, 12, 26), "Second Day of Christmas"),  # codes are case-insensitive
    ],
)
def test_holiday_names_per_market(market, day, name):
    calendar = Calendar(market)
    assert calendar.holiday_name(day) == name
    assert not calendar.is_business_day(day)


def test_a_normal_weekday_is_a_business_day_with_no_holiday():
    calendar = Calendar("DE")
    assert calendar.holiday_name(date(2026, 11, 18)) is None
    assert calendar.is_business_day(date(2026, 11, 18))
    assert not calendar.is_business_day(date(2026, 11, 21))  # Saturday


def test_subdivision_adds_regional_holidays():
    # Epiphany is a holiday in Bavaria, not in Germany as a whole.
    assert Calendar("DE", "BY").holiday_name(date(2026, 1, 6)) == "Epiphany"
    assert Calendar("DE").holiday_name(date(2026, 1, 6)) is None
    assert Calendar("DE", "by").label == "DE-BY"


def test_skip_reason_names_holiday_and_calendar():
    assert Calendar("DE").skip_reason(date(2026, 12, 25)) == "Christmas Day (DE holiday)"
    assert Calendar("DE", "BY").skip_reason(date(2026, 1, 6)) == "Epiphany (DE-BY holiday)"
    assert Calendar("DE").skip_reason(date(2026, 12, 24)) is None


def test_market_weekends_come_from_the_library():
    assert Calendar("DE").weekend == (5, 6)
    assert Calendar("IL").weekend == (4, 5)  # Friday and Saturday
    assert Calendar("IL").is_business_day(date(2026, 11, 22))  # a Sunday
    assert Calendar(None).weekend == (5, 6)
    assert Calendar("HK", weekend=(6, 5)).weekend == (5, 6)  # an override wins


def test_make_up_working_weekends_count_as_business_days():
    # China works Saturday 2026-02-14 to make up for the Spring Festival break.
    calendar = Calendar("CN")
    assert calendar.is_business_day(date(2026, 2, 14))
    assert not calendar.is_business_day(date(2026, 2, 21))  # an ordinary Saturday


def test_extra_holidays_and_workdays():
    closure, worked_saturday = date(2026, 11, 20), date(2026, 11, 21)
    calendar = Calendar("DE", extra_holidays=[closure], extra_workdays=(worked_saturday,))
    assert calendar.extra_holidays == (closure,)  # a list is stored as a tuple
    assert calendar.holiday_name(closure) == "company holiday"
    assert calendar.skip_reason(closure) == "company holiday (extra_holidays)"
    assert not calendar.is_business_day(closure)
    assert calendar.is_business_day(worked_saturday)
    # an extra workday wins over a public holiday too
    christmas = date(2026, 12, 25)
    assert Calendar("DE", extra_workdays=(christmas,)).is_business_day(christmas)
    assert Calendar("DE", extra_workdays=(christmas,)).skip_reason(christmas) is None


@pytest.mark.parametrize(
    ("market", "year", "month", "n", "expected"),
    [
        ("DE", 2026, 11, 1, date(2026, 11, 2)),  # 1st is a Sunday
        ("DE", 2026, 11, 3, date(2026, 11, 4)),
        ("DE", 2026, 11, -1, date(2026, 11, 30)),
        ("DE", 2027, 1, 1, date(2027, 1, 4)),  # New Year's Day is Friday the 1st
        ("DE", 2026, 5, -1, date(2026, 5, 29)),  # 30th and 31st are a weekend
        ("DE", 2026, 12, -1, date(2026, 12, 31)),
        ("DE", 2026, 12, -3, date(2026, 12, 29)),  # 25th and 26th are holidays
        ("US", 2026, 7, 3, date(2026, 7, 6)),  # the 3rd is the observed Independence Day
        (None, 2027, 1, 1, date(2027, 1, 1)),  # weekends only
        ("DE", 2026, 2, 20, date(2026, 2, 27)),  # February 2026 has exactly 20
        ("DE", 2026, 2, 21, None),  # ... so no 21st: that month has no slot
    ],
)
def test_nth_business_day(market, year, month, n, expected):
    assert Calendar(market).nth_business_day(year, month, n) == expected


def test_nth_business_day_zero_is_a_programming_error():
    with pytest.raises(ValueError, match="n counts from 1"):
        Calendar("DE").nth_business_day(2026, 1, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"market": "XX"},
            "'XX' is not a holiday market. Use DE, US, GB, BR, ID, CN, TW, HK (ISO country codes) or NYSE",
        ),
        ({"market": "Germany"}, "'Germany' is not a holiday market. Did you mean 'DE'? Use DE,"),
        ({"market": "NYS"}, "'NYS' is not a holiday market. Did you mean 'XNYS'?"),
        (
            {"market": "DE", "subdiv": "BYE"},
            "'BYE' is not a subdivision of DE. Did you mean 'BY'? DE has: BB, BE, BW, BY, HB,",
        ),
        (
            {"market": "US", "subdiv": "CAL"},
            "'CAL' is not a subdivision of US. Did you mean 'CA'? US has: AK, AL, AR, AS, AZ, CA, CO, CT, DC, ",
        ),
        ({"subdiv": "BY"}, "subdivision 'BY' needs a market. Set market, e.g. DE with BY"),
        (
            {"weekend": (7,)},
            "weekend [7] is not a set of weekdays. Use numbers 0-6 with Monday = 0",
        ),
    ],
)
def test_bad_calendars_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Calendar(**kwargs)


def test_calendar_is_a_hashable_frozen_record():
    calendar = Calendar("DE", "BY")
    assert calendar == Calendar("de", "by")
    assert hash(calendar) == hash(Calendar("DE", "BY"))
    with pytest.raises(AttributeError):
        calendar.market = "US"  # type: ignore[misc]
    assert calendar.describe() == "DE-BY holidays, weekend Saturday and Sunday"
    assert Calendar().describe() == "no public holidays, weekend Saturday and Sunday"
