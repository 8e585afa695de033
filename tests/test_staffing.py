"""Workload model and Erlang C."""

from __future__ import annotations

import pytest

from opskit.reports.staffing import (
    agents_for_service_level,
    erlang_c,
    required_fte,
    required_hours,
    service_level,
)


def test_workload_model_by_hand():
    hours = required_hours(10_000, 180, 0.85)  # 10k cases x 3 min / 85%
    assert hours == pytest.approx(500 / 0.85)
    assert required_fte(hours, 40, 0.3) == pytest.approx(500 / 0.85 / 28)
    assert required_hours(1, 1, 0) is None and required_fte(10, 40, 1.0) is None


def test_erlang_c_published_worked_example():
    # Source: callcentrehelper.com, "Erlang C Formula - Made Simple With an Easy Worked Example":
    # 100 calls in 30 minutes, AHT 180 s (A = 10 Erlangs), 80% answered in 20 s. Its table:
    # 11 agents Pw 68.21% SL 39.0%; 12: 44.94% / 64.0%; 13: 28.53% / 79.6%; 14: 17.41% / 88.8%,
    # so 14 agents, and 20 once 30% shrinkage is allowed for.
    table = {11: (0.6821, 0.390), 12: (0.4494, 0.640), 13: (0.2853, 0.796), 14: (0.1741, 0.888)}
    for agents, (waits, level) in table.items():
        assert erlang_c(agents, 10) == pytest.approx(waits, abs=5e-5)
        assert service_level(agents, 10, 20, 180) == pytest.approx(level, abs=5e-4)
    assert agents_for_service_level(100, 1800, 180, 0.8, 20) == 14
    assert agents_for_service_level(100, 1800, 180, 0.8, 20, shrinkage=0.3) == 20


def test_erlang_c_edges():
    assert erlang_c(5, 5) == 1.0 and erlang_c(3, 0) == 0.0
    assert service_level(5, 6, 20, 180) == 0.0
    assert 0 < erlang_c(300, 280) < 1  # large N stays finite (no factorial overflow)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"goal": 1.0}, "service-level goal 1.0 must be between 0 and 1"),
        ({"shrinkage": 1.0}, "shrinkage 1.0 must be at least 0 and below 1"),
    ],
)
def test_bad_staffing_inputs(kwargs, message):
    args = {
        "arrivals": 100,
        "interval_seconds": 1800,
        "aht_seconds": 180,
        "goal": 0.8,
        "answer_seconds": 20,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        agents_for_service_level(**args)
