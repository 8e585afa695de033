"""How numbers read in an email: one format per kind of value, and changes told by the metric's direction.

Every number an email or document shows goes through ``value`` (a template's ``fmt`` filter), so one
kind of value reads the same everywhere:

========== =============================== ==========================================================
kind       example                          rule
========== =============================== ==========================================================
num        ``184,233`` / ``12.5``          whole numbers with thousands separators; one decimal otherwise
pct        ``93.5%``                       a ratio shown as a percentage, one decimal
duration   ``3m 12s``, ``1h 05m``           seconds as a short duration
rate       ``61.8``, ``0.29``              one decimal; two below 1 (0.29 FTE is not 0.3)
fte        ``6.0``, ``0.29``               as rate (full-time equivalents)
hours      ``25.4 h``                      hours with one decimal and the unit
currency   ``EUR 1,234.50``                two decimals after the summary's ``currency`` code
========== =============================== ==========================================================

Where two numbers are set side by side (an actual and its target, supply and demand), ``pair``
adds decimals until two different numbers no longer print alike: "1.23 vs 1.18", never "1.2 vs 1.2"
in red. Directions: ``higher_is_better``, ``lower_is_better`` and ``neutral`` (workload such as
incoming, completed and backlog: its change is never coloured good or bad).
"""

from __future__ import annotations

import math
from typing import Any

from opskit.errors import TaskError

VALUE_KINDS = ("num", "pct", "duration", "rate", "fte", "hours", "currency")
DIRECTIONS = ("higher_is_better", "lower_is_better", "neutral")
# decimals each kind starts with, for the kinds whose decimals ``pair`` may raise
BASE_DECIMALS = {"pct": 1, "rate": 1, "fte": 1, "hours": 1, "currency": 2, "num": 0}
MAX_EXTRA_DECIMALS = 2


def missing(value: Any) -> bool:
    """None or NaN: a ratio over zero, shown as "n/a"."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: Any, digits: int = 0) -> str:
    """1234567 -> "1,234,567"; ``digits`` decimals; None -> "n/a"."""
    if missing(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def pct(value: Any, digits: int = 1) -> str:
    """A ratio as a percentage: 0.9345 -> "93.5%"; None -> "n/a"."""
    if missing(value):
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def duration(seconds: Any) -> str:
    """Seconds as a short duration: 45 -> "45s", 192 -> "3m 12s", 3900 -> "1h 05m"."""
    if missing(seconds):
        return "n/a"
    total = round(float(seconds))
    sign, total = ("-", -total) if total < 0 else ("", total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def _decimals(value: float, kind: str) -> int:
    base = BASE_DECIMALS.get(kind, 0)
    if kind == "num":
        return 0 if float(value).is_integer() else 1
    if kind in ("rate", "fte") and value != 0 and abs(value) < 1:
        return 2  # 0.29 FTE is not "0.3"
    return base


def value(v: Any, kind: str = "num", digits: int | None = None, currency: str | None = None) -> str:
    """One value as the email shows its kind (module docstring); None -> "n/a".

    Args:
        digits: Decimals to use instead of the kind's own (``pair`` raises them to break ties).
        currency: The currency code shown before a currency amount.
    """
    if kind not in VALUE_KINDS:
        raise TaskError(f"unknown value kind {kind!r} (use {', '.join(VALUE_KINDS)})")
    if missing(v):
        return "n/a"
    if kind == "duration":
        return duration(v)
    places = _decimals(v, kind) if digits is None else digits
    if kind == "pct":
        return pct(v, places)
    text = f"{v:,.{places}f}"
    if kind == "hours":
        return f"{text} h"
    if kind == "currency":
        return f"{currency} {text}" if currency else text
    return text


def pair(a: Any, b: Any, kind: str = "num", currency: str | None = None) -> tuple[str, str]:
    """Two values side by side with enough decimals that different numbers print differently.

    1.23 and 1.18 as rates are "1.23" and "1.18" (one decimal would print "1.2" twice); at most two
    decimals more than the kind's own. Equal numbers, durations and missing values print as ``value``.
    """
    if missing(a) or missing(b) or kind == "duration" or a == b:
        return value(a, kind, currency=currency), value(b, kind, currency=currency)
    places = max(_decimals(a, kind), _decimals(b, kind))
    for extra in range(MAX_EXTRA_DECIMALS + 1):
        left = value(a, kind, places + extra, currency)
        right = value(b, kind, places + extra, currency)
        if left != right:
            return left, right
    return left, right


def _format_change(change: float, kind: str) -> str:
    size = abs(change)
    if kind == "pct":
        return f"{size * 100:.1f}%"
    if kind == "pp":
        return f"{size * 100:.1f} pp"
    if kind == "duration":
        return duration(size)
    if kind == "num":
        return num(size, 0 if float(size).is_integer() else 1)
    raise TaskError(f"delta: unknown kind {kind!r} (use pct, pp, num or duration)")


def delta_parts(change: Any, direction: str = "higher_is_better", kind: str = "pct") -> tuple[str, str]:
    """(text, verdict) for a change: ("▲ 5.2%", "better" | "worse" | "flat" | "neutral" | "n/a").

    A neutral metric (workload) changes without a verdict: more incoming cases are neither good nor bad.
    """
    if direction not in DIRECTIONS:
        raise TaskError(f"delta: direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if missing(change):
        return "n/a", "n/a"
    if change == 0:
        return f"= {_format_change(0, kind)}", "flat"
    arrow = "▲" if change > 0 else "▼"
    text = f"{arrow} {_format_change(change, kind)}"
    if direction == "neutral":
        return text, "neutral"
    better = (change > 0) == (direction == "higher_is_better")
    return text, "better" if better else "worse"
