"""Workbooks that are odd but real — or broken in ways real producers break them — read right or refused
in one line: a stray cell far out, a dimension tag that understates, damaged cells, totals-like labels
that are data, a row of units under the header, NaN cells, timestamps in a duration column."""

from __future__ import annotations

import math
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from opskit.errors import DataError
from opskit.excel import WorkbookError, read_table
from opskit.reports.vendor import VENDOR_ALIASES, Inbox
from tests.tasks.test_vendor_files import workbook as vendor_workbook  # sheet 'Daily', header, rows

HEADER = ["Date", "Agent ID", "Queue", "Handled", "Handle time (sec)"]
TYPES = {"handle_seconds": "seconds", "handled": "int"}


def workbook(path: Path, rows: list[list[object]], *, header: list[object] = HEADER) -> Path:
    return vendor_workbook(path, header, rows)


def day_rows(n: int) -> list[list[object]]:
    return [[datetime(2026, 11, 3), f"M{i}", "Q1", 10 + i, 600 + i] for i in range(n)]


def edit_sheet(path: Path, change) -> Path:
    """Rewrite the first sheet's XML with ``change(xml) -> xml``, as a producer with its own ideas writes it."""
    out = path.with_name("edited_" + path.name)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data.decode()).encode()
            dst.writestr(item, data)
    return out


def test_a_stray_cell_far_out_is_refused_in_one_line_not_a_crash(tmp_path):
    # 5,000 rows by 16,384 columns is 82 million cells: the fast reader would try to hold them all (and abort)
    path = workbook(tmp_path / "stray.xlsx", day_rows(10))
    wb_path = edit_sheet(
        path,
        lambda xml: xml.replace(
            "</sheetData>", '<row r="5000"><c r="XFD5000" t="inlineStr"><is><t>note</t></is></c></row></sheetData>'
        ),
    )
    with pytest.raises(WorkbookError) as caught:
        read_table(wb_path, aliases=VENDOR_ALIASES)
    assert caught.value.kind == "too_large"
    assert str(caught.value).startswith(
        "edited_stray.xlsx: has a used range of 5,000 rows by 16,384 columns in xl/worksheets/sheet1.xml "
        "(cells hold something as far as row 5,000 and column XFD), too large to read"
    )
    assert "Ctrl+End" in str(caught.value)


def test_empty_styled_cells_far_out_are_no_used_range(tmp_path):
    # Gnumeric writes the whole grid as empty styled cells: they take no room, the table is read
    path = workbook(tmp_path / "grid.xlsx", day_rows(3))
    grid = edit_sheet(
        path, lambda xml: xml.replace("</sheetData>", '<row r="9000"><c r="XFD9000" s="0"/></row></sheetData>')
    )
    assert len(read_table(grid, aliases=VENDOR_ALIASES, types=TYPES).rows) == 3


def test_a_large_workbook_s_understated_dimension_tag_does_not_cut_it_short(tmp_path, monkeypatch):
    # error cells send a workbook to openpyxl, which streams large ones and would trust <dimension>
    import opskit.excel.sheets as sheets

    monkeypatch.setattr(sheets, "OPENPYXL_FULL_MODE_BYTES", 0)  # read it as a large one
    rows = day_rows(40)
    rows[5][4] = "#N/A"
    path = workbook(tmp_path / "big.xlsx", rows)
    lying = edit_sheet(
        path,
        lambda xml: re.sub(r'<dimension ref="[^"]+"/>', '<dimension ref="A1:C3"/>', xml).replace(
            '<c r="E7" t="inlineStr"><is><t>#N/A</t></is></c>', '<c r="E7" t="e"><v>#N/A</v></c>'
        ),
    )
    table = read_table(lying, aliases=VENDOR_ALIASES, types=TYPES)
    assert len(table.rows) == 39 and table.rows[-1]["handle_seconds"] == 639  # every row, every column
    assert [(r.row, r.column, r.reason) for r in table.rejected] == [
        (7, "handle_seconds", "cell holds the Excel error #N/A")
    ]


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ('<c r="D3" t="b"><v>yes</v></c>', "Unrecognized boolean cell value: yes"),
        ('<c r="D3" t="s"><v>999</v></c>', "Cell string index not found in shared strings table"),
    ],
)
def test_a_damaged_cell_is_a_workbook_error_naming_file_and_sheet(tmp_path, cell, reason):
    path = workbook(tmp_path / "damaged.xlsx", day_rows(3))
    broken = edit_sheet(path, lambda xml: re.sub(r'<c r="D3"[^>]*>.*?</c>', cell, xml))
    with pytest.raises(WorkbookError) as caught:
        read_table(broken, aliases=VENDOR_ALIASES)
    assert str(caught.value).startswith(f"edited_damaged.xlsx: is damaged: sheet 'Daily' cannot be read ({reason})")
    assert caught.value.kind == "corrupt"


def test_names_that_start_with_sum_are_data_and_totals_labels_are_skipped(tmp_path):
    day = datetime(2026, 11, 3)
    rows = [
        [day, "Sum Wing Kei", "Q1", 10, 600],  # a moderator's name
        [day, "M3", "sum-de-spam", 12, 720],  # a queue's
        [day, "Subtotal - Q1", None, 22, 1320],
        [day, "M4", "Summer campaign", 1, 60],
        [day, "Total Lisbon", None, 23, 1380],
        ["Grand total (EMEA)", None, None, 23, 1380],
        [day, "Sum", None, 23, 1380],
    ]
    table = read_table(workbook(tmp_path / "labels.xlsx", rows), aliases=VENDOR_ALIASES, types=TYPES)
    assert [(r["moderator_id"], r["queue_id"]) for r in table.rows] == [
        ("Sum Wing Kei", "Q1"),
        ("M3", "sum-de-spam"),
        ("M4", "Summer campaign"),
    ]
    skipped = [n.split("skipped totals row ")[1] for n in table.notes if "skipped totals row" in n]
    assert skipped == ["'Subtotal - Q1'", "'Total Lisbon'", "'Grand total (EMEA)'", "'Sum'"]
    assert table.rejected == []


def test_a_row_of_units_under_the_header_is_part_of_it(tmp_path):
    header = ["Date", "Agent ID", "Queue", "Handled", "Handle time", "Productive time"]
    rows = [[None, None, None, "(cases)", "(min)", "hrs"], [datetime(2026, 11, 3), "M1", "Q1", 10, 50, 7.5]]
    table = read_table(
        workbook(tmp_path / "units.xlsx", rows, header=header),
        aliases=VENDOR_ALIASES,
        types={**TYPES, "productive_seconds": "seconds"},
    )
    assert table.rejected == []
    assert table.rows == [
        {
            "date": datetime(2026, 11, 3).date(),
            "moderator_id": "M1",
            "queue_id": "Q1",
            "handled": 10,
            "handle_seconds": 3000.0,
            "productive_seconds": 27000.0,
        }
    ]
    assert table.units == {"handle_seconds": "min", "productive_seconds": "h"}


def test_a_header_typed_with_a_line_break_before_its_unit_keeps_the_unit(tmp_path):
    header = ["Date", "Agent ID", "Queue", "Handled", "Total handle\ntime (min)"]
    table = read_table(
        workbook(tmp_path / "wrapped.xlsx", [[datetime(2026, 11, 3), "M1", "Q1", 10, 5]], header=header),
        aliases=VENDOR_ALIASES,
        types=TYPES,
    )
    assert table.rows[0]["handle_seconds"] == 300.0 and table.units == {"handle_seconds": "min"}


def test_nan_cells_and_timestamps_in_a_duration_column_are_rejected_rows(tmp_path):
    header = ["Date", "Agent ID", "Queue", "Handled", "Handle time (sec)", "Login time"]
    day = datetime(2026, 11, 3)
    rows = [
        [day, "M1", "Q1", 10, 600, 0.25],
        [day, "M2", "Q1", 11, 660, datetime(2026, 11, 3, 8, 2)],  # when M2 logged in, not for how long
        [day, "M3", "Q1", 12, 720, 0.5],
    ]
    path = workbook(tmp_path / "odd.xlsx", rows, header=header)
    path = edit_sheet(path, lambda xml: re.sub(r'(<c r="E4"[^>]*>)<v>[^<]*</v>', r"\1<v>NaN</v>", xml))
    table = read_table(path, aliases=VENDOR_ALIASES, types={**TYPES, "logged_seconds": "duration"})
    assert [r["moderator_id"] for r in table.rows] == ["M1"]
    assert {(r.row, r.column) for r in table.rejected} == {(3, "logged_seconds"), (4, "handle_seconds")}
    reasons = {r.column: r.reason for r in table.rejected}
    assert reasons["logged_seconds"] == "expected a duration, got the date 2026-11-03 08:02"
    assert math.isnan(float(reasons["handle_seconds"].rsplit(" ", 1)[1]))


def test_the_inbox_leaves_excel_s_owner_files_alone(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    workbook(inbox / "lumen_2026-11-03.xlsx", day_rows(2))
    (inbox / "~$lumen_2026-11-03.xlsx").write_bytes(b"\x05alice" + b"\x00" * 100)  # someone has it open
    (inbox / ".~lock.lumen_2026-11-03.xlsx#").write_text("alice,host,...")
    waiting = Inbox(inbox, tmp_path / "archive", tmp_path / "quarantine")
    assert [p.name for p in waiting] == ["lumen_2026-11-03.xlsx"]


CSV_HEADER = "Date,Agent ID,Queue,Handled,Handle time (sec)\r\n"


def test_a_large_csv_that_turns_windows_1252_after_its_first_mebibyte_keeps_its_accents(tmp_path):
    body = "".join(f"03/11/2026,M{i},Q1,10,600\r\n" for i in range(40_000))  # ~1 MiB of ASCII
    path = tmp_path / "lumen.csv"
    path.write_bytes((CSV_HEADER + body + "03/11/2026,José Müller,Q1,12,720\r\n").encode("cp1252"))
    assert path.stat().st_size > 1 << 20
    table = read_table(path, aliases=VENDOR_ALIASES, types=TYPES)
    assert table.rows[-1]["moderator_id"] == "José Müller" and len(table.rows) == 40_001
    assert "not UTF-8; read as Windows-1252" in table.notes


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_csv_without_a_byte_order_mark_is_read(tmp_path, encoding):
    path = tmp_path / "lumen.csv"
    path.write_bytes((CSV_HEADER + "03/11/2026,Jürgen,Q1,10,600\r\n").encode(encoding))
    table = read_table(path, aliases=VENDOR_ALIASES, types=TYPES)
    assert [(r["moderator_id"], r["handle_seconds"]) for r in table.rows] == [("Jürgen", 600.0)]


def test_a_semicolon_csv_under_a_title_line_with_a_comma_is_split_on_semicolons(tmp_path):
    path = tmp_path / "lumen.csv"
    path.write_text(
        "Generated: 04/11/2026, 08:00\n\nDate;Agent ID;Queue;Handled;Handle time (sec)\n"
        "03/11/2026;M1;Q1;10;600\n03/11/2026;Smith, John;Q1;12;720\n",
        encoding="utf-8",
    )
    table = read_table(path, aliases=VENDOR_ALIASES, types=TYPES)
    assert [r["moderator_id"] for r in table.rows] == ["M1", "Smith, John"] and table.header_row == 3


def test_a_date_merged_down_over_a_day_s_block_is_every_row_s_date(tmp_path):
    rows = [[datetime(2026, 11, 3), f"M{i}", "Q1", 10, 600] for i in range(3)]
    rows += [[datetime(2026, 11, 4), "M9", "Q1", 11, 660]]
    rows[1][0] = rows[2][0] = None
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    ws.merge_cells("A2:A4")  # 3 Nov over its three rows, as the vendor's template lays it out
    wb.save(tmp_path / "merged.xlsx")
    table = read_table(tmp_path / "merged.xlsx", aliases=VENDOR_ALIASES, types={**TYPES, "date": "date"})
    assert table.rejected == []
    assert [(r["date"].day, r["moderator_id"]) for r in table.rows] == [(3, "M0"), (3, "M1"), (3, "M2"), (4, "M9")]


def test_a_number_merged_down_is_said_once_and_blank_rows_and_notes_stay_as_they_are(tmp_path):
    header = ["Date", "Agent ID", "Queue", "Handled", "Handle time (sec)", "Productive hrs"]
    day = datetime(2026, 11, 3)
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    ws.append([day, "M1", "Q1", 10, 600, 7.5])
    ws.append([None, "M1", "Q2", 11, 660, None])
    ws.append([None, None, None, None, None, None])  # a blank row inside the date's block
    ws.append(["* Source: Lumen WFM export, 4 Nov 2026", None, None, None, None, None])
    ws.merge_cells("A2:A4")  # the date over its rows (and a blank one)
    ws.merge_cells("F2:F3")  # M1's productive hours, for the day: once, not per queue row
    ws.merge_cells("A5:F6")  # a note over two rows and every column
    wb.save(tmp_path / "blocks.xlsx")
    types = {**TYPES, "date": "date", "productive_seconds": "seconds", "moderator_id": "str"}
    table = read_table(tmp_path / "blocks.xlsx", aliases=VENDOR_ALIASES, types=types)
    assert [(r["date"].day, r["queue_id"], r["productive_seconds"]) for r in table.rows] == [
        (3, "Q1", 27000.0),
        (3, "Q2", None),
    ]
    assert table.rejected == []
    assert any("skipped note '* Source: Lumen WFM export" in n for n in table.notes)


def test_an_excel_error_in_a_column_nobody_asked_for_does_not_reject_the_row(tmp_path):
    header = [*HEADER, "Team lead"]
    rows = [
        [datetime(2026, 11, 3), "M1", "Q1", 10, 600, "#N/A"],
        [datetime(2026, 11, 3), "M2", "Q1", 11, "#N/A", "Ana"],
    ]
    table = read_table(workbook(tmp_path / "lookup.xlsx", rows, header=header), aliases=VENDOR_ALIASES, types=TYPES)
    assert [(r["moderator_id"], r["team_lead"]) for r in table.rows] == [("M1", "#N/A")]  # a VLOOKUP that found none
    assert [(r.row, r.column, r.reason) for r in table.rejected] == [
        (3, "handle_seconds", "cell holds the Excel error #N/A")  # a field the report needs still rejects
    ]


def test_a_row_tag_far_down_that_holds_no_cell_is_no_used_range(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append([*HEADER, *(f"Extra {i}" for i in range(45))])  # 50 columns
    for row in day_rows(20):
        ws.append(row)
    ws.row_dimensions[1_048_576].height = 20  # a height set on the last row: a tag, no cell
    wb.save(tmp_path / "tall.xlsx")
    assert len(read_table(tmp_path / "tall.xlsx", aliases=VENDOR_ALIASES, types=TYPES).rows) == 20


def test_a_utf8_csv_padded_with_nul_bytes_is_not_taken_for_utf16(tmp_path):
    path = tmp_path / "padded.csv"
    body = "".join(f"03/11/2026,M{i},Q1,10,600\r\n" for i in range(100))
    path.write_bytes((CSV_HEADER + body).encode() + b"\x00" * 8192)  # what an interrupted copy leaves
    table = read_table(path, aliases=VENDOR_ALIASES, types=TYPES)
    assert len(table.rows) == 100 and not any("UTF-16" in n for n in table.notes)


@pytest.mark.parametrize("number_format", ["h:mm", "h:mm:ss"])
def test_whole_days_in_an_h_mm_cell_read_as_their_length(tmp_path, number_format):
    rows = [[datetime(2026, 11, 3), f"M{i}", "Q1", 1, days] for i, days in enumerate([1, 2, 1.5])]
    path = workbook(tmp_path / "days.xlsx", rows, header=[*HEADER[:4], "Logged in"])
    wb = __import__("openpyxl").load_workbook(path)
    for cell in wb.active["E"][1:]:
        cell.number_format = number_format
    wb.save(path)
    table = read_table(path, aliases=VENDOR_ALIASES, types={**TYPES, "logged_seconds": "duration"})
    assert [r["logged_seconds"] for r in table.rows] == [86400.0, 172800.0, 129600.0]


def test_a_table_only_on_a_hidden_sheet_is_named_in_the_error(tmp_path):
    wb = Workbook()
    wb.active.title = "Cover"
    wb.active.append(["Lumen BPO daily report"])
    data = wb.create_sheet("Data")
    data.append(HEADER)
    data.append(day_rows(1)[0])
    data.sheet_state = "hidden"
    wb.save(tmp_path / "hidden.xlsx")
    with pytest.raises(DataError) as caught:
        read_table(tmp_path / "hidden.xlsx", aliases=VENDOR_ALIASES, required=["moderator_id"])
    message = str(caught.value)
    assert "hidden sheet(s) 'Data' not read" in message and "Unhide" in message
