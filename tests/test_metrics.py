"""DOMAIN.md metrics against small examples computed by hand."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from opskit.reports import metrics as m

T0 = datetime(2026, 11, 16)


def case(created_h, completed_h=None, **fields):
    return {
        "created_at": T0 + timedelta(hours=created_h),
        "completed_at": None if completed_h is None else T0 + timedelta(hours=completed_h),
        **fields,
    }


CASES = [
    case(0, 2, handle_seconds=100, queue_id="a", qa_sampled=True, qa_correct=True, escalated=True),
    case(
        1,
        5,
        handle_seconds=200,
        queue_id="a",
        qa_sampled=True,
        qa_correct=False,
        appealed=True,
        overturned=True,
    ),
    case(3, 30, handle_seconds=300, queue_id="b", qa_sampled=True, qa_correct=None, appealed=True),
    case(4, handle_seconds=50, queue_id="b"),
    case(26, handle_seconds=10, queue_id="b"),
]


def test_incoming_completed_backlog_and_oldest_age():
    day = (T0, T0 + timedelta(days=1))
    assert m.incoming(CASES, *day) == 4
    assert m.completed(CASES, *day) == 2
    assert m.completed(CASES) == 3
    at = T0 + timedelta(hours=4)
    assert m.backlog(CASES, at) == 3  # created 1 h (done 5 h), 3 h and 4 h; 0 h was done at 2 h
    assert m.oldest_age_hours(CASES, at) == 3.0
    assert m.oldest_age_hours(CASES, T0 - timedelta(hours=1)) is None


def test_aht_accuracy_escalation_overturn():
    assert m.aht(CASES) == 200.0  # (100 + 200 + 300) / 3 completed
    assert m.aht(CASES, T0, T0 + timedelta(days=1)) == 150.0
    assert m.accuracy(CASES) == 0.5  # one correct of two graded; the None is not graded
    assert m.escalation_rate(CASES) == pytest.approx(1 / 3)
    assert m.overturn_rate(CASES) == 0.5


def test_sla_attainment_with_per_queue_sla():
    assert m.sla_attainment(CASES, {"a": 3, "b": 24}) == pytest.approx(1 / 3)  # 2 h ok; 4, 27 late
    assert m.sla_attainment(CASES, {"a": 3}) == pytest.approx(1 / 3)  # queue b has no SLA
    assert m.sla_attainment(CASES, 4) == pytest.approx(2 / 3)  # TATs 2, 4, 27 hours


def test_uph_utilization_shrinkage():
    shifts = [
        {"scheduled_seconds": 28800, "productive_seconds": 21600},
        {"scheduled_seconds": 28800, "productive_seconds": 25200},
    ]
    scheduled, productive = m.shift_totals(shifts)
    assert m.uph_from_rows(CASES, shifts) == pytest.approx(3 / 13)
    assert m.utilization(600, productive) == pytest.approx(600 / 46800)
    assert m.shrinkage(scheduled, productive) == pytest.approx(10800 / 57600)


@pytest.mark.parametrize(
    ("values", "q", "expected"),  # checked against Excel PERCENTILE.INC
    [
        ([1, 2, 3, 4], 0.5, 2.5),
        ([1, 2, 3, 4], 0.9, 3.7),
        ([15, 20, 35, 40, 50], 0.4, 29.0),
        ([7], 0.9, 7),
        ([3, 1, 2], 0, 1),
        ([3, 1, 2], 1, 3),
    ],
)
def test_percentile_inc_matches_excel(values, q, expected):
    assert m.percentile_inc(values, q) == pytest.approx(expected)


def test_tat_percentiles():
    assert m.tat_percentile(CASES, 0.5) == 4.0
    assert m.tat_percentile(CASES, 0.9) == pytest.approx(4 + 0.8 * 23)


@pytest.mark.parametrize(
    ("actual", "target", "direction", "expected"),
    [
        (0.9, 0.95, "higher_is_better", 0.9 / 0.95),
        (180, 200, "lower_is_better", 200 / 180),
        (220, 200, "lower_is_better", 200 / 220),
        (None, 1, "higher_is_better", None),
        (1, 0, "higher_is_better", None),
        (0, 200, "lower_is_better", None),
    ],
)
def test_target_attainment_is_direction_aware(actual, target, direction, expected):
    result = m.target_attainment(actual, target, direction)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_target_attainment_refuses_unknown_direction():
    with pytest.raises(ValueError, match="direction must be higher_is_better, lower_is_better or neutral, not 'up'"):
        m.target_attainment(1, 1, "up")


@pytest.mark.parametrize(
    "call",
    [
        lambda: m.aht([]),
        lambda: m.accuracy([]),
        lambda: m.sla_attainment([], 4),
        lambda: m.escalation_rate([]),
        lambda: m.overturn_rate([]),
        lambda: m.uph(5, 0),
        lambda: m.utilization(5, 0),
        lambda: m.shrinkage(0, 0),
        lambda: m.tat_percentile([], 0.5),
        lambda: m.change(5, 0),
        lambda: m.ratio(1, None),
    ],
)
def test_empty_denominators_give_none(call):
    assert call() is None


def test_change_week_over_week():
    assert m.change(218, 200) == pytest.approx(0.09)
    assert m.change(-5, -10) == pytest.approx(0.5)


def test_accumulator_groups_sums_and_counts():
    acc = m.Accumulator(
        key=lambda r: r["queue_id"],
        sums=("handle_seconds",),
        counts={"completed": lambda r: r["completed_at"] is not None},
    )
    acc.update(CASES)
    assert acc.totals("a") == {"n": 2, "handle_seconds": 300, "completed": 2}
    assert acc.ratio("b", "handle_seconds", "completed") == 360.0
    assert acc.ratio("zzz", "handle_seconds", "completed") is None
    assert acc.overall()["n"] == 5 and sorted(acc) == ["a", "b"] and len(acc) == 2


def test_accumulator_agrees_with_the_plain_functions_on_random_data():
    rng = random.Random(7)
    rows = [
        case(
            rng.randint(0, 100),
            rng.choice([None, rng.randint(100, 200)]),
            handle_seconds=rng.randint(1, 900),
            queue_id=rng.choice("xyz"),
        )
        for _ in range(500)
    ]
    acc = m.Accumulator(
        key=lambda r: r["queue_id"],
        sums=("done_seconds",),
        counts={"completed": lambda r: r["completed_at"] is not None},
    )
    acc.update({**r, "done_seconds": r["handle_seconds"] if r["completed_at"] else 0} for r in rows)
    for queue in "xyz":
        expected = m.aht([r for r in rows if r["queue_id"] == queue])
        assert acc.ratio(queue, "done_seconds", "completed") == pytest.approx(expected)
