"""Template fill: named ranges and tables written, formatting and formulas kept, drawings refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from opskit.excel import TemplateError, fill_template
from tests.shared import corpus


def _template(path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.table import Table

    wb = Workbook()
    ws = wb.active
    ws.title = "Report"
    ws["A1"], ws["B1"] = "Week", None
    ws["B1"].font = Font(bold=True, color="FF0000")
    wb.defined_names["ReportWeek"] = DefinedName("ReportWeek", attr_text="Report!$B$1")
    ws.append([])
    ws.append(["Queue", "Cases", "AHT", "Hours"])  # row 3
    ws.append(["x", 1, 60, "=B4*C4/3600"])  # row 4: a calculated column
    ws["C4"].number_format = "0.0"
    ws.add_table(Table(displayName="Queues", ref="A3:D4"))
    ws["F1"] = "=SUM(B:B)"
    wb.save(path)
    return path


def test_named_range_and_table_are_filled_and_formulas_kept(tmp_path):
    from openpyxl import load_workbook

    template = _template(tmp_path / "t.xlsx")
    out = fill_template(
        template,
        tmp_path / "out.xlsx",
        values={"ReportWeek": "2026-W47"},
        tables={
            "Queues": [
                {"queue": "ID-search", "cases": 10, "aht": 180},
                {"Queue": "=cmd|' /C calc'!A0", "Cases": 20, "AHT": 90},
            ]
        },
    )
    ws = load_workbook(out)["Report"]
    assert ws["B1"].value == "2026-W47" and ws["B1"].font.bold
    assert [ws.cell(4, c).value for c in range(1, 5)] == ["ID-search", 10, 180, "=B4*C4/3600"]
    assert [ws.cell(5, c).value for c in range(1, 5)] == [
        "=cmd|' /C calc'!A0",
        20,
        90,
        "=B5*C5/3600",
    ]
    assert ws["A5"].data_type == "s" and ws["A5"].quotePrefix
    assert ws["C5"].number_format == "0.0"
    assert ws.tables["Queues"].ref == "A3:D5"
    assert ws["F1"].value == "=SUM(B:B)"
    assert load_workbook(template)["Report"]["B1"].value is None  # the template is untouched


def test_charts_in_a_template_are_refused(tmp_path):
    source = corpus("xlsx", "poi__123233_charts.xlsx")
    template = shutil.copy(source, tmp_path / "charts.xlsx")
    with pytest.raises(TemplateError, match="charts.xlsx: contains 4 charts, 1 drawing"):
        fill_template(template, tmp_path / "out.xlsx", values={})
    assert not (tmp_path / "out.xlsx").exists()


def test_images_in_a_template_are_refused(tmp_path):
    template = shutil.copy(corpus("xlsx", "phpss__issue.3654_flexcel_images.xlsx"), tmp_path / "img.xlsx")
    with pytest.raises(TemplateError, match=r"contains .*26 images"):
        fill_template(template, tmp_path / "out.xlsx")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": {"Wek": 1}}, "has no named range 'Wek' (names: ReportWeek)"),
        ({"tables": {"Nope": []}}, "has no table 'Nope' (tables: Queues)"),
        ({"tables": {"Queues": [{"Vendor": "x"}]}}, "table 'Queues' has no column(s) vendor"),
    ],
)
def test_missing_names_are_explained(tmp_path, kwargs, message):
    template = _template(tmp_path / "t.xlsx")
    with pytest.raises(TemplateError) as info:
        fill_template(template, tmp_path / "out.xlsx", **kwargs)
    assert message in str(info.value)


def test_table_never_overwrites_cells_below(tmp_path):
    from openpyxl import load_workbook

    template = _template(tmp_path / "t.xlsx")
    wb = load_workbook(template)
    wb["Report"]["A6"] = "Notes below the table"
    wb.save(template)
    rows = [{"Queue": f"q{i}", "Cases": i, "AHT": 1} for i in range(3)]
    with pytest.raises(TemplateError, match="would overwrite A6 below it"):
        fill_template(template, tmp_path / "out.xlsx", tables={"Queues": rows})
