"""Mix / rate / interaction attribution (DOMAIN.md)."""

from __future__ import annotations

import random

import pytest

from opskit.reports.attribution import attribute


def test_hand_computed_example():
    # AHT by queue: a 100 s, b 300 s. Volume moves from 50/50 to 25/75 and b gets 20 s slower.
    result = attribute({"a": (50, 100), "b": (50, 300)}, {"a": (25, 100), "b": (75, 320)})
    assert result.baseline == 200 and result.current == pytest.approx(265)
    assert result.mix == pytest.approx(-0.25 * 100 + 0.25 * 300)  # 50
    assert result.rate == pytest.approx(0.5 * 20)  # 10
    assert result.interaction == pytest.approx(0.25 * 20)  # 5
    assert result.total == pytest.approx(65)
    assert [s.segment for s in result.segments] == ["b", "a"]
    assert result.segments[0].share == pytest.approx((75 + 10 + 5) / 65)


def test_segment_in_one_period_only_is_all_mix():
    result = attribute({"a": (100, 200)}, {"a": (50, 200), "new": (50, 400)})
    new = next(s for s in result.segments if s.segment == "new")
    assert (new.rate, new.interaction) == (0, 0)
    assert new.mix == pytest.approx(0.5 * 400)
    gone = attribute({"a": (50, 200), "old": (50, 400)}, {"a": (10, 210)})
    old = next(s for s in gone.segments if s.segment == "old")
    assert old.mix == pytest.approx(-0.5 * 400) and old.rate == 0 and old.interaction == 0


def test_empty_period_gives_none():
    assert attribute({}, {"a": (1, 1)}) is None
    assert attribute({"a": (0, 5)}, {"a": (1, 1)}) is None


def test_identity_holds_on_random_data():
    rng = random.Random(20261116)
    for _ in range(300):
        segments = [f"s{i}" for i in range(rng.randint(1, 8))]
        before = {s: (rng.randint(1, 1000), rng.uniform(10, 900)) for s in segments if rng.random() < 0.8}
        after = {s: (rng.randint(1, 1000), rng.uniform(10, 900)) for s in segments if rng.random() < 0.8}
        result = attribute(before, after)
        if not before or not after:
            assert result is None
            continue
        assert result.mix + result.rate + result.interaction == pytest.approx(result.total, abs=1e-9)
        assert result.current - result.baseline == pytest.approx(result.total, abs=1e-9)
        assert sum(s.total for s in result.segments) == pytest.approx(result.total, abs=1e-9)
        sizes = [abs(s.total) for s in result.segments]
        assert sizes == sorted(sizes, reverse=True)
