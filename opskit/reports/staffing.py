"""Workforce requirement: the workload model and Erlang C (DOMAIN.md, "Workforce requirement").

Workload model, per queue and week:
    required productive hours = forecast completed x AHT (hours) / target utilization
    required FTE = required productive hours / (paid hours per FTE per week x (1 - shrinkage))

Erlang C, for real-time channels: with A = arrivals per interval x AHT / interval length (in
Erlangs), the probability that a contact waits with N agents is C(N, A), and the service level is
SL = 1 - C(N, A) * exp(-(N - A) * T / AHT). The requirement is the smallest N with SL >= goal.
"""

from __future__ import annotations

import math


def required_hours(forecast_completed: float, aht_seconds: float, target_utilization: float) -> float | None:
    """Productive hours needed to complete the forecast at the target utilization."""
    if not target_utilization:
        return None
    return forecast_completed * aht_seconds / 3600 / target_utilization


def required_fte(required_productive_hours: float | None, paid_hours_per_fte: float, shrinkage: float) -> float | None:
    """FTE needed once shrinkage (training, meetings, absence, ...) is taken out of paid hours."""
    available = paid_hours_per_fte * (1 - shrinkage)
    if required_productive_hours is None or available <= 0:
        return None
    return required_productive_hours / available


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a contact has to wait, with ``agents`` agents and ``traffic`` Erlangs.

    Computed through the Erlang B recursion, B(k) = A*B(k-1) / (k + A*B(k-1)), which stays
    numerically stable for hundreds of agents where the factorial form overflows.
    """
    if traffic < 0 or agents < 0:
        raise ValueError("agents and traffic must not be negative")
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0  # the queue grows without bound: everyone waits
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def service_level(agents: int, traffic: float, answer_seconds: float, aht_seconds: float) -> float:
    """Share of contacts answered within ``answer_seconds`` (0 when the agents cannot keep up)."""
    if agents <= traffic:
        return 0.0 if traffic else 1.0
    wait = erlang_c(agents, traffic)
    return 1 - wait * math.exp(-(agents - traffic) * answer_seconds / aht_seconds)


def agents_for_service_level(
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    goal: float,
    answer_seconds: float,
    *,
    shrinkage: float = 0.0,
    max_agents: int = 100_000,
) -> int:
    """The smallest number of agents meeting ``goal`` (e.g. 0.8 answered in 20 s), then shrinkage.

    Args:
        arrivals: Contacts arriving per interval.
        interval_seconds: The interval length (1800 for half-hours).
        aht_seconds: Average handle time.
        goal: Service-level goal as a ratio (0.8 for 80%).
        answer_seconds: The answer-time threshold T.
        shrinkage: Share of paid time not available; the result is ceil(N / (1 - shrinkage)).
    """
    if not 0 < goal < 1:
        raise ValueError(f"service-level goal {goal!r} must be between 0 and 1 (exclusive)")
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage {shrinkage!r} must be at least 0 and below 1")
    if interval_seconds <= 0 or aht_seconds <= 0:
        raise ValueError("interval and AHT must be positive")
    traffic = arrivals * aht_seconds / interval_seconds
    agents = max(1, math.floor(traffic) + 1)
    while service_level(agents, traffic, answer_seconds, aht_seconds) < goal:
        agents += 1
        if agents > max_agents:
            raise ValueError(f"more than {max_agents} agents needed")
    return math.ceil(round(agents / (1 - shrinkage), 9))


def weekly_requirement(
    volume: float,
    aht_seconds: float,
    *,
    realtime: bool,
    target_utilization: float,
    paid_hours: float,
    shrinkage: float,
    service_goal: float,
    answer_seconds: float,
) -> tuple[float, str]:
    """Required FTE for a queue's weekly volume, and the model that gave it.

    Real-time queues (with volume and AHT) use Erlang C on half-hours, with the week's arrivals spread
    evenly over its 336 half-hours and the queue staffed 24/7 (168 hours); the others use the workload
    model. Both then take shrinkage out of the paid hours. A requirement that cannot be computed
    (zero target utilization, no available hours) is 0.

    Returns:
        (required FTE, "workload" or "Erlang C (<agents> agents 24/7)").
    """
    if realtime and volume and aht_seconds:
        agents = agents_for_service_level(volume / (7 * 48), 1800, aht_seconds, service_goal, answer_seconds)
        need = required_fte(agents * 168.0, paid_hours, shrinkage)
        return need or 0.0, f"Erlang C ({agents} agents 24/7)"
    need = required_fte(required_hours(volume, aht_seconds, target_utilization), paid_hours, shrinkage)
    return need or 0.0, "workload"
