"""Every file of the shared xlsx corpus is read or refused with a typed, named reason."""

from __future__ import annotations

import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from opskit.errors import DataError
from opskit.excel import WorkbookError, read_table
from tests.shared import corpus, corpus_or_none

XLSX = corpus_or_none("xlsx")  # None when the shared corpus is missing: the manifest test then fails


def xlsx(name: str) -> Path:
    return corpus("xlsx", name)


MUST_FAIL = {  # file -> WorkbookError.kind, and words the message must contain
    "calamine__pass_protected_ENCRYPTED.xlsx": ("encrypted", "password-protected"),
    "roo__type_excel_IS_XLS.xlsx": ("xls", "is an .xls (Excel 97-2003) file"),
    "roo__type_openoffice_IS_ODS.xlsx": ("ods", "OpenDocument spreadsheet (.ods)"),
    "poi__poc-xmlbomb.xlsx": ("entity", "entity"),
    "poi__fuzz-badcrc.xlsx": ("corrupt", "Bad CRC-32"),
    "exceljs__invalid-xml.xlsx": ("bad_xml", "malformed XML in xl/worksheets/sheet1.xml"),
    "exceljs__missing-bits.xlsx": ("missing_part", "[Content_Types].xml part is missing"),
    "tealeg__badfile_noWorkbookRels.xlsx": ("missing_part", "xl/_rels/workbook.xml.rels"),
}
EMPTY = {"calamine__vba.xlsm", "poi__57893-many-merges.xlsx", "poi__sheetProtection_allLocked.xlsx"}


def _manifest() -> list[tuple[str, bool]]:
    rows: list[tuple[str, bool]] = []
    if XLSX is None:
        return rows
    for line in (XLSX / "MANIFEST.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("file\t") or not line.strip():
            continue
        fields = line.split("\t")
        rows.append((fields[0], fields[-1].startswith("Must-fail-cleanly")))
    return rows


MANIFEST = _manifest()


def test_manifest_lists_every_corpus_file_and_the_must_fail_table_matches_it():
    on_disk = {p.name for p in corpus("xlsx").iterdir() if p.name != "MANIFEST.txt"}
    assert {name for name, _ in MANIFEST} == on_disk
    assert {name for name, must_fail in MANIFEST if must_fail} == set(MUST_FAIL)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("name", "must_fail"), MANIFEST, ids=[n for n, _ in MANIFEST])
def test_corpus_file_is_read_or_refused_cleanly(name, must_fail):
    path = xlsx(name)
    if must_fail:
        kind, words = MUST_FAIL[name]
        with pytest.raises(WorkbookError) as info:
            read_table(path)
        assert info.value.kind == kind
        assert str(info.value).startswith(f"{name}: ")
        assert words in str(info.value)
        return
    if name in EMPTY:
        with pytest.raises(DataError, match="is empty"):
            read_table(path, header=False)
        return
    table = read_table(path, header=False)
    assert table.rows or table.rejected, f"{name}: no rows read"
    assert table.columns and all(isinstance(c, str) for c in table.columns)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("calamine__date_1904.xlsx", [date(2021, 1, 1), date(2021, 1, 2)]),
        ("phpss__1904_Calendar.xlsx", [date(2022, 1, 1), date(2022, 12, 31)]),
        ("calamine__date_iso.xlsx", [date(2021, 1, 1)]),
    ],
)
def test_1904_and_iso_dates_read_as_the_right_day(name, expected):
    table = read_table(xlsx(name), header=False, types={"A": "date"})
    assert [r["A"] for r in table.rows][: len(expected)] == expected


def test_hidden_sheet_is_skipped_and_noted_unless_included():
    table = read_table(xlsx("poi__TwoSheetsOneHidden.xlsx"), header=False)
    assert table.sheet == "Sheet2"
    assert table.rows == [{"A": "Sheet2A1"}]
    assert "skipped hidden sheet 'Sheet1'" in table.notes
    hidden = read_table(xlsx("poi__TwoSheetsOneHidden.xlsx"), header=False, include_hidden=True)
    assert hidden.sheet == "Sheet1"


def test_unicode_sheet_name_can_be_named():
    table = read_table(xlsx("poi__unicodeSheetName.xlsx"), sheet="sheet・1", header=False, types={"A": "int"})
    assert table.sheet == "Sheet・1"
    assert [r["A"] for r in table.rows][:3] == [1, 2, 3]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "name",
    [
        "poi__53105_16384cols.xlsx",
        "calamine__issue_174_gnumeric_full_grid.xlsx",
        "tealeg__testFileToSliceValueOnly.xlsx",
    ],
)
def test_huge_dimensions_do_not_explode_memory(name):
    tracemalloc.start()
    try:
        table = read_table(xlsx(name), header=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(table.rows) <= 2
    assert peak < 100 * 1024 * 1024


def test_gnumeric_full_grid_header_is_found_by_alias():
    table = read_table(
        xlsx("calamine__issue_174_gnumeric_full_grid.xlsx"),
        aliases={"ref": ["Your Ref #"], "weight": ["Weight"]},
        required=["ref"],
        types={"ref": "str", "weight": "float"},
    )
    assert table.rows == [pytest.approx(table.rows[0])]
    assert table.rows[0]["ref"] == "123" and table.rows[0]["weight"] == 1.5


def test_pivot_grand_total_row_is_skipped_with_a_note():
    table = read_table(xlsx("calamine__pivots.xlsx"), sheet="PivotSheet1")
    assert any("skipped totals row 'Grand Total'" in n for n in table.notes)
    assert all("grand" not in str(r.get("row_labels", "")).lower() for r in table.rows)


def test_chart_sheet_is_skipped():
    table = read_table(xlsx("poi__WithChartSheet.xlsx"))
    assert "skipped chart sheet 'Chart2'" in table.notes
    assert table.columns == ["year", "category", "cost", "revenue"]
    assert table.rows[0] == {
        "year": 2005,
        "category": "Books",
        "cost": 889017,
        "revenue": 1140362.5,
    }


def test_utf16_workbook_falls_back_to_openpyxl_with_a_note():
    table = read_table(xlsx("phpss__utf16be.xlsx"), header=False)
    assert table.rows == [{"A": 1}]
    assert any("read with openpyxl" in n for n in table.notes)


def test_merged_two_row_header_from_flexcel_file():
    table = read_table(xlsx("phpss__issue.3654_flexcel_images.xlsx"))
    assert table.header_row == 1
    assert "identificación_id" in table.columns


def test_error_cells_are_rejections_naming_the_error_not_blanks():
    table = read_table(xlsx("calamine__errors.xlsx"), header=False)
    reasons = {r.reason for r in table.rejected}
    assert "cell holds the Excel error #DIV/0!" in reasons
    assert "cell holds the Excel error #N/A" in reasons
    assert all(r.sheet == "Feuil1" and r.column == "A" for r in table.rejected)
