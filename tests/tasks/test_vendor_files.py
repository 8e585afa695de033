"""vendor_consolidation meets vendor files it has never seen, and is never silently wrong (issue #12, §1).

Each file here is a real workbook or CSV a vendor could send: headers in other spellings, durations in
every form, a column nobody mapped, a file from nobody known, a file whose every row is bad. A value in
the source never becomes an empty cell without a named problem.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

ACME = {"vendors": {"Acme": {"files": ["acme*"]}}}
GOOD_HEADER = ["Date", "Mod ID", "Queue", "Cases", "Handling (sec)", "Productive hrs", "QA Audited", "QA Passed"]


def workbook(path: Path, header: list[str], rows: list[list], formats: dict[str, str] | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Daily"
    ws.append(header)
    for row in rows:
        ws.append(row)
    for cell, number_format in (formats or {}).items():
        ws[cell].number_format = number_format
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def folders(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    data = tmp_path / "data"
    inbox = data / "inbox" / "vendors"
    inbox.mkdir(parents=True)
    return data, inbox, data / "inbox" / "archive", data / "inbox" / "quarantine"


def sheet_rows(path: Path, sheet: str) -> list[dict]:
    ws = load_workbook(path)[sheet]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]


def run(make_ctx, run_task, data: Path, settings: dict | None = None, day: int = 16, **params):
    ctx = make_ctx(
        "vendor_consolidation",
        data,
        tz=UTC,
        scheduled_for=datetime(2026, 11, day, 7, tzinfo=UTC),
        vendor_reports=settings if settings is not None else ACME,
    )
    return run_task("vendor_consolidation", ctx=ctx, **params)


# ------------------------------------------------------------------------------ unmapped columns


def test_a_column_that_maps_to_nothing_quarantines_the_file_and_says_what_it_might_be(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    header = ["Date", "Mod ID", "Queue", "Cases", "Handel time (sec)", "Productive hrs", "QA Audited", "QA Passed"]
    workbook(inbox / "acme_1116.xlsx", header, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1]])
    result = run(make_ctx, run_task, data)
    s = result.summary
    assert (s["archived"], s["quarantined"], result.rows) == (0, 1, 0)
    assert not list(archive.iterdir()) and (quarantine / "acme_1116.xlsx").exists()
    reason = (quarantine / "acme_1116.xlsx.reason.txt").read_text()
    assert "column 'Handel time (sec)' maps to no field; did you mean handle_seconds?" in reason
    assert "expected column handle_seconds is missing; did you mean 'Handel time (sec)'?" in reason
    (files,) = sheet_rows(result.files[0], "Files")
    assert files["Status"] == "quarantined" and "did you mean handle_seconds?" in files["Reason"]
    assert sheet_rows(result.files[0], "Master") == []
    assert s["problems"][0]["where"] == "acme_1116.xlsx" and "Handel time" in s["problems"][0]["problem"]


@pytest.mark.parametrize("gate", ["warn", "ignore"])
def test_the_gate_can_merge_a_file_with_an_unmapped_column(tmp_path, make_ctx, run_task, gate):
    data, inbox, archive, _ = folders(tmp_path)
    header = [*GOOD_HEADER, "Shift lead"]
    workbook(inbox / "acme_1116.xlsx", header, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1, "Ana"]])
    result = run(make_ctx, run_task, data, {**ACME, "unknown_columns": gate})
    assert result.rows == 1 and (archive / "acme_1116.xlsx").exists()
    problems = [p["problem"] for p in result.summary["problems"]]
    (files,) = sheet_rows(result.files[0], "Files")
    assert "column 'Shift lead' maps to no field" in files["Reason"]  # said in the Files sheet either way
    if gate == "warn":
        assert problems == ["sheet 'Daily': column 'Shift lead' maps to no field"]
        assert "1 column problem(s)" in result.summary["headline"]
    else:
        assert problems == []


def test_ignored_columns_are_no_problem(tmp_path, make_ctx, run_task):
    data, inbox, _, _ = folders(tmp_path)
    workbook(
        inbox / "acme_1116.xlsx",
        [*GOOD_HEADER, "Shift lead"],
        [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1, "A"]],
    )
    result = run(make_ctx, run_task, data, {**ACME, "ignore_columns": ["shift lead"]})
    assert result.rows == 1 and result.summary["problems"] == []


# ------------------------------------------------------------------------------ aliases and durations

# The same day (4 cases, 90 s handling, 7.5 h productive, 45 min idle, 8 h logged in) as three vendors
# would write it: other headers, other units, text, Excel duration cells and day fractions.
LAYOUTS = {
    "seconds and hours": (
        [
            "Report Date",
            "Mod ID",
            "Queue",
            "Cases",
            "Handling (sec)",
            "Productive hrs",
            "Idle time",
            "Logged in (min)",
            "QA Audited",
            "QA Passed",
        ],
        ["2026-11-15", "M1", "q1", 4, 90, 7.5, "0:45:00", 480, 2, 1],
        {},
    ),
    "clock text and duration cells": (
        [
            "Date",
            "Agent ID",
            "Queue ID",
            "Handled",
            "Total handle time",
            "Logged productive (sec)",
            "Idle (min)",
            "Logged-in time",
            "QA Sampled",
            "QA Correct",
        ],
        [date(2026, 11, 15), "M1", "q1", 4, "1:30", "27,000", 45, timedelta(hours=8), 2, 1],
        {},
    ),
    "an average and day fractions": (
        [
            "Day",
            "Moderator",
            "Queue",
            "Tickets",
            "AHT (s)",
            "productive hours",
            "Idle Time",
            "Login Time",
            "Audits",
            "Audits OK",
        ],
        [date(2026, 11, 15), "M1", "q1", 4, 22.5, "7.5", time(0, 45), 1 / 3, 2, 1],
        {"H2": "[h]:mm:ss"},
    ),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_vendor_headers_and_durations_in_every_form_read_the_same(tmp_path, make_ctx, run_task, layout):
    data, inbox, _, _ = folders(tmp_path)
    header, row, formats = LAYOUTS[layout]
    workbook(inbox / "acme_1116.xlsx", header, [row], formats)
    result = run(make_ctx, run_task, data)
    assert result.summary["problems"] == [] and result.rows == 1, result.summary["files"]
    (merged,) = sheet_rows(result.files[0], "Master")
    assert merged["Moderator ID"] == "M1" and merged["Handled"] == 4 and merged["Vendor"] == "Acme"
    assert merged["Handle time (s)"] == 90
    assert merged["Productive time (s)"] == 27000
    assert merged["Idle time (s)"] == 2700
    assert merged["Logged-in time (s)"] == 28800


def test_a_value_that_is_no_duration_is_a_row_reject_naming_row_and_column(tmp_path, make_ctx, run_task):
    data, inbox, _, _ = folders(tmp_path)
    rows = [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1], [date(2026, 11, 15), "M2", "q1", 2, 90, "n/a", 0, 0]]
    workbook(inbox / "acme_1116.xlsx", GOOD_HEADER, rows)
    result = run(make_ctx, run_task, data)
    assert result.rows == 1 and result.summary["archived"] == 1
    (rejected,) = sheet_rows(result.files[1], "Rejected rows")
    assert (rejected["Row"], rejected["Column"]) == (3, "productive_seconds")
    assert rejected["Reason"].startswith("expected a duration") and "'n/a'" in rejected["Reason"]


# ------------------------------------------------------------------------------ outcomes


def test_a_file_whose_every_row_is_rejected_is_quarantined_and_the_fixed_file_is_merged(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    bad = [[date(2026, 11, 15), f"M{i}", "q1", -1, 300, 7.5, 1, 1] for i in range(3)]
    workbook(inbox / "acme_1116.xlsx", GOOD_HEADER, bad)
    first = run(make_ctx, run_task, data)
    assert first.summary["quarantined"] == 1 and first.summary["archived"] == 0 and first.rows == 0
    assert not list(archive.iterdir())
    reason = (quarantine / "acme_1116.xlsx.reason.txt").read_text()
    assert reason.startswith("every row was rejected (first: handled is empty or negative, row 2)")
    assert len(sheet_rows(first.files[1], "Rejected rows")) == 3  # the vendor sees every bad row

    fixed = [[date(2026, 11, 15), f"M{i}", "q1", 3, 300, 7.5, 1, 1] for i in range(3)]
    workbook(inbox / "acme_1116.xlsx", GOOD_HEADER, fixed)  # same name, new content
    second = run(make_ctx, run_task, data, day=17)
    assert second.summary["archived"] == 1 and second.rows == 3
    assert (archive / "acme_1116.xlsx").exists()

    # The identical file dropped again (a copy: two saves of the same rows differ in their saved-at times).
    shutil.copy(archive / "acme_1116.xlsx", inbox / "acme_1116_again.xlsx")
    third = run(make_ctx, run_task, data, day=18)
    (entry,) = third.summary["files"]
    assert third.rows == 0 and entry["status"] == "skipped"
    assert entry["reason"] == "already processed (same content as inbox/archive/acme_1116.xlsx)"


def test_an_unknown_vendor_is_a_named_problem_never_a_file_name_prefix(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    row = [date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1]
    workbook(inbox / "mystery_bpo_1116.xlsx", GOOD_HEADER, [row])
    workbook(inbox / "weekly_export.xlsx", ["Vendor", *GOOD_HEADER], [["Globex", *row]])  # says who it is from
    result = run(make_ctx, run_task, data)
    files = {f["file"]: f for f in result.summary["files"]}
    assert files["mystery_bpo_1116.xlsx"]["status"] == "quarantined"
    assert files["mystery_bpo_1116.xlsx"]["reason"].startswith("unknown vendor: no vendor_reports.vendors pattern")
    assert (quarantine / "mystery_bpo_1116.xlsx.reason.txt").exists()
    assert files["weekly_export.xlsx"]["status"] == "archived" and (archive / "weekly_export.xlsx").exists()
    assert [r["Vendor"] for r in sheet_rows(result.files[0], "Master")] == ["Globex"]
    assert "mystery" not in {r["Vendor"] for r in sheet_rows(result.files[0], "Master")}


def test_an_aliases_file_with_a_misspelt_field_names_file_and_line(tmp_path, make_ctx, run_task):
    from opskit.errors import DataError

    data, inbox, _, _ = folders(tmp_path)
    (data / "aliases.yaml").write_text("aliases:\n  moderator_id: [Mitarbeiter]\n  handle_secs: [Zeit]\n")
    with pytest.raises(DataError) as caught:
        run(make_ctx, run_task, data, aliases="aliases.yaml")
    assert str(caught.value).startswith("aliases.yaml:3: aliases.handle_secs: 'handle_secs' is not a vendor")
    assert "Did you mean 'handle_seconds'?" in str(caught.value)


# ------------------------------------------------------------------------------ files from the wild


def test_workbooks_from_the_wild_are_quarantined_with_a_reason_each_and_nothing_is_merged(tmp_path, make_ctx, run_task):
    """The shared corpus (Excel, LibreOffice, Google Sheets, Numbers, WPS, gnumeric files; encrypted,
    renamed .xls/.ods, a zip bomb of entities, bad CRCs): none is a vendor report, so none may be merged,
    and each is quarantined with one readable line."""
    from tests.shared import corpus

    data, inbox, archive, quarantine = folders(tmp_path)
    # the small ones: the large ones (175k cells, 50k merges) prove nothing more here and cost seconds
    files = sorted(p for p in corpus("xlsx").glob("*.xls*") if p.stat().st_size < 60_000)
    assert len(files) >= 35
    for p in files:
        (inbox / f"acme_{p.name}").write_bytes(p.read_bytes())
    result = run(make_ctx, run_task, data)
    s = result.summary
    assert result.rows == 0 and s["archived"] == 0 and not list(archive.iterdir())
    assert s["quarantined"] + s["skipped"] == len(files)
    for entry in s["files"]:
        assert entry["reason"] and "\n" not in entry["reason"] and "Traceback" not in entry["reason"], entry
        if entry["status"] == "quarantined":
            assert (quarantine / f"{entry['file']}.reason.txt").exists(), entry["file"]


def test_two_headers_for_one_field_are_a_problem_not_a_silently_dropped_column(tmp_path, make_ctx, run_task):
    data, inbox, _, quarantine = folders(tmp_path)
    header = [*GOOD_HEADER, "Handle secs"]  # "Handling (sec)" already gives handle_seconds
    workbook(inbox / "acme_1116.xlsx", header, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1, 310]])
    result = run(make_ctx, run_task, data)
    assert result.summary["quarantined"] == 1 and result.rows == 0
    reason = (quarantine / "acme_1116.xlsx.reason.txt").read_text()
    assert "column 'Handle secs' also maps to handle_seconds, which 'Handling (sec)' gives" in reason


def test_the_vendors_validation_report_lists_its_quarantined_files(tmp_path, make_ctx, run_task):
    """The validation report a vendor gets never says 0 problems while one of its files was quarantined."""
    data, inbox, _, _ = folders(tmp_path)
    workbook(inbox / "acme_good.xlsx", GOOD_HEADER, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1]])
    workbook(
        inbox / "acme_new.xlsx", [*GOOD_HEADER, "Escalations"], [[date(2026, 11, 16), "M1", "q1", 4, 3, 7, 1, 1, 2]]
    )
    result = run(make_ctx, run_task, data)
    report = next(f for f in result.files if f.name.startswith("validation_acme"))
    (problem,) = sheet_rows(report, "File problems")
    assert problem["File"] == "acme_new.xlsx" and problem["Status"] == "quarantined"
    assert "column 'Escalations' maps to no field" in problem["Reason"]
    summary = load_workbook(report)["Summary"]
    assert "File problems" in [c.value for row in summary.iter_rows() for c in row]


def test_a_missing_required_column_names_the_header_it_might_be(tmp_path, make_ctx, run_task):
    data, inbox, _, quarantine = folders(tmp_path)
    header = ["Date", "Mod ID", "Qeue", "Cases", "Handling (sec)", "Productive hrs", "QA Audited", "QA Passed"]
    workbook(inbox / "acme_1116.xlsx", header, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1]])
    result = run(make_ctx, run_task, data)
    assert result.summary["quarantined"] == 1
    reason = (quarantine / "acme_1116.xlsx.reason.txt").read_text()
    assert "lacks required column(s) queue_id" in reason and "did you mean 'Qeue' for queue_id?" in reason


def test_an_unmapped_column_without_a_value_loses_nothing_and_is_no_problem(tmp_path, make_ctx, run_task):
    data, inbox, archive, _ = folders(tmp_path)
    header = [*GOOD_HEADER, "Comments"]  # a header over empty cells: no value can be lost
    workbook(inbox / "acme_1116.xlsx", header, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1, None]])
    result = run(make_ctx, run_task, data)
    assert result.rows == 1 and result.summary["problems"] == [] and (archive / "acme_1116.xlsx").exists()


def test_each_problem_says_where_and_what_to_do(tmp_path, make_ctx, run_task):
    data, inbox, _, _ = folders(tmp_path)
    good = [date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1]
    workbook(inbox / "acme_a.xlsx", [*GOOD_HEADER, "Escalations"], [[*good, 3]])
    workbook(inbox / "acme_b.xlsx", GOOD_HEADER, [good, [date(2026, 11, 15), "M2", "q1", 4, 300, "n/a", 1, 1]])
    workbook(inbox / "nobody.xlsx", GOOD_HEADER, [good])
    problems = {p["where"]: p for p in run(make_ctx, run_task, data).summary["problems"]}
    assert "vendor_reports.aliases" in problems["acme_a.xlsx"]["fix"]
    assert "vendor_reports.vendors" in problems["nobody.xlsx"]["fix"]
    assert problems["Acme, 1 row"]["problem"].startswith("rejected (acme_b.xlsx row 3, productive_seconds): expected")


# ------------------------------------------------------------------------------ crashes lose no file


def test_merged_files_stay_in_the_inbox_when_the_master_cannot_be_written(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    workbook(inbox / "acme_a.xlsx", GOOD_HEADER, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1]])
    when = datetime(2026, 11, 16, 7, tzinfo=UTC)
    ctx = make_ctx("vendor_consolidation", data, tz=UTC, scheduled_for=when, vendor_reports=ACME)
    ctx.path("vendor_master_2026-11-16.xlsx").mkdir(parents=True)  # a folder where the master goes: the save fails
    with pytest.raises(OSError):
        run_task("vendor_consolidation", ctx=ctx)
    assert (inbox / "acme_a.xlsx").exists() and not list(archive.iterdir())  # read again by the next run


def test_two_files_with_the_same_content_in_one_run_are_merged_once(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    workbook(inbox / "acme_1116.xlsx", GOOD_HEADER, [[date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1]])
    shutil.copy(inbox / "acme_1116.xlsx", inbox / "acme_1116_copy.xlsx")
    result = run(make_ctx, run_task, data)
    files = {f["file"]: f for f in result.summary["files"]}
    assert result.rows == 1 and files["acme_1116.xlsx"]["status"] == "archived"
    assert files["acme_1116_copy.xlsx"]["status"] == "skipped"
    assert files["acme_1116_copy.xlsx"]["reason"] == "already processed (same content as inbox/archive/acme_1116.xlsx)"


# ------------------------------------------------------------------------------ where a table sits


def rejected_rows(result) -> list[tuple]:
    return [(r["File"], r["Row"], r["Column"], r["Reason"]) for r in sheet_rows(result.files[1], "Rejected rows")]


def test_a_blank_first_row_keeps_the_row_numbers_of_rejects(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    day = date(2026, 11, 15)
    wb = Workbook()
    ws = wb.active
    ws.append([])  # row 1 blank: the header is row 2
    ws.append(GOOD_HEADER)
    ws.append([day, "M1", "q1", 4, 300, 7.5, 1, 1])  # row 3
    ws.append([day, "M2", "q1", "ten", 300, 7.5, 1, 1])  # row 4: not a number
    ws.append([day, "M1", "q1", 4, 300, 7.5, 1, 1])  # row 5: duplicate of row 3
    wb.save(inbox / "acme_blank_top.xlsx")
    result = run(make_ctx, run_task, data)
    assert result.rows == 1 and result.summary["archived"] == 1
    rejects = rejected_rows(result)
    assert [(r[1], r[2]) for r in rejects] == [(4, "handled"), (5, "moderator_id")]
    assert rejects[1][3].startswith("duplicate of an earlier row")


def test_a_table_starting_at_c3_is_read_with_its_row_numbers(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    wb = Workbook()
    ws = wb.active
    rows = [
        GOOD_HEADER,
        [date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1],
        [date(2026, 11, 15), "M2", "q1", 4, 300, 7.5, 1, 9],  # row 5: more passes than samples
        [date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1],  # row 6: duplicate
    ]
    for r, values in enumerate(rows, start=3):
        for c, value in enumerate(values, start=3):
            ws.cell(r, c, value)
    wb.save(inbox / "acme_offset.xlsx")
    result = run(make_ctx, run_task, data)
    (merged,) = sheet_rows(result.files[0], "Master")
    assert (merged["Moderator ID"], merged["Handled"], merged["Productive time (s)"]) == ("M1", 4, 27000)
    assert [(r[1], r[2]) for r in rejected_rows(result)] == [(5, "qa_correct"), (6, "moderator_id")]


def test_a_merged_two_row_header_under_a_blank_row_is_read(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    day = date(2026, 11, 15)
    wb = Workbook()
    ws = wb.active
    ws.append([])
    ws.append(["Acme weekly report"])
    ws.append([])
    ws.append(["Date", "Mod ID", "Queue", "Cases", "Time", "", "QA", ""])  # row 4
    ws.append([None, None, None, None, "Handling (sec)", "Productive hrs", "QA Audited", "QA Passed"])  # row 5
    ws.merge_cells("E4:F4")
    ws.merge_cells("G4:H4")
    for col in "ABCD":
        ws.merge_cells(f"{col}4:{col}5")
    ws.append([day, "M1", "q1", 4, 300, 7.5, 1, 1])  # row 6
    ws.append([day, "M1", "q1", 4, 300, 7.5, 1, 1])  # row 7: duplicate
    wb.save(inbox / "acme_two_rows.xlsx")
    result = run(make_ctx, run_task, data)
    assert result.summary["archived"] == 1, result.summary["problems"]
    (merged,) = sheet_rows(result.files[0], "Master")
    assert (merged["Handle time (s)"], merged["Productive time (s)"], merged["QA sampled"]) == (300, 27000, 1)
    assert [(r[1], r[2]) for r in rejected_rows(result)] == [(7, "moderator_id")]


@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("cp1252", ","), ("utf-16", ","), ("utf-8", ";")], ids=["cp1252", "utf16", "semicolon"]
)
def test_a_csv_in_another_encoding_or_delimiter_names_its_duplicate_row(
    tmp_path, make_ctx, run_task, encoding, delimiter
):
    data, inbox, archive, quarantine = folders(tmp_path)
    lines = [
        ["Date", "Mod ID", "Queue", "Site", "Cases", "Handling (sec)", "Productive hrs", "QA Audited", "QA Passed"],
        ["15/11/2026", "M1", "q1", "São Paulo", "4", "300", "7", "1", "1"],
        ["15/11/2026", "M1", "q1", "São Paulo", "4", "300", "7", "1", "1"],  # line 3: duplicate
    ]
    text = "\r\n".join(delimiter.join(line) for line in lines) + "\r\n"
    (inbox / "acme_1116.csv").write_bytes(text.encode(encoding))
    result = run(make_ctx, run_task, data)
    assert result.rows == 1 and result.summary["archived"] == 1
    (merged,) = sheet_rows(result.files[0], "Master")
    assert merged["Site"] == "São Paulo"
    assert [(r[0], r[1], r[2]) for r in rejected_rows(result)] == [("acme_1116.csv", 3, "moderator_id")]


# ------------------------------------------------------------------------------ more than one sheet


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_another_sheet_with_rows_is_a_problem_of_the_file_not_silently_dropped(tmp_path, make_ctx, run_task, hidden):
    data, inbox, archive, quarantine = folders(tmp_path)
    wb = Workbook()
    kl = wb.active
    kl.title = "Site KL"
    kl.append(GOOD_HEADER)
    kl.append([date(2026, 11, 15), "M1", "q1", 4, 300, 7.5, 1, 1])
    mnl = wb.create_sheet("Site MNL")
    mnl.append(GOOD_HEADER)
    mnl.append([date(2026, 11, 15), "M2", "q1", 6, 300, 7.5, 1, 1])
    mnl.sheet_state = "hidden" if hidden else "visible"
    notes = wb.create_sheet("Notes")  # text without a table is no data left unread
    notes.append(["Figures are per moderator and day."])
    notes.append(["Questions: ops@acme.example"])
    wb.save(inbox / "acme_1116.xlsx")
    result = run(make_ctx, run_task, data)
    assert (result.summary["archived"], result.summary["quarantined"], result.rows) == (0, 1, 0)
    reason = (quarantine / "acme_1116.xlsx.reason.txt").read_text()
    assert reason == "sheet 'Site MNL' has 1 data row(s) that were not read\n"
    (problem,) = result.summary["problems"]
    assert problem["fix"].startswith("Put the rows of every sheet on one sheet")

    shutil.move(quarantine / "acme_1116.xlsx", inbox / "acme_1116.xlsx")  # the warn gate merges it, and says so
    warned = run(make_ctx, run_task, data, settings={**ACME, "unknown_columns": "warn"}, day=17)
    assert warned.summary["archived"] == 1 and warned.rows == 1
    assert "Site MNL" in warned.summary["problems"][0]["problem"]


# ------------------------------------------------------------------------------ the same rows twice in one run


def test_a_later_file_repeating_rows_merged_from_another_file_in_the_run_is_quarantined(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    day = date(2026, 11, 15)
    workbook(inbox / "acme_1116.xlsx", GOOD_HEADER, [[day, "M1", "q1", 4, 300, 7.5, 1, 1]])
    resent = [[day, "M1", "q1", 5, 300, 7.5, 1, 1], [day, "M2", "q1", 6, 300, 7.5, 1, 1]]
    workbook(inbox / "acme_1116_fixed.xlsx", GOOD_HEADER, resent)  # a corrected report beside the first
    workbook(inbox / "acme_1116_other_queue.xlsx", GOOD_HEADER, [[day, "M1", "q2", 3, 300, 7.5, 1, 1]])
    result = run(make_ctx, run_task, data)
    files = {f["file"]: f for f in result.summary["files"]}
    assert files["acme_1116.xlsx"]["status"] == files["acme_1116_other_queue.xlsx"]["status"] == "archived"
    assert files["acme_1116_fixed.xlsx"]["status"] == "quarantined"
    assert files["acme_1116_fixed.xlsx"]["reason"] == (
        "1 row(s) repeat rows already merged from acme_1116.xlsx in this run (first: 2026-11-15, M1, q1)"
    )
    assert (quarantine / "acme_1116_fixed.xlsx").exists()
    master = sheet_rows(result.files[0], "Master")
    assert sorted((r["Moderator ID"], r["Queue ID"], r["Handled"]) for r in master) == [
        ("M1", "q1", 4),
        ("M1", "q2", 3),
    ]
    assert result.summary["problems"][0]["where"] == "acme_1116_fixed.xlsx"


def test_subtotal_rows_labelled_in_the_moderator_column_are_not_merged(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    day = date(2026, 11, 15)
    header = ["Date", "Site", "Queue", "Mod ID", "Cases", "Handling (sec)", "Productive hrs", "QA Audited", "QA Passed"]
    rows = [
        [day, "KL", "q1", "M1", 10, 600, 1, 1, 1],
        [day, "KL", "q1", "M2", 20, 1200, 1, 2, 2],
        [day, "KL", "q1", "Subtotal", 30, 1800, 2, 3, 3],  # the date, site and queue of its group: only Mod ID says
        [None, None, None, "Grand Total", 30, 1800, 2, 3, 3],
    ]
    workbook(inbox / "acme_1116.xlsx", header, rows)
    result = run(make_ctx, run_task, data)
    assert result.summary["archived"] == 1 and result.rows == 2
    assert [r["Moderator ID"] for r in sheet_rows(result.files[0], "Master")] == ["M1", "M2"]
    assert result.summary["problems"] == []  # a totals row is no rejected row either


# ------------------------------------------------------------------------------ day order


def test_a_date_column_is_read_in_one_day_order_and_a_contradiction_is_a_row_reject(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    header = "Date,Mod ID,Queue,Cases,Handling (sec),Productive hrs,QA Audited,QA Passed\n"
    days = ["11/9/2026", "11/12/2026", "11/13/2026", "14/11/2026"]  # 11/13: month-first; 14/11 contradicts it
    body = "".join(f"{d},M{i},q1,4,300,7,1,1\n" for i, d in enumerate(days))
    (inbox / "acme_1116.csv").write_text(header + body, encoding="utf-8")
    result = run(make_ctx, run_task, data)  # the team's setting is dayfirst: true
    master = sheet_rows(result.files[0], "Master")
    assert [(r["Moderator ID"], r["Date"].date()) for r in master] == [
        ("M0", date(2026, 11, 9)),
        ("M1", date(2026, 11, 12)),  # not 11 December: the column is month-first
        ("M2", date(2026, 11, 13)),
    ]
    ((name, row, column, reason),) = rejected_rows(result)
    assert (name, row, column) == ("acme_1116.csv", 5, "date")
    assert reason == "date '14/11/2026' contradicts the column's other dates, which are month-first"


def test_a_vendor_s_own_day_order_reads_its_one_day_file(tmp_path, make_ctx, run_task):
    """A one-day file holds no date only one order can read: the vendor's own setting decides."""
    data, inbox, archive, quarantine = folders(tmp_path)
    header = "Date,Mod ID,Queue,Cases,Handling (sec),Productive hrs,QA Audited,QA Passed\n"
    (inbox / "acme_1105.csv").write_text(header + "11/05/2026,M1,q1,4,300,7,1,1\n", encoding="utf-8")
    (inbox / "globex_1105.csv").write_text(header + "05/11/2026,M2,q1,4,300,7,1,1\n", encoding="utf-8")
    settings = {"dayfirst": True, "vendors": {"Acme": {"files": ["acme*"], "dayfirst": False}, "Globex": "globex*"}}
    result = run(make_ctx, run_task, data, settings=settings)
    master = sheet_rows(result.files[0], "Master")
    assert sorted((r["Vendor"], r["Date"].date()) for r in master) == [
        ("Acme", date(2026, 11, 5)),  # month-first, as the US vendor writes
        ("Globex", date(2026, 11, 5)),
    ]


def test_a_workbook_with_a_stray_cell_far_out_is_quarantined_and_the_others_are_merged(tmp_path, make_ctx, run_task):
    """One note far right of a table would make the fast reader try to hold 82 million cells (and abort the
    whole process): the file is refused in one line, and the rest of the inbox goes on."""
    import zipfile

    data, inbox, archive, quarantine = folders(tmp_path)
    rows = [[date(2026, 11, 15), f"M{i}", "q1", 3, 300, 7.5, 1, 1] for i in range(3)]
    workbook(inbox / "acme_1116.xlsx", GOOD_HEADER, rows)
    plain = workbook(tmp_path / "plain.xlsx", GOOD_HEADER, rows)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(inbox / "acme_1117.xlsx", "w") as dst:
        for item in src.infolist():
            part = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                stray = b'<row r="5000"><c r="XFD5000" t="inlineStr"><is><t>checked</t></is></c></row>'
                part = part.replace(b"</sheetData>", stray + b"</sheetData>")
            dst.writestr(item, part)
    result = run(make_ctx, run_task, data)
    assert (result.summary["archived"], result.summary["quarantined"], result.rows) == (1, 1, 3)
    assert (archive / "acme_1116.xlsx").exists()
    reason = (quarantine / "acme_1117.xlsx.reason.txt").read_text()
    assert "used range of 5,000 rows by 16,384 columns" in reason and "and column XFD" in reason


def test_an_xls_file_is_quarantined_saying_how_to_send_it_again(tmp_path, make_ctx, run_task):
    data, inbox, archive, quarantine = folders(tmp_path)
    (inbox / "acme_1116.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)  # an OLE container
    result = run(make_ctx, run_task, data)
    assert result.summary["quarantined"] == 1
    assert (quarantine / "acme_1116.xls.reason.txt").read_text().strip() == (
        "not a workbook (.xls): an Excel 97-2003 file; open it in Excel and save it as .xlsx, "
        "or ask the vendor for .xlsx"
    )
