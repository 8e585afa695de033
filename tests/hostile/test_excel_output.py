"""Workbook cells under hostile text: OOXML-escape lookalikes and formula leads hidden behind control characters.

Both writers (openpyxl cell by cell, and the streaming writer) must store text that every reader shows as
written: openpyxl (which does not decode ``_xHHHH_``), calamine (opskit's own reader, which does) and
LibreOffice (converted to CSV), and never as a formula.
"""

from __future__ import annotations

import csv
import zipfile

import pytest

from opskit.excel import Column, Report, put_value, safe_text
from tests.libreoffice import convert

TEXTS = [
    "_x003D_1+1",  # decoded by readers to "=1+1" when stored raw
    "_x0000_",  # a NUL, which XML cannot hold
    "pre _x0041_ post",
    "_x005F_",  # the escape of "_" itself
    "_x12_ and _xZZZZ_",  # LibreOffice decodes the short form too; the other is no escape at all
    "plain_text",
]
HIDDEN_LEADS = ["\x01=1+1", "\x00+2", "\x1b@SUM(1)", "\x08-3"]


def _write(tmp_path, stream: bool):
    rows = [{"text": t} for t in TEXTS + HIDDEN_LEADS]
    report = Report("x").sheet("S", rows, [Column("text", "Text")], stream=stream)
    return report.save(tmp_path / f"s{int(stream)}.xlsx")


def _openpyxl_cells(path):
    from openpyxl import load_workbook

    ws = load_workbook(path)["S"]
    return [ws.cell(row=r, column=1) for r in range(2, 2 + len(TEXTS) + len(HIDDEN_LEADS))]


def _calamine_values(path):
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("S").to_python()
    return [row[0] for row in rows[1:]]


@pytest.mark.parametrize("stream", [False, True], ids=["in_memory", "streamed"])
def test_ooxml_escape_lookalikes_read_back_as_written(tmp_path, stream):
    path = _write(tmp_path, stream)
    cells = _openpyxl_cells(path)[: len(TEXTS)]
    # openpyxl shows the stored form: the leading underscore of each escape escaped as _x005F_
    assert [c.value for c in cells] == [
        "_x005F_x003D_1+1",
        "_x005F_x0000_",
        "pre _x005F_x0041_ post",
        "_x005F_x005F_",
        "_x005F_x12_ and _xZZZZ_",
        "plain_text",
    ]
    assert all(c.data_type == "s" and not c.quotePrefix for c in cells)
    assert _calamine_values(path)[: len(TEXTS)] == TEXTS  # a decoding reader gets the text back exactly
    with zipfile.ZipFile(path) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()


@pytest.mark.parametrize("stream", [False, True], ids=["in_memory", "streamed"])
def test_a_formula_lead_behind_a_control_character_is_still_quoted(tmp_path, stream):
    cells = _openpyxl_cells(_write(tmp_path, stream))[len(TEXTS) :]
    assert [c.value for c in cells] == ["=1+1", "+2", "@SUM(1)", "-3"]
    assert all(c.data_type == "s" for c in cells)
    assert all(c.quotePrefix for c in cells)  # on main the streamed sheet left these unquoted


@pytest.mark.process  # LibreOffice headless
def test_libreoffice_reads_the_text_as_written_and_never_as_a_formula(tmp_path):
    made = [_write(tmp_path, False), _write(tmp_path, True)]
    for source, converted in convert(made, tmp_path / "lo", "csv").items():
        with converted.open(encoding="utf-8", newline="") as f:
            values = [row[0] if row else "" for row in csv.reader(f)][1:]
        expected = [*TEXTS, "=1+1", "+2", "@SUM(1)", "-3"]
        assert values == expected, source.name  # a formula would show its result (2, 2, ...), not its text


def test_the_public_cell_helpers_escape_too():
    from openpyxl import Workbook

    cell = Workbook().active["A1"]
    put_value(cell, "\x02=cmd|' /C calc'!A0")
    assert (cell.value, cell.data_type, cell.quotePrefix) == ("=cmd|' /C calc'!A0", "s", True)
    put_value(cell, "_x003D_")
    assert (cell.value, cell.quotePrefix) == ("_x005F_x003D_", False)
    assert safe_text("\x03+1") == ("+1", True)
    assert safe_text("_x0041_") == ("_x005F_x0041_", False)


# -- CSV outputs -------------------------------------------------------------------------------------------

CSV_CASES = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
    ("+1+1", "'+1+1"),
    ("-1+1", "'-1+1"),
    ("@SUM(1;2)", "'@SUM(1;2)"),
    ("\tcmd", "'\tcmd"),
    ("\r=1", "'\r=1"),
    ("-", "'-"),
    ("-5", "-5"),  # numbers stay numbers, as text or not
    ("+3.5", "+3.5"),
    ("-1e-3", "-1e-3"),
    ("plain", "plain"),
    ("a=b", "a=b"),
    ("", ""),
]


def _write_csv(path, rows, **options):
    from opskit.excel import csv_writer

    with open(path, "w", encoding="utf-8", newline="") as f:
        csv_writer(f, **options).writerows(rows)
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_the_csv_guard_prefixes_formula_leads_and_leaves_numbers(tmp_path):
    rows = [[raw] for raw, _ in CSV_CASES] + [[-5], [2.5]]
    read = _write_csv(tmp_path / "g.csv", rows)
    assert [r[0] if r else "" for r in read] == [guarded for _, guarded in CSV_CASES] + ["-5", "2.5"]


def test_the_csv_guard_is_a_per_output_option(tmp_path):
    from opskit.excel import csv_dict_writer

    rows = [[raw] for raw, _ in CSV_CASES]
    assert [r[0] if r else "" for r in _write_csv(tmp_path / "raw.csv", rows, formula_guard=False)] == [
        raw for raw, _ in CSV_CASES
    ]
    path = tmp_path / "d.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv_dict_writer(f, ["=head", "n"])  # headers come from data too
        writer.writeheader()
        writer.writerows([{"=head": "@x", "n": -5}, {"=head": "ok", "n": "-7"}])
    with open(path, encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == [["'=head", "n"], ["'@x", "-5"], ["ok", "-7"]]


@pytest.mark.process  # LibreOffice headless
def test_libreoffice_opens_a_guarded_csv_as_text(tmp_path):
    from openpyxl import load_workbook

    rows = [["raw", "guarded"]] + [[raw, raw] for raw, _ in CSV_CASES if "\r" not in raw and "\t" not in raw]
    plain = tmp_path / "plain.csv"
    guarded = tmp_path / "guarded.csv"
    _write_csv(plain, rows, formula_guard=False)
    _write_csv(guarded, rows)
    converted = convert([plain, guarded], tmp_path / "lo", "xlsx")
    raw_ws = load_workbook(converted[plain]).active
    assert raw_ws["A2"].data_type == "f"  # the control: an unguarded "=1+1" opens as a formula
    ws = load_workbook(converted[guarded]).active
    for row in ws.iter_rows(min_row=2):
        cell = row[1]
        assert cell.data_type != "f", cell.value
    numbers = {ws.cell(r, 1).value: ws.cell(r, 1).data_type for r in range(2, ws.max_row + 1)}
    assert numbers[-5] == "n" and numbers[3.5] == "n"  # -5 and +3.5 are still numbers


def test_a_refreshed_template_stores_hostile_text_as_written(tmp_path):
    from openpyxl import Workbook, load_workbook

    from opskit.excel import refresh_template

    template = tmp_path / "template.xlsx"
    wb = Workbook()
    wb.active.title = "Data"
    wb.active.append(["Text"])
    wb.active.append(["old"])
    wb.save(template)
    out = tmp_path / "out.xlsx"
    refresh_template(template, out, sheets={"Data": [{"Text": t} for t in [*TEXTS, "bell\x07 nul\x00"]]})
    ws = load_workbook(out)["Data"]
    values = [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)]
    assert values[0] == "_x005F_x003D_1+1" and values[-1] == "bell nul"  # escaped, and XML-clean
    assert _calamine_values_of(out, "Data") == [*TEXTS, "bell nul"]


def _calamine_values_of(path, sheet):
    from python_calamine import CalamineWorkbook

    return [row[0] for row in CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()[1:]]
