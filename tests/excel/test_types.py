"""Cell value conversion, one table per column type."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from opskit.excel.types import EPOCH_1904, Context, column_dayfirst, converter, excel_error

CTX = Context()


@pytest.mark.parametrize(
    ("type_name", "raw", "expected"),
    [
        ("int", "1,204", 1204),
        ("int", 12.0, 12),
        ("int", " 7 ", 7),
        ("int", "(1,000)", -1000),
        ("float", "1,234.5", 1234.5),
        ("float", "12%", 0.12),
        ("float", "1\u00a0234", 1234.0),
        ("percent", "85%", 0.85),
        ("percent", "85 %", 0.85),
        ("percent", 0.85, 0.85),
        ("bool", "Y", True),
        ("bool", "no", False),
        ("bool", 1.0, True),
        ("bool", "TRUE", True),
        ("bool", "0", False),
        ("str", 12345.0, "12345"),
        ("str", "  x ", "x"),
        ("str", "", None),
        ("duration", "1:02:03", 3723.0),
        ("duration", "4:30", 270.0),  # two-part text is mm:ss (durations.py); "(h:mm)" in the header says otherwise
        ("duration", 0.5, 43200.0),
        ("duration", timedelta(minutes=3), 180.0),
        ("duration", time(0, 4, 30), 270.0),
        ("duration", "2h 30m", 9000.0),
        ("seconds", 95, 95.0),
        ("seconds", "0:01:35", 95.0),
        ("seconds", "95s", 95.0),
        ("date", 46342.0, date(2026, 11, 16)),
        ("date", "2026-11-16", date(2026, 11, 16)),
        ("date", "16-Nov-2026", date(2026, 11, 16)),
        ("date", "Nov 16, 2026", date(2026, 11, 16)),
        ("date", "2026/11/16", date(2026, 11, 16)),
        ("date", "16/11/2026", date(2026, 11, 16)),
        ("datetime", 46342.75, datetime(2026, 11, 16, 18, 0)),
        ("datetime", "2026-11-16 08:05:09", datetime(2026, 11, 16, 8, 5, 9)),
        ("datetime", "11/16/2026 8:05 PM", datetime(2026, 11, 16, 20, 5)),
        ("datetime", date(2026, 11, 16), datetime(2026, 11, 16)),
    ],
)
def test_values_convert(type_name, raw, expected):
    assert converter(type_name)(raw, CTX) == expected


@pytest.mark.parametrize(
    ("type_name", "raw", "reason"),
    [
        ("int", "3.5", "expected a whole number, got '3.5'"),
        ("int", "12a", "expected a number, got '12a'"),
        ("float", "1,23,4", "expected a number, got '1,23,4'"),
        ("bool", "maybe", "expected yes/no (Y/N, Yes/No, 1/0, TRUE/FALSE), got 'maybe'"),
        (
            "date",
            "03/04/2026",
            "ambiguous date '03/04/2026': day and month could be swapped; "
            "set dayfirst=True (31/12/2026) or dayfirst=False (12/31/2026)",
        ),
        ("date", "31/02/2026", "not a valid date: '31/02/2026'"),
        ("date", "soon", "not a date: 'soon'"),
        ("duration", "ages", "expected a duration (seconds, h:mm:ss, mm:ss or 1h 30m), got 'ages'"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(type_name, raw, reason):
    with pytest.raises(ValueError) as info:
        converter(type_name)(raw, CTX)
    assert str(info.value) == reason


def test_1904_serials_and_the_1900_leap_bug():
    assert converter("date")(0.0, Context(epoch=EPOCH_1904)) == date(1904, 1, 1)
    assert converter("date")(61.0, CTX) == date(1900, 3, 1)
    assert converter("date")(59.0, CTX) == date(1900, 2, 28)  # before the fictitious 29 Feb


def test_same_day_and_month_is_not_ambiguous():
    assert converter("date")("04/04/2026", CTX) == date(2026, 4, 4)


def test_excel_errors_are_recognised():
    assert excel_error(" #N/A") == "#N/A" and excel_error("#DIV/0!") == "#DIV/0!"
    assert excel_error("#1 priority") is None and excel_error(5) is None


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown column type 'money' \\(use str, int, float"):
        converter("money")


@pytest.mark.parametrize(
    ("values", "dayfirst", "expected"),
    [
        (["11/12/2026", "11/13/2026"], True, False),  # 11/13 is only valid month-first: the column is
        (["11/12/2026", "13/11/2026"], True, True),  # nothing says month-first: the setting stands
        (["11/12/2026", "2026-11-13", 45000.0, None], None, None),  # ISO text and serials say nothing
        (["11/13/2026 08:00"], None, False),
    ],
)
def test_a_date_columns_day_order_is_decided_from_all_its_values(values, dayfirst, expected):
    assert column_dayfirst(values, dayfirst) is expected
