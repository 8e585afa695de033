"""One duration parser for every duration column: seconds, h:mm:ss and mm:ss text, Excel duration cells,
and decimal hours or minutes when the header names the unit (issue #12, section 1)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from openpyxl import Workbook

from opskit.excel import read_table
from opskit.excel.durations import header_unit, parse_seconds


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Productive hrs", ("Productive", "h")),
        ("productive hours", ("productive", "h")),
        ("Handling (sec)", ("Handling", "s")),
        ("AHT (s)", ("AHT", "s")),
        ("handle_time_sec", ("handle_time", "s")),
        ("Idle (min)", ("Idle", "min")),
        ("Idle minutes", ("Idle", "min")),
        ("Total Handle Time (h:mm:ss)", ("Total Handle Time", "clock")),
        ("Logged in [hh:mm]", ("Logged in", "h:mm")),
        ("Queue (EU)", ("Queue (EU)", None)),  # a bracket that is no unit stays in the name
        ("Handled", ("Handled", None)),
        ("Minutes", ("Minutes", None)),
    ],
)
def test_a_header_declares_its_unit(header, expected):
    assert header_unit(header) == expected


@pytest.mark.parametrize(
    ("value", "unit", "seconds"),
    [
        (95, None, 95.0),
        ("1,234", None, 1234.0),
        ("1:02:03", None, 3723.0),
        ("4:30", None, 270.0),  # mm:ss
        ("7:30", "h:mm", 27000.0),
        ("7:30", "h", 27000.0),  # two-part text under an hours header ("Productive hrs") is h:mm
        ("4:30", "min", 270.0),  # and under a minutes header still mm:ss
        (7.5, "h", 27000.0),
        ("7.5", "h", 27000.0),
        (12.5, "min", 750.0),
        (0.25, "clock", 21600.0),  # a fraction of a day in an [h]:mm:ss cell
        (timedelta(hours=26, minutes=3), None, 93780.0),
        (time(0, 4, 30), None, 270.0),
        ("1h 30m", None, 5400.0),
        ("", None, None),
        (None, "h", None),
    ],
)
def test_every_form_reads_as_seconds(value, unit, seconds):
    assert parse_seconds(value, unit) == seconds


@pytest.mark.parametrize("value", ["n/a", "soon", "1:75", True])
def test_anything_else_is_a_named_error(value):
    with pytest.raises(ValueError, match="expected a duration"):
        parse_seconds(value)


def test_a_workbook_with_every_form_reads_the_same_seconds(tmp_path):
    """The same 2 h in five columns, as five vendors would send it; a text that is no duration is a
    rejection naming its row and column."""
    wb = Workbook()
    ws = wb.active
    ws.append(["id", "Handle (h:mm:ss)", "Productive hrs", "Idle (min)", "Logged", "Handle secs"])
    ws.append(["a", "2:00:00", 2, 120, timedelta(hours=2), 7200])
    ws.append(["b", "0:90:00", 2, 120, timedelta(hours=2), 7200])
    ws.append(["c", "2:00:00", "two", 120, 0.5, 7200])
    ws["E4"].number_format = "[h]:mm:ss"
    path = tmp_path / "forms.xlsx"
    wb.save(path)
    types = {"handle": "seconds", "productive": "seconds", "idle": "seconds", "logged": "seconds", "secs": "seconds"}
    aliases = {"handle": ["Handle"], "productive": ["Productive"], "idle": ["Idle"], "logged": ["Logged"]}
    aliases["secs"] = ["Handle secs"]
    table = read_table(path, aliases=aliases, types=types)
    assert table.rows == [{"id": "a", "handle": 7200, "productive": 7200, "idle": 7200, "logged": 7200, "secs": 7200}]
    assert {(r.row, r.column) for r in table.rejected} == {(3, "handle"), (4, "productive")}
    assert "expected a duration" in table.rejected[0].reason
    assert table.units == {"handle": "clock", "productive": "h", "idle": "min", "secs": "s"}


def test_shift_productive_time_reads_through_the_same_parser(tmp_path):
    from datetime import date

    from opskit.errors import DataError
    from opskit.reports import read_shifts

    path = tmp_path / "shifts.csv"
    path.write_text("moderator_id,date,productive_seconds\nm1,2026-11-10,7:30:00\nm1,2026-11-11,3600\nm2,2026-11-10,\n")
    assert read_shifts(path, date(2026, 11, 9), date(2026, 11, 15)) == {"m1": 30600.0, "m2": 0.0}
    path.write_text("moderator_id,date,productive_seconds\nm1,2026-11-10,3600\nm1,2026-11-11,all day\n")
    with pytest.raises(DataError, match=r"shifts.csv, row 3: productive_seconds: expected a duration"):
        read_shifts(path, date(2026, 11, 9), date(2026, 11, 15))


@pytest.mark.parametrize("system", ["1900", "1904"])
def test_h_mm_cells_of_a_day_and_more_read_as_their_length_in_either_date_system(tmp_path, system):
    """Excel shows an ``h:mm`` (not ``[h]:mm``) cell of 1 day or more as a date, which readers hand over as
    one: counted from day 0 of the workbook's system, past the fictitious 29 Feb 1900 of the 1900 one."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    days = [0.25, 1.5, 2.75, 59.5, 61.25, 100.5]
    wb = Workbook()
    if system == "1904":
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.append(["id", "Logged in"])
    for n, value in enumerate(days, start=2):
        ws.append([n, value])
        ws.cell(row=n, column=2).number_format = "h:mm"
    path = tmp_path / f"logged_{system}.xlsx"
    wb.save(path)
    table = read_table(path, types={"logged_in": "duration"}, aliases={"logged_in": ["Logged in"]})
    assert [r["logged_in"] for r in table.rows] == [d * 86400 for d in days]
