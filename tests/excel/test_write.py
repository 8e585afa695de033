"""The report builder: safe values, formats, conditional formats, totals, charts, streaming, atomicity."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime, timedelta

import pytest

from opskit.excel import Column, Formula, Report, atomic_path
from opskit.reports import KPI

HOSTILE = [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\r=1",
    "＝1+1",
    "plain",
]
COLUMNS = [
    Column("queue", "Queue", "str"),
    Column("cases", "Cases", "int"),
    Column("aht", "AHT (s)", "float", target=200, direction="lower_is_better", data_bar=True),
    Column("sla", "SLA", "percent", target=0.95),
    Column("handle", "Handle", "duration"),
    Column("day", "Day", "date"),
    Column("comment", "Comment", "str"),
]


def _rows(n):
    return [
        {
            "queue": f"q{i}",
            "cases": i,
            "aht": 190.0 + i * 5,
            "sla": None if i == 1 else 0.9 + i / 50,
            "handle": 3600 * i,
            "day": datetime(2026, 11, 16) + timedelta(days=i),
            "comment": HOSTILE[i % len(HOSTILE)],
        }
        for i in range(n)
    ]


def _load(path):
    from openpyxl import load_workbook

    return load_workbook(path)


def _report(stream, n=8):
    report = Report(
        "Efficiency",
        subject="2026-W47",
        keywords=("weekly_emea", "efficiency"),
        created=datetime(2026, 11, 23, 8, 0),
    )
    report.summary(
        [
            KPI("AHT (s)", 212.0, 200.0, 220.0, "lower_is_better", "seconds"),
            KPI("SLA", 0.93, 0.95, 0.95, "higher_is_better", "percent"),
            KPI("Accuracy", None, 0.9, 0.95),
        ]
    )
    report.sheet("By queue", _rows(n), COLUMNS, totals=True, stream=stream)
    report.trend(
        "Trend",
        [{"week": f"W{w}", "aht": 200 + w} for w in range(40, 47)],
        x=Column("week", "Week"),
        series=[Column("aht", "AHT", "float")],
    )
    return report


@pytest.mark.parametrize("stream", [False, True])
def test_hostile_text_is_stored_as_text_with_quote_prefix(tmp_path, stream):
    path = _report(stream).save(tmp_path / "r.xlsx")
    ws = _load(path)["By queue"]
    comments = [ws.cell(row=r, column=7) for r in range(2, 10)]
    for cell, text in zip(comments, HOSTILE, strict=True):
        # XML turns a carriage return in text into a line feed; the text stays text.
        assert cell.data_type == "s" and cell.value == text.replace("\r", "\n")
        assert cell.quotePrefix is (text != "plain")
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet2.xml").decode()
    assert "HYPERLINK" in sheet  # the hostile text is there, as text...
    assert not re.search(r"<f>[^<]*HYPERLINK", sheet)  # ...and never inside a formula
    assert sheet.count("<f>") == 3  # only the builder's SUBTOTALs (cases, AHT, handle) are formulas


@pytest.mark.parametrize("stream", [False, True])
def test_numbers_are_numbers_with_formats_and_na_for_empty_ratios(tmp_path, stream):
    ws = _load(_report(stream).save(tmp_path / "r.xlsx"))["By queue"]
    assert [c.value for c in ws[1]] == [
        "Queue",
        "Cases",
        "AHT (s)",
        "SLA",
        "Handle",
        "Day",
        "Comment",
    ]
    row = {c.column_letter: c for c in ws[3]}
    assert row["B"].value == 1 and row["B"].number_format == "#,##0"
    assert row["C"].value == 195 and row["C"].number_format == "#,##0.00"
    assert row["D"].value == "n/a" and row["D"].data_type == "s"
    assert ws["D4"].value == pytest.approx(0.94) and ws["D4"].number_format == "0.0%"
    assert ws["E3"].number_format == "[h]:mm:ss" and ws["E3"].value == timedelta(hours=1)
    assert ws["F2"].value == datetime(2026, 11, 16) and ws["F2"].number_format == "yyyy-mm-dd"
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["G"].width >= len(HOSTILE[0])


@pytest.mark.parametrize("stream", [False, True])
def test_totals_row_table_and_conditional_formats(tmp_path, stream):
    ws = _load(_report(stream).save(tmp_path / "r.xlsx"))["By queue"]
    assert [c.value for c in ws[10]][:3] == [
        "Total",
        "=SUBTOTAL(109,B2:B9)",
        "=SUBTOTAL(109,C2:C9)",
    ]
    assert ws["D10"].value is None  # ratios are not summed
    assert list(ws.tables) == ["By_queue"] and ws.tables["By_queue"].ref == "A1:G9"
    rules = {str(rng.sqref): [r for r in rng.rules] for rng in ws.conditional_formatting}
    aht = rules["C2:C9"]
    assert [r.formula for r in aht if r.type == "expression"] == [
        ["AND(ISNUMBER(C2),C2>200.0)"],
        ["AND(ISNUMBER(C2),C2<=200.0)"],
    ]
    assert any(r.type == "dataBar" for r in aht)
    assert [r.formula for r in rules["D2:D9"]] == [
        ["AND(ISNUMBER(D2),D2<0.95)"],
        ["AND(ISNUMBER(D2),D2>=0.95)"],
    ]
    assert ws.dimensions == "A1:G10"


def test_summary_first_with_change_and_attainment(tmp_path):
    wb = _load(_report(False).save(tmp_path / "r.xlsx"))
    assert wb.sheetnames == ["Summary", "By queue", "Trend"]
    ws = wb["Summary"]
    assert [c.value for c in ws[1]] == [
        "Metric",
        "This period",
        "Previous",
        "Change",
        "Target",
        "Attainment",
        "Status",
    ]
    assert ws["D2"].value == pytest.approx(0.06) and ws["D2"].number_format == "+0.0%;-0.0%;0.0%"
    assert ws["F2"].value == pytest.approx(220 / 212) and ws["G2"].value == "met"
    assert ws["G3"].value == "missed" and ws["C3"].number_format == "0.0%"
    assert [ws["B4"].value, ws["D4"].value, ws["F4"].value] == ["n/a", "n/a", "n/a"]


def test_trend_sheet_has_a_native_line_chart(tmp_path):
    path = _report(False).save(tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as archive:
        chart = archive.read("xl/charts/chart1.xml").decode()
    assert "<lineChart>" in chart and "'Trend'!$B$2:$B$8" in chart and "'Trend'!$A$2:$A$8" in chart


def test_document_properties_name_the_period_and_job(tmp_path):
    props = _load(_report(False).save(tmp_path / "r.xlsx")).properties
    assert (props.title, props.subject, props.creator) == ("Efficiency", "2026-W47", "opskit")
    assert props.keywords == "weekly_emea, efficiency"
    assert props.created == datetime(2026, 11, 23, 8, 0)


def test_illegal_xml_characters_are_stripped_not_fatal(tmp_path):
    rows = [{"comment": "bell\x07 and nul\x00 and esc\x1b"}]
    for stream in (False, True):
        report = Report("x").sheet("S", rows, [Column("comment")], stream=stream)
        ws = _load(report.save(tmp_path / f"r{stream}.xlsx"))["S"]
        assert ws["A2"].value == "bell and nul and esc"


def test_formula_wrapper_is_the_only_way_to_a_formula(tmp_path):
    rows = [{"a": 2, "b": Formula("A2*2")}, {"a": 3, "b": "=A3*2"}]
    ws = _load(Report("x").sheet("S", rows, [Column("a", type="int"), Column("b")]).save(tmp_path / "r.xlsx"))["S"]
    assert ws["B2"].value == "=A2*2" and ws["B2"].data_type == "f"
    assert ws["B3"].value == "=A3*2" and ws["B3"].data_type == "s"


@pytest.mark.slow  # 100k streamed rows
def test_streamed_sheet_from_a_generator_of_sequences(tmp_path):
    columns = [
        Column("id", "ID", "int"),
        Column("name", "Name", "str"),
        Column("t", "When", "datetime"),
    ]
    rows = ((i, f"n{i}", datetime(2026, 1, 1) + timedelta(minutes=i)) for i in range(25_000))
    path = Report("big").sheet("Detail", rows, columns, table=False).save(tmp_path / "big.xlsx")
    from openpyxl import load_workbook

    ws = load_workbook(path, read_only=True)["Detail"]
    assert ws.max_row == 25_001  # the sheet's dimension covers the streamed rows (readers trust it)
    values = list(ws.iter_rows(min_row=25_000, max_row=25_001, values_only=True))
    assert values == [
        (24_998, "n24998", datetime(2026, 1, 18, 8, 38)),
        (24_999, "n24999", datetime(2026, 1, 18, 8, 39)),
    ]
    assert load_workbook(path)["Detail"].auto_filter.ref == "A1:C25001"


def test_atomic_save_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"previous report")

    def boom():
        yield {"a": 1}
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        Report("x").sheet("S", boom(), [Column("a")]).save(target)
    assert target.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "f.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) == "0o600"  # run data is owner-only (opskit/files.py)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "money"}, "unknown column type 'money'"),
        ({"direction": "up"}, "direction must be higher_is_better, lower_is_better or neutral, not 'up'"),
        ({"total": "median"}, "total must be one of sum, average, count, min, max, not 'median'"),
    ],
)
def test_bad_column_definitions_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Column("x", **kwargs)


def test_sheet_names_are_made_valid_and_unique(tmp_path):
    report = Report("x")
    for name in ["Q3/Q4: [draft]?", "Q3/Q4: [draft]?", "A" * 40]:
        report.sheet(name, [{"a": 1}], [Column("a")])
    wb = _load(report.save(tmp_path / "r.xlsx"))
    assert wb.sheetnames == ["Q3_Q4_ _draft__", "Q3_Q4_ _draft__ (2)", "A" * 31]


def test_summary_change_is_in_points_for_percentages_and_relative_otherwise(tmp_path):
    from openpyxl import load_workbook

    from opskit.excel import Report
    from opskit.reports import KPI

    kpis = [KPI("SLA attainment", 0.73, previous=0.72, type="percent"), KPI("Completed", 110, previous=100, type="int")]
    assert kpis[0].change == pytest.approx(1.0) and kpis[1].change == pytest.approx(0.1)
    path = Report("t").summary(kpis).save(tmp_path / "s.xlsx")
    ws = load_workbook(path)["Summary"]
    assert ws["D2"].value == pytest.approx(1.0) and ws["D2"].number_format == '+0.0" pp";-0.0" pp";0.0" pp"'
    assert ws["D3"].value == pytest.approx(0.1) and ws["D3"].number_format == "+0.0%;-0.0%;0.0%"
