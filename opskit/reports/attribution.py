"""Why did a volume-weighted metric change? Mix, rate and interaction effects (DOMAIN.md).

For M = sum(w_i * m_i) with w_i the segment's share of volume, between a baseline (0) and a
current period (1):

    mix         = sum((w1_i - w0_i) * m0_i)   volume moved toward segments with another level
    rate        = sum(w0_i * (m1_i - m0_i))   the segments themselves got better or worse
    interaction = sum((w1_i - w0_i) * (m1_i - m0_i))

and mix + rate + interaction = M1 - M0 exactly. A segment present in only one period takes that
period's level for both (its weight is 0 in the other), so its whole effect is mix.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

Segments = Mapping[Any, tuple[float, float | None]]  # segment (any hashable key) -> (volume, metric)


@dataclass(frozen=True, slots=True)
class SegmentEffect:
    """One segment's part of the change; ``share`` is its total / the overall change."""

    segment: Hashable
    weight0: float
    weight1: float
    metric0: float | None
    metric1: float | None
    mix: float
    rate: float
    interaction: float
    total: float
    share: float | None


@dataclass(frozen=True, slots=True)
class Attribution:
    """The change M1 - M0 split into effects; ``segments`` sorted by absolute contribution."""

    baseline: float
    current: float
    total: float
    mix: float
    rate: float
    interaction: float
    segments: list[SegmentEffect]


def _present(segments: Segments) -> dict[Hashable, tuple[float, float]]:
    return {k: (float(v), float(m)) for k, (v, m) in segments.items() if v and v > 0 and m is not None}


def attribute(baseline: Segments, current: Segments) -> Attribution | None:
    """Split the change of a volume-weighted average metric into mix, rate and interaction.

    Args:
        baseline: segment -> (volume, metric) in the baseline period.
        current: segment -> (volume, metric) in the current period.

    Returns:
        The attribution, or None when either period has no volume (there is no average to compare).
    """
    before, after = _present(baseline), _present(current)
    volume0, volume1 = sum(v for v, _ in before.values()), sum(v for v, _ in after.values())
    if not volume0 or not volume1:
        return None
    effects = []
    for key in list(before) + [k for k in after if k not in before]:
        v0, m0 = before.get(key, (0.0, None))
        v1, m1 = after.get(key, (0.0, None))
        # _present keeps segments with a level, so at least one side has one: the other takes it (DOMAIN.md)
        level0 = m0 if m0 is not None else m1
        level1 = m1 if m1 is not None else m0
        assert level0 is not None and level1 is not None
        w0, w1 = v0 / volume0, v1 / volume1
        mix, rate = (w1 - w0) * level0, w0 * (level1 - level0)
        interaction = (w1 - w0) * (level1 - level0)
        effects.append((key, w0, w1, m0, m1, mix, rate, interaction))
    m_before = sum(w0 * m for (_, w0, _, m, _, *_rest) in effects if m is not None)
    m_after = sum(w1 * m for (_, _, w1, _, m, *_rest) in effects if m is not None)
    total = m_after - m_before
    segments = [
        SegmentEffect(
            key,
            w0,
            w1,
            m0,
            m1,
            mix,
            rate,
            inter,
            mix + rate + inter,
            (mix + rate + inter) / total if total else None,
        )
        for key, w0, w1, m0, m1, mix, rate, inter in effects
    ]
    segments.sort(key=lambda s: abs(s.total), reverse=True)
    return Attribution(
        m_before,
        m_after,
        total,
        sum(s.mix for s in segments),
        sum(s.rate for s in segments),
        sum(s.interaction for s in segments),
        segments,
    )
