"""read_table over vendor-style workbooks and CSVs built here, one quirk per test."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from opskit.errors import DataError
from opskit.excel import Rejection, WorkbookError, read_table
from opskit.excel.read import normalize
from tests.shared import corpus

ALIASES = {
    "case_id": ["Case ID", "Ticket #"],
    "handled": ["Handled", "Cases"],
    "handle_seconds": ["Handle time Total"],
    "avg_seconds": ["Handle time Avg"],
    "date": ["Date", "Day"],
}


def _xlsx(path: Path, rows, *, merges=(), hidden=(), epoch1904=False) -> Path:
    from openpyxl import Workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    wb = Workbook()
    if epoch1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "Data"
    for row in rows:
        ws.append(row)
    for ref in merges:
        ws.merge_cells(ref)
    for name in hidden:
        extra = wb.create_sheet(name, 0)
        extra.append(["Case ID"])
        extra.append(["hidden-1"])
        extra.sheet_state = "hidden"
    wb.save(path)
    return path


def test_header_below_title_rows_and_logo_blank_rows(tmp_path):
    path = _xlsx(
        tmp_path / "v.xlsx",
        [
            ["Vendor A weekly report"],
            [],
            ["Generated 2026-11-16"],
            [],
            ["Ticket #", "Handled", "Comment"],
            ["T1", "5", "ok"],
            ["T2", 7, None],
        ],
    )
    table = read_table(path, aliases=ALIASES, required=["case_id"], types={"handled": "int"})
    assert table.header_row == 5
    assert table.rows == [
        {"case_id": "T1", "handled": 5, "comment": "ok"},
        {"case_id": "T2", "handled": 7, "comment": None},
    ]
    assert table.headers == {"case_id": "Ticket #", "handled": "Handled", "comment": "Comment"}
    assert any("'Comment' -> comment" in note for note in table.notes)


def test_two_row_header_under_merged_cell(tmp_path):
    path = _xlsx(
        tmp_path / "v.xlsx",
        [["Case ID", "Handle time", None], [None, "Total", "Avg"], ["C1", 600, 120]],
        merges=["B1:C1", "A1:A2"],
    )
    table = read_table(
        path,
        aliases=ALIASES,
        required=["case_id", "handle_seconds"],
        types={"handle_seconds": "seconds", "avg_seconds": "seconds"},
    )
    assert table.header_row == 1
    assert table.columns == ["case_id", "handle_seconds", "avg_seconds"]
    assert table.rows == [{"case_id": "C1", "handle_seconds": 600.0, "avg_seconds": 120.0}]


def test_two_row_header_in_csv_without_merge_information(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("Case ID,Handle time,\n,Total,Avg\nC1,0:10:00,0:02:00\n", encoding="utf-8")
    table = read_table(path, aliases=ALIASES, types={"handle_seconds": "seconds", "avg_seconds": "seconds"})
    assert table.rows == [{"case_id": "C1", "handle_seconds": 600.0, "avg_seconds": 120.0}]


def test_missing_required_column_names_it_and_the_columns_found(tmp_path):
    path = _xlsx(tmp_path / "v.xlsx", [["Ticket #", "Cases"], ["T1", 1]])
    with pytest.raises(
        DataError,
        match=re.escape("v.xlsx: sheet 'Data' lacks required column(s) date (found: 'Ticket #', 'Cases')"),
    ):
        read_table(path, aliases=ALIASES, required=["case_id", "date"])


def test_rejected_rows_are_reported_and_the_rest_is_read(tmp_path):
    path = _xlsx(
        tmp_path / "v.xlsx",
        [
            ["Case ID", "Cases", "Date"],
            ["A", "1,204", "2026-11-16"],
            ["B", "many", "2026-11-17"],
            ["C", 3, "03/04/2026"],
            ["D", 4, "13/04/2026"],
        ],
    )
    table = read_table(path, aliases=ALIASES, types={"handled": "int", "date": "date"})
    assert [r["case_id"] for r in table.rows] == ["A", "D"]
    assert table.rows[0]["handled"] == 1204 and table.rows[1]["date"] == date(2026, 4, 13)
    assert table.rejected[0] == Rejection("Data", 3, "handled", "expected a number, got 'many'")
    assert table.rejected[1].row == 4 and table.rejected[1].column == "date"
    assert "ambiguous date '03/04/2026'" in table.rejected[1].reason
    assert str(table.rejected[0]) == "Data, row 3, column handled: expected a number, got 'many'"


@pytest.mark.parametrize(("dayfirst", "expected"), [(True, date(2026, 4, 3)), (False, date(2026, 3, 4))])
def test_dayfirst_decides_ambiguous_dates(tmp_path, dayfirst, expected):
    path = _xlsx(tmp_path / "v.xlsx", [["Case ID", "Date"], ["A", "03/04/2026"]])
    table = read_table(path, aliases=ALIASES, types={"date": "date"}, dayfirst=dayfirst)
    assert table.rows[0]["date"] == expected and not table.rejected


def test_totals_blank_and_note_rows_are_skipped_with_notes(tmp_path):
    path = _xlsx(
        tmp_path / "v.xlsx",
        [
            ["Case ID", "Cases", "Handle time Total"],
            ["A", 1, 10],
            [None, None, None],
            ["B", 2, 20],
            ["Grand total", 3, 30],
            ["* Source: vendor tooling export, not reconciled"],
        ],
    )
    table = read_table(path, aliases=ALIASES, types={"handled": "int"})
    assert [r["case_id"] for r in table.rows] == ["A", "B"]
    assert "Data, row 5: skipped totals row 'Grand total'" in table.notes
    assert any(n.startswith("Data, row 6: skipped note") for n in table.notes)
    assert "Data: skipped 1 blank row(s)" in table.notes


def test_hidden_sheet_is_skipped_by_default(tmp_path):
    path = _xlsx(tmp_path / "v.xlsx", [["Case ID"], ["visible-1"]], hidden=["Old"])
    assert read_table(path, aliases=ALIASES).rows == [{"case_id": "visible-1"}]
    assert read_table(path, aliases=ALIASES, include_hidden=True).rows == [{"case_id": "hidden-1"}]


def test_first_sheet_with_the_required_columns_is_chosen(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Cover"
    wb.active.append(["Weekly vendor report", "Version 3"])
    wb.create_sheet("Data").append(["Ticket #", "Cases"])
    wb["Data"].append(["T9", 2])
    wb.save(tmp_path / "v.xlsx")
    table = read_table(tmp_path / "v.xlsx", aliases=ALIASES, required=["case_id"])
    assert table.sheet == "Data" and table.rows == [{"case_id": "T9", "handled": 2}]


def test_unknown_sheet_suggests_the_close_name(tmp_path):
    path = _xlsx(tmp_path / "v.xlsx", [["Case ID"], ["x"]])
    with pytest.raises(DataError, match=r"has no sheet 'Dta' \(sheets: 'Data'\)\. Did you mean 'Data'\?"):
        read_table(path, sheet="Dta")


def test_excel_serial_dates_in_1904_workbook(tmp_path):
    path = _xlsx(tmp_path / "v.xlsx", [["Case ID", "Date"], ["A", 45000]], epoch1904=True)
    table = read_table(path, aliases=ALIASES, types={"date": "date"})
    # 45000 days after 1904-01-01; the same serial in the 1900 system would be 2023-03-15
    assert table.rows[0]["date"] == date(2027, 3, 16)


def test_formulas_read_as_cached_values(tmp_path):
    source = corpus("xlsx", "phpss__1904_Calendar.xlsx")
    table = read_table(source, header=False, types={"A": "date", "B": "date"})
    assert table.rows[0] == {"A": date(2022, 1, 1), "B": date(2021, 12, 31)}  # B1 is =A1-1


def test_csv_with_bom_semicolons_and_european_header(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeffCase ID;Cases;Date\nA;1 204;16.11.2026\nB;7;17.11.2026\n".encode())
    table = read_table(path, aliases=ALIASES, types={"handled": "int", "date": "date"}, dayfirst=True)
    assert table.rows == [
        {"case_id": "A", "handled": 1204, "date": date(2026, 11, 16)},
        {"case_id": "B", "handled": 7, "date": date(2026, 11, 17)},
    ]


def test_tsv_and_windows_1252_csv(tmp_path):
    tsv = tmp_path / "e.tsv"
    tsv.write_text("Case ID\tCases\nA\t2\n", encoding="utf-8")
    assert read_table(tsv, aliases=ALIASES).rows == [{"case_id": "A", "handled": "2"}]  # CSV: text
    assert read_table(tsv, aliases=ALIASES, types={"handled": "int"}).rows[0]["handled"] == 2
    legacy = tmp_path / "e.csv"
    legacy.write_bytes("Case ID,Comment\nA,caf\xe9\n".encode("cp1252"))
    table = read_table(legacy, aliases=ALIASES)
    assert table.rows == [{"case_id": "A", "comment": "café"}]
    assert "not UTF-8; read as Windows-1252" in table.notes


def test_stream_yields_rows_lazily_and_fills_rejections(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("Case ID,Cases\n" + "".join(f"C{i},{i if i != 5 else 'x'}\n" for i in range(10)))
    table = read_table(path, aliases=ALIASES, types={"handled": "int"}, stream=True)
    assert not isinstance(table.rows, list)
    rows = list(table.rows)
    assert len(rows) == 9 and table.rejected[0].row == 7


@pytest.mark.parametrize(
    ("content", "name", "kind", "message"),
    [
        (b"", "e.xlsx", "not_workbook", "is empty (0 bytes)"),
        (
            b"<html><table><tr><td>1</td></tr></table></html>",
            "r.xls",
            "not_workbook",
            "is an HTML page saved with an Excel name",
        ),
        (b"%PDF-1.7 ...", "r.xlsx", "not_workbook", "is a PDF document"),
        (b"PK\x03\x04truncated", "t.xlsx", "corrupt", "is damaged or truncated"),
        (b"just, some, text\n", "a.xlsx", "not_workbook", "is a text file"),
    ],
)
def test_unreadable_files_get_one_typed_message(tmp_path, content, name, kind, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(WorkbookError) as info:
        read_table(path)
    assert info.value.kind == kind
    assert str(info.value).startswith(f"{name}: {message}")


def test_missing_file_is_a_workbook_error(tmp_path):
    with pytest.raises(WorkbookError, match="nope.xlsx: file not found"):
        read_table(tmp_path / "nope.xlsx")


def test_truncated_real_workbook_is_refused(tmp_path):
    good = _xlsx(tmp_path / "g.xlsx", [["Case ID"], ["x"]])
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WorkbookError) as info:
        read_table(cut)
    assert info.value.kind == "corrupt"


def test_unknown_type_name_is_refused_before_reading(tmp_path):
    with pytest.raises(ValueError, match="unknown column type 'number'"):
        read_table(tmp_path / "x.csv", types={"handled": "number"})


@pytest.mark.parametrize("header", ["Case ID", "case_id", " CASE-ID ", "Case\nID", "caseid"])
def test_header_normalization_ignores_case_space_and_punctuation(header):
    assert normalize(header) == "caseid"


def test_openpyxl_warnings_do_not_escape(tmp_path):
    # A Numbers export whose header/footer openpyxl cannot parse: openpyxl warns on it...
    import warnings

    import openpyxl

    path = corpus("xlsx", "roo__numbers-export.xlsx")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        openpyxl.load_workbook(path).close()
    assert any("header or footer" in str(w.message) for w in seen)
    # ...and filterwarnings=error is on, so reading it through opskit must not let the warning escape.
    table = read_table(path, header=False)
    assert len(table.rows) == 1 and table.columns == ["A"]


def test_datetimes_get_the_zone_when_asked(tmp_path):
    from zoneinfo import ZoneInfo

    path = _xlsx(tmp_path / "v.xlsx", [["Case ID", "Created"], ["A", datetime(2026, 3, 29, 2, 30)]])
    table = read_table(path, aliases=ALIASES, types={"Created": "datetime"}, tz=ZoneInfo("Europe/Berlin"))
    assert table.rows[0]["Created"] == datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize("blank_rows", [0, 1, 3])
def test_row_numbers_are_the_sheets_own_under_blank_rows_and_columns(tmp_path, blank_rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    top = blank_rows + 1
    for c, value in enumerate(["Date", "Queue", "Handled"], start=3):  # the table starts in column C
        ws.cell(top, c, value)
        ws.cell(top + 1, c, [date(2026, 11, 10), "q1", "bad"][c - 3])
        ws.cell(top + 3, c, [date(2026, 11, 10), "q2", 4][c - 3])  # a blank row between
    path = tmp_path / "offset.xlsx"
    wb.save(path)
    table = read_table(path, types={"handled": "int"})
    assert table.header_row == top
    assert [(r.row, r.column) for r in table.rejected] == [(top + 1, "handled")]
    assert table.rows == [{"date": date(2026, 11, 10), "queue": "q2", "handled": 4}]
    assert table.row_numbers == [top + 3]
