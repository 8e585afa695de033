"""refresh_template: an analyst's workbook with charts, pivots, images and names gets new data rows, and
everything else stays byte for byte; LibreOffice opens the result and its charts show the new data.

Templates: one built here (table, defined name, line chart, image, a formula column, another sheet),
the same one saved by LibreOffice, and Excel-made ones from the shared corpus (4 charts on hidden data
sheets; pivot tables over a data sheet)."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest

from opskit.excel import TemplateError, refresh_template
from tests.libreoffice import convert
from tests.shared import corpus

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005"
    "0001ff5e7d2ae90000000049454e44ae426082"
)
NEW = [{"Week": f"2026-W{40 + i}", "Cases": 100 + 10 * i, "AHT": 120.5 + i} for i in range(10)]


def _template(path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.chart import LineChart, Reference
    from openpyxl.drawing.image import Image
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.table import Table

    wb = Workbook()
    data = wb.active
    data.title = "Data"
    data.append(["Week", "Cases", "AHT", "Hours"])
    for i in range(5):
        data.append([f"2026-W{30 + i}", 50 + i, 100.0 + i, f"=B{i + 2}*C{i + 2}/3600"])
        data.cell(i + 2, 3).number_format = "0.0"
    data.add_table(Table(displayName="Weekly", ref="A1:D6"))
    wb.defined_names["WeeklyCases"] = DefinedName("WeeklyCases", attr_text="Data!$B$2:$B$6")
    report = wb.create_sheet("Report")
    report["A1"] = "Weekly report"
    chart = LineChart()
    chart.title = "Cases per week"
    chart.add_data(Reference(data, min_col=2, min_row=1, max_row=6), titles_from_data=True)
    chart.set_categories(Reference(data, min_col=1, min_row=2, max_row=6))
    report.add_chart(chart, "A3")
    logo = path.parent / "logo.png"
    logo.write_bytes(PNG)
    report.add_image(Image(str(logo)), "J1")
    wb.create_sheet("Notes")["A1"] = "Kept as it is"
    wb.save(path)
    return path


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _chart_points(path: Path) -> list[list[str]]:
    """The values each chart series shows, as LibreOffice wrote them into the chart's cache."""
    found = []
    for name, xml in sorted(_parts(path).items()):
        if re.fullmatch(r"xl/charts/chart\d+\.xml", name):
            for cache in re.findall(rb"<c:val>.*?</c:val>", xml, re.S):
                found.append([v.decode() for v in re.findall(rb"<c:v>([^<]*)</c:v>", cache)])
    return found


@pytest.fixture
def made(tmp_path):
    return _template(tmp_path / "template.xlsx")


def test_only_the_data_and_the_ranges_over_it_change(made, tmp_path):
    from openpyxl import load_workbook

    out = refresh_template(made, tmp_path / "out.xlsx", sheets={"Data": NEW})
    before, after = _parts(made), _parts(out)
    assert set(after) == set(before)
    changed = sorted(n for n in before if before[n] != after[n])
    assert changed == ["xl/charts/chart1.xml", "xl/tables/table1.xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"]
    assert any(n.startswith("xl/media/") for n in after)  # the image, byte for byte (unchanged above)
    assert b'ref="A1:D11"' in after["xl/tables/table1.xml"]
    assert b"Data!$B$2:$B$11" in after["xl/workbook.xml"] and b'fullCalcOnLoad="1"' in after["xl/workbook.xml"]
    chart = after["xl/charts/chart1.xml"]
    assert b"'Data'!$B$2:$B$11" in chart and b"'Data'!$A$2:$A$11" in chart and b"<c:numCache>" not in chart
    wb = load_workbook(out)
    rows = list(wb["Data"].iter_rows(values_only=True))
    assert rows[0] == ("Week", "Cases", "AHT", "Hours")
    assert [r[:3] for r in rows[1:]] == [(r["Week"], r["Cases"], r["AHT"]) for r in NEW]
    assert rows[10][3] == "=B11*C11/3600"  # the calculated column follows the rows
    assert wb["Data"]["C11"].number_format == "0.0"  # the first data row's style
    assert load_workbook(made)["Data"].max_row == 6  # the template is untouched


def test_libreoffice_opens_it_and_the_chart_shows_the_new_data(made, tmp_path):
    out = refresh_template(made, tmp_path / "refreshed.xlsx", sheets={"Data": NEW})
    resaved = convert([out], tmp_path / "lo", "xlsx")[out]
    assert _chart_points(resaved) == [[str(r["Cases"]) for r in NEW]]


def test_a_template_saved_by_libreoffice_refreshes_too(made, tmp_path):
    by_libreoffice = convert([made], tmp_path / "lo-made", "xlsx")[made]
    assert b"LibreOffice" in _parts(by_libreoffice)["docProps/app.xml"]
    out = refresh_template(by_libreoffice, tmp_path / "refreshed.xlsx", sheets={"Data": NEW[:3]})
    unchanged = [n for n, b in _parts(by_libreoffice).items() if _parts(out)[n] == b]
    assert any(n.startswith("xl/drawings/") for n in unchanged)
    resaved = convert([out], tmp_path / "lo-again", "xlsx")[out]
    assert _chart_points(resaved) == [[str(r["Cases"]) for r in NEW[:3]]]


def test_an_excel_workbook_with_four_charts_keeps_them_and_they_show_the_new_data(tmp_path):
    template = shutil.copy(corpus("xlsx", "poi__123233_charts.xlsx"), tmp_path / "charts.xlsx")
    rows = [[10.0, 20.0, 30.0, 40.0, 50.0], [11.0, 21.0, 31.0, 41.0, 51.0], [12.0, 22.0, 32.0, 42.0, 52.0]]
    out = refresh_template(template, tmp_path / "out.xlsx", sheets={"data_Page1_1_1": rows})
    before, after = _parts(template), _parts(out)
    changed = sorted(n for n in before if before[n] != after[n])
    assert changed == ["xl/charts/chart1.xml", "xl/workbook.xml", "xl/worksheets/Sheet2.xml"]
    assert b"data_Page1_1_1!B2:B4" in after["xl/charts/chart1.xml"]
    resaved = convert([out], tmp_path / "lo", "xlsx")[out]
    points = _chart_points(resaved)
    assert ["10", "11", "12"] in points and len(points) >= 5  # the refreshed chart; the other three kept


def test_pivot_caches_over_the_data_are_extended_and_refresh_on_open(tmp_path):
    template = shutil.copy(corpus("xlsx", "calamine__pivots.xlsx"), tmp_path / "pivots.xlsx")
    before = _parts(template)
    source = re.search(
        rb'<worksheetSource ref="([A-Z]+)1:([A-Z]+)(\d+)" sheet="DataSheet"',
        before["xl/pivotCache/pivotCacheDefinition1.xml"],
    )
    assert source, "the corpus pivot reads DataSheet"
    rows = [["Alice", "North", 10], ["Bob", "South", 20]] * 10
    out = refresh_template(template, tmp_path / "out.xlsx", sheets={"DataSheet": rows})
    after = _parts(out)
    cache = after["xl/pivotCache/pivotCacheDefinition1.xml"]
    assert b'refreshOnLoad="1"' in cache and f'{source[2].decode()}21" sheet="DataSheet"'.encode() in cache
    for name in before:
        if name.startswith(("xl/pivotTables/", "xl/pivotCache/pivotCacheRecords", "customXml/")):
            assert after.get(name) == before[name], name
    convert([out], tmp_path / "lo", "pdf")  # LibreOffice opens and prints it


@pytest.mark.parametrize(
    ("sheets", "message"),
    [
        ({"Dat": []}, "has no sheet 'Dat' (sheets: Data, Report, Notes)"),
        ({"Data": [{"Vendor": "x"}]}, "sheet 'Data' has no column 'Vendor' (columns: week, cases, aht, hours)"),
    ],
)
def test_wrong_names_are_explained_and_nothing_is_written(made, tmp_path, sheets, message):
    with pytest.raises(TemplateError) as info:
        refresh_template(made, tmp_path / "out.xlsx", sheets=sheets)
    assert str(info.value) == f"template.xlsx: {message}"
    assert not (tmp_path / "out.xlsx").exists()


def test_hostile_text_stays_text(made, tmp_path):
    out = refresh_template(made, tmp_path / "out.xlsx", sheets={"Data": [{"Week": "=cmd|' /C calc'!A0", "Cases": 1}]})
    sheet = _parts(out)["xl/worksheets/sheet1.xml"]
    assert b"<f>cmd" not in sheet and b't="inlineStr"><is><t>=cmd|' in sheet
