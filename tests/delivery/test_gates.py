from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from opskit.config.gates import Gates
from opskit.delivery.gates import evaluate_gates
from opskit.errors import TaskError

NOW = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
COLUMNS = ["case_id", "queue_id", "completed_at", "handle_seconds"]


def facts(rows=1000, columns=COLUMNS, newest=NOW - timedelta(hours=2)):
    return {"rows": rows, "columns": columns, "newest": newest}


def test_all_checks_pass():
    gates = Gates(min_rows=100, max_rows=5000, max_drop=0.3, required_columns=["case_id"], max_age="26h")
    verdict = evaluate_gates(gates, facts(), {"rows": 1100}, now=NOW)
    assert verdict.action == "send" and verdict.deliver and verdict.failures == []
    assert [c.name for c in verdict.checks] == ["row_count", "row_drop", "columns", "freshness"]


@pytest.mark.parametrize(
    ("gates", "result", "previous", "failure"),
    [
        (Gates(min_rows=2000), facts(), None, "1,000 rows (expected at least 2,000)"),
        (Gates(min_rows=10, max_rows=500), facts(), None, "1,000 rows (expected 10..500)"),
        (
            Gates(max_drop=0.3),
            facts(rows=600),
            {"rows": 1000},
            "600 rows, 40% below the last good run's 1,000 (at most 30% fewer allowed)",
        ),
        (
            Gates(max_rise=1.0),
            facts(rows=2500),
            {"rows": 1000},
            "2,500 rows, +150% against the last good run's 1,000 (at most 100% more allowed)",
        ),
        (
            Gates(required_columns=["case_id", "decision", "vendor"]),
            facts(),
            None,
            "missing column(s): decision, vendor",
        ),
        (
            Gates(max_age="26h"),
            facts(newest=NOW - timedelta(hours=30)),
            None,
            "newest data is 30.0h old (at most 26h allowed)",
        ),
        (Gates(max_age="1d"), facts(newest=None), None, "no timestamp in the data to check freshness against"),
    ],
)
def test_a_failed_check_fails_by_default_and_says_why(gates, result, previous, failure):
    verdict = evaluate_gates(gates, result, previous, now=NOW)
    assert verdict.action == "fail" and not verdict.deliver
    assert verdict.failures == [failure]


def test_warn_sends_with_the_failures_as_banner_lines():
    verdict = evaluate_gates(Gates(max_drop=0.3, on_fail="warn"), facts(rows=600), {"rows": 1000}, now=NOW)
    assert verdict.action == "warn" and verdict.deliver
    assert verdict.failures == ["600 rows, 40% below the last good run's 1,000 (at most 30% fewer allowed)"]


def test_a_drop_within_the_limit_passes_and_no_previous_run_skips_the_check():
    assert evaluate_gates(Gates(max_drop=0.3), facts(rows=750), {"rows": 1000}, now=NOW).action == "send"
    verdict = evaluate_gates(Gates(max_drop=0.3), facts(rows=10), None, now=NOW)
    assert verdict.action == "send" and verdict.checks == []


@pytest.mark.parametrize(
    ("empty", "action", "deliver"), [("notice", "notice", True), ("skip", "skip", False), ("fail", "fail", False)]
)
def test_empty_result_follows_the_empty_policy(empty, action, deliver):
    gates = Gates(min_rows=100, max_drop=0.3, empty=empty)
    verdict = evaluate_gates(gates, facts(rows=0), {"rows": 1000}, now=NOW)
    assert (verdict.action, verdict.deliver) == (action, deliver)
    assert [c.name for c in verdict.checks] == ["empty"]


def test_verdict_is_json_serialisable_for_the_run_history():
    verdict = evaluate_gates(Gates(required_columns=["x"], on_fail="warn"), facts(), None, now=NOW)
    assert json.loads(json.dumps(verdict.to_dict())) == {
        "action": "warn",
        "checks": [{"name": "columns", "ok": False, "message": "missing column(s): x"}],
    }


def test_freshness_accepts_iso_strings_and_needs_now():
    gates = Gates(max_age="30m")
    assert evaluate_gates(gates, facts(newest=(NOW - timedelta(minutes=10)).isoformat()), now=NOW).action == "send"
    with pytest.raises(TaskError, match="gates: max_age needs `now` as an aware datetime"):
        evaluate_gates(gates, facts())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("26h", timedelta(hours=26)),
        ("2d", timedelta(days=2)),
        (90, timedelta(seconds=90)),
    ],
)
def test_max_age_accepts_what_analysts_write(value, expected):
    assert Gates(max_age=value).max_age == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_age": "soon"}, "'soon' is not a duration (use 30m, 26h or 2d)"),
        ({"min_rows": 10, "max_rows": 5}, "min_rows (10) is above max_rows (5)"),
        ({"max_drop": 30}, "less than or equal to 1"),
        ({"on_fail": "ignore"}, "Input should be 'fail' or 'warn'"),
        ({"empty": "send"}, "Input should be 'notice', 'skip' or 'fail'"),
        ({"min_row": 5}, "Extra inputs are not permitted"),
    ],
)
def test_bad_gate_settings_are_rejected(kwargs, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        Gates(**kwargs)


def test_rows_must_be_a_count():
    with pytest.raises(TaskError, match="gates: result facts need 'rows' as a count, got None"):
        evaluate_gates(Gates(), {"columns": []})
