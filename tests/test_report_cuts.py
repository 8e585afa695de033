"""Report rows against DOMAIN.md where a reading could go wrong: a target's direction, workload targets,
UPH per vendor and site (productive time summed per cut, moderators placed by the moderator table), and
a case listed twice in one export."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from opskit.errors import DataError
from opskit.reports import cut_rows, misses, productive_by, read_moderators, read_queues, read_shifts, read_targets
from opskit.reports.inputs import targets_for
from opskit.reports.scan import scan_cases
from opskit.reports.vendor import case_export_rows
from tests.test_cases import write as export  # a case export: each row completed on 10 Nov by m1

WINDOW = {"current": (datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))}
HOURS_8 = 8 * 3600


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def targets(tmp_path, text):
    return targets_for(read_targets(write(tmp_path, "targets.csv", text)), "2026-W46", date(2026, 11, 15))


def test_a_target_is_judged_by_its_metric_s_direction_whatever_the_row_says(tmp_path):
    # AHT 80 s against 100 s is met (lower is better: 100 / 80 = 1.25), with no direction given or the wrong one
    scan = scan_cases([export(tmp_path, [{"handle_seconds": "80"}])], windows=WINDOW, tz=UTC)
    for direction in ("", "higher_is_better", "lower_is_better"):
        goals = targets(tmp_path, f"period,level,key,metric,value,direction\n,global,all,aht,100,{direction}\n")
        rows = cut_rows(scan, "current", "all", targets=goals, sla=False, productive=None)
        assert rows[0]["aht"] == 80 and rows[0]["aht_target"] == 100
        assert misses(rows, "all", goals) == [], direction
    goals = targets(tmp_path, "period,level,key,metric,value\n,global,all,aht,60\n")  # 60 / 80 = 0.75: missed
    (miss,) = misses(cut_rows(scan, "current", "all", targets=goals, sla=False, productive=None), "all", goals)
    assert (miss["metric"], miss["direction"], miss["attainment"]) == ("AHT (s)", "lower_is_better", 0.75)


def test_workload_is_never_a_missed_target(tmp_path):
    scan = scan_cases([export(tmp_path, [{}] * 5)], windows=WINDOW, tz=UTC)
    goals = targets(tmp_path, "level,key,metric,value,direction\nglobal,all,completed,10,higher_is_better\n")
    rows = cut_rows(scan, "current", "all", targets=goals, sla=False, productive=None)
    assert rows[0]["completed"] == 5 and rows[0]["completed_target"] == 10  # shown beside it
    assert misses(rows, "all", goals) == []  # neutral (DOMAIN.md): no good or bad side


def test_uph_sums_productive_time_per_cut_and_places_moderators_by_the_moderator_table(tmp_path):
    # Kestrel is a vendor and, by chance, a site; m3 (Kestrel) worked a shift but closed no case this week
    cases = [{"moderator_id": "m1", "vendor": "Kestrel", "site": "Kestrel"}] * 8
    cases += [{"moderator_id": "m2", "vendor": "Atlas", "site": "Lisbon"}] * 4
    scan = scan_cases([export(tmp_path, cases)], windows=WINDOW, tz=UTC)
    shifts = write(
        tmp_path,
        "shifts.csv",
        f"moderator_id,date,productive_seconds\nm1,2026-11-10,{HOURS_8}\nm2,2026-11-10,{HOURS_8}\n"
        f"m3,2026-11-10,{HOURS_8}\nm1,2026-11-20,{HOURS_8}\n",  # the last is outside the week
    )
    worked = read_shifts(shifts, date(2026, 11, 9), date(2026, 11, 15))

    def uph(productive, dim):
        return {
            r["key"]: r["uph"] for r in cut_rows(scan, "current", dim, targets={}, sla=False, productive=productive)
        }

    without = productive_by(scan, worked)  # m3 is unknown without the table: "(unassigned)"
    assert uph(without, "vendor") == {"Kestrel": 1.0, "Atlas": 0.5}  # 8 cases / 8 h; never 16 h for Kestrel
    assert uph(without, "site") == {"Kestrel": 1.0, "Lisbon": 0.5}
    assert without["vendor"]["(unassigned)"] == without["site"]["(unassigned)"] == HOURS_8
    assert uph(without, "all") == {"all": 12 / 24}  # every shift counts overall

    table = write(tmp_path, "moderators.csv", "moderator_id,vendor,site,tenure_days\nm3,Kestrel,Kestrel,40\n")
    roster = read_moderators(table)
    assert roster == {"m3": ("Kestrel", "Kestrel")}
    placed = productive_by(scan, worked, roster)
    assert uph(placed, "vendor") == {"Kestrel": 0.5, "Atlas": 0.5}  # 8 cases over m1's and m3's 16 h
    assert uph(placed, "site") == {"Kestrel": 0.5, "Lisbon": 0.5}
    assert "(unassigned)" not in placed["vendor"]


def test_a_case_listed_twice_in_one_export_counts_once(tmp_path):
    rows = [{"handle_seconds": "100", "vendor": "Atlas"}, {"handle_seconds": "60", "vendor": "Atlas"}]
    rows.append({"case_id": "2", "handle_seconds": "60", "vendor": "Atlas"})  # a page boundary repeated it
    path = export(tmp_path, rows)
    totals = scan_cases([path], windows=WINDOW, tz=UTC).overall("current")
    assert (totals.incoming, totals.completed) == (2, 2)
    assert totals.metrics(sla=False)["aht"] == 80.0
    reference = case_export_rows(path, UTC)  # what reconciliation compares the vendors' reports with
    assert [r["handle_seconds"] for r in reference] == [100.0, 60.0]


def test_the_reconciliation_reference_names_a_missing_column_or_a_bad_row(tmp_path):
    path = export(tmp_path, [{"vendor": "Atlas"}, {"vendor": "Atlas", "handle_seconds": "n/a"}])
    with pytest.raises(DataError, match=r"^cases.csv, row 3: handle_seconds 'n/a' is not a number"):
        case_export_rows(path, UTC)
    path.write_text("case_id,completed_at\n1,2026-11-10T11:00:00Z\n")
    with pytest.raises(DataError, match=r"^cases.csv: missing column\(s\) vendor, site, moderator_id"):
        case_export_rows(path, UTC)


@pytest.mark.parametrize(
    ("reader", "text", "message"),
    [
        (
            read_queues,
            "queue_id,sla_hours\nq1,24\nq2,one day\n",
            "queues.csv, row 3: sla_hours 'one day' is not a number",
        ),
        (read_targets, "level,key,metric,value\nglobal,all,aht,\n", "targets.csv, row 2: value '' is not a number"),
        (
            lambda p: read_shifts(p, date(2026, 11, 9), date(2026, 11, 15)),
            "moderator_id,date,productive_seconds\nm1,10/11/2026,3600\n",
            "shifts.csv, row 2: date '10/11/2026' is not a date (YYYY-MM-DD)",
        ),
    ],
)
def test_a_side_input_s_bad_cell_is_named_not_a_traceback(tmp_path, reader, text, message):
    name = message.split(",")[0]
    with pytest.raises(DataError) as caught:
        reader(write(tmp_path, name, text))
    assert str(caught.value).startswith(message)


def test_a_side_input_that_is_not_utf8_is_named_with_its_line(tmp_path):
    path = tmp_path / "queues.csv"
    path.write_bytes("queue_id,sla_hours\nq1,24\nqueue-ü,12\n".encode("cp1252"))
    with pytest.raises(DataError) as caught:
        read_queues(path)
    assert str(caught.value).startswith("queues.csv, line 3: not UTF-8 text")


def test_a_staffing_plan_is_read_whole_with_weeks_as_labels_or_days(tmp_path):
    from openpyxl import Workbook

    from opskit.reports import read_staffing

    wb = Workbook()
    ws = wb.active
    ws.append(["Staffing plan, Lumen BPO"])  # a title: the table starts on row 3
    ws.append([])
    ws.append(["week", "vendor", "queue_id", "fte"])
    ws.append(["2026-W49", "Lumen", "q1", 12.5])
    ws.append([datetime(2026, 11, 30), "Lumen", "q2", "1,250"])  # a day of the week, thousands separator
    ws.append(["2026-w49", "Atlas", "q1", 2])
    wb.save(tmp_path / "staffing.xlsx")
    assert read_staffing(tmp_path / "staffing.xlsx") == {("2026-W49", "q1"): 14.5, ("2026-W49", "q2"): 1250.0}

    ws.append(["2026-W49", "Atlas", "q3", "#N/A"])  # row 7: an Excel error is no FTE, never a row left out
    wb.save(tmp_path / "staffing.xlsx")
    with pytest.raises(DataError, match=r"^staffing.xlsx, row 7: fte: cell holds the Excel error #N/A"):
        read_staffing(tmp_path / "staffing.xlsx")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("week;queue_id;fte\n2026-W49;q1;12,5\n", "staffing.csv, row 2: fte '12,5' is not a number"),
        ("week,queue_id,fte\nW49,q1,3\n", "staffing.csv, row 2: week 'W49' is not an ISO week (2026-W49) or a date"),
        ("week,queue_id,fte\n2026-W49,q1,nan\n", "staffing.csv, row 2: fte 'nan' is not a number"),
    ],
)
def test_a_staffing_plan_s_bad_cell_is_named(tmp_path, text, message):
    from opskit.reports import read_staffing

    with pytest.raises(DataError) as caught:
        read_staffing(write(tmp_path, "staffing.csv", text))
    assert str(caught.value).startswith(message)


def test_a_semicolon_csv_side_input_is_read(tmp_path):
    assert read_queues(write(tmp_path, "queues.csv", "queue_id;sla_hours\nq1;24\nq2;1,000\n")) == {
        "q1": 24.0,
        "q2": 1000.0,
    }


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_telling_a_case_export_from_a_vendor_csv_reads_any_encoding(tmp_path, encoding):
    from opskit.reports.vendor import is_case_export

    path = tmp_path / "lumen.csv"
    path.write_bytes("Date,Agent,Queue,Handled\n03/11/2026,Jürgen,Q1,4\n".encode(encoding))
    assert is_case_export(path) is False
    path.write_bytes("case_id,queue_id,completed_at\n1,q1,2026-11-10T11:00:00Z\n".encode("utf-8-sig"))
    assert is_case_export(path) is True


def test_a_blank_vendor_in_the_moderator_table_falls_back_to_the_case_rows(tmp_path):
    scan = scan_cases(
        [export(tmp_path, [{"moderator_id": "m1", "vendor": "Lumen", "site": "Lisbon"}])], windows=WINDOW, tz=UTC
    )
    placed = productive_by(scan, {"m1": 3600.0, "m2": 3600.0}, {"m1": ("", ""), "m2": ("Atlas", "")})
    assert placed["vendor"] == {"Lumen": 3600.0, "Atlas": 3600.0}
    assert placed["site"] == {"Lisbon": 3600.0, "(unassigned)": 3600.0}


def test_a_case_first_listed_open_counts_as_open_in_the_report_and_in_reconciliation(tmp_path):
    rows = [{"completed_at": ""}, {"vendor": "Atlas"}]
    rows[1]["case_id"] = "1"  # the same case, completed, further down the export: the first row wins in both
    path = export(tmp_path, rows)
    assert scan_cases([path], windows=WINDOW, tz=UTC).overall("current").completed == 0
    assert case_export_rows(path, UTC) == []


def test_an_excel_error_in_a_column_a_side_input_does_not_use_is_kept(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["queue_id", "sla_hours", "owner"])
    ws.append(["q1", 24, "#N/A"])  # a VLOOKUP that found no owner
    ws.append(["q2", 48, "Ana"])
    wb.save(tmp_path / "queues.xlsx")
    assert read_queues(tmp_path / "queues.xlsx") == {"q1": 24.0, "q2": 48.0}
    ws["B3"] = "#N/A"
    wb.save(tmp_path / "queues.xlsx")
    with pytest.raises(DataError, match=r"^queues.xlsx, row 3: sla_hours: cell holds the Excel error #N/A"):
        read_queues(tmp_path / "queues.xlsx")
