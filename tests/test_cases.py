"""opskit.reports.scan reads case exports strictly: a malformed row is a DataError naming the line, never a
silently misfiled case or a traceback."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from opskit.errors import DataError
from opskit.reports.scan import NEEDED, scan_cases

WINDOW = {"current": (datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))}


def write(tmp_path, rows):
    path = tmp_path / "cases.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=NEEDED)
        writer.writeheader()
        for i, changes in enumerate(rows):
            row = {name: "" for name in NEEDED}
            row.update(
                case_id=str(i + 1),
                queue_id="q1",
                created_at="2026-11-10T10:00:00Z",
                completed_at="2026-11-10T11:00:00Z",
                moderator_id="m1",
                handle_seconds="60",
                qa_sampled="0",
                escalated="0",
                appealed="0",
                overturned="0",
            )
            row.update(changes)
            writer.writerow(row)
    return path


def test_a_good_export_is_read(tmp_path):
    scan = scan_cases([write(tmp_path, [{}, {}])], windows=WINDOW, tz=UTC)
    assert scan.rows == 2 and scan.overall("current").completed == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"created_at": "2026-11-10 10:00:00"}, "cases.csv, line 4: '2026-11-10 10:00:00' is not a UTC ISO 8601 time"),
        (
            {"completed_at": "2026-11-10T11:00:00+01:00"},
            "cases.csv, line 4: '2026-11-10T11:00:00+01:00' is not a UTC ISO 8601 time",
        ),
        ({"handle_seconds": "n/a"}, "cases.csv, line 4: handle_seconds 'n/a' is not a number"),
    ],
)
def test_a_malformed_row_anywhere_is_named(tmp_path, bad, message):
    path = write(tmp_path, [{}, {}, bad])
    with pytest.raises(DataError) as caught:
        scan_cases([path], windows=WINDOW, tz=UTC)
    assert str(caught.value).startswith(message)
