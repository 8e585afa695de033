"""Command-line values read strictly: whole numbers, days and instants, each with its bounds.

argparse's ``type=int`` takes ``'٣'`` (Arabic-Indic three), ``' 5 '`` and ``'1_000'`` and no upper bound, and
``date.fromisoformat`` takes the year 1, whose day before overflows. These parsers accept ASCII digits only
and the years a period may touch (``opskit.period``), and raise ``UsageError`` (exit 2, one line).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date, datetime, tzinfo

from opskit.errors import UsageError
from opskit.period import FIRST_YEAR, LAST_YEAR

# `runner.py next` lists at most this many slots per job; more is cut with a note (documented in the README).
MAX_NEXT_COUNT = 1000
# `runner.py backfill` refuses a range with more slots than this (a minute job over a year is 525,600).
MAX_BACKFILL_SLOTS = 10_000


def whole_number(low: int = 0, high: int = 10**9) -> Callable[[str], int]:
    """An argparse ``type``: ASCII digits (and a leading '-' when ``low`` < 0) between ``low`` and ``high``.

    Its errors are ``ArgumentTypeError``, so argparse names the option ("argument --count: ...").
    """

    def parse(text: str) -> int:
        digits = text[1:] if text.startswith("-") and low < 0 else text
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
            raise argparse.ArgumentTypeError(f"'{short(text)}' is not a whole number")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range {low}-{high}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its own messages
    return parse


def day(text: str, option: str) -> date:
    """A ``YYYY-MM-DD`` day within the years periods may touch."""
    try:
        value = date.fromisoformat(text) if text.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise UsageError(f"{option} '{short(text)}' is not a date", hint="e.g. 2026-11-02")
    _check_year(value.year, option, text)
    return value


def moment(text: str, option: str, tz: tzinfo) -> datetime:
    """An ISO date and time, read in ``tz`` when it names no offset, within the years periods may touch."""
    try:
        value = datetime.fromisoformat(text) if text.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise UsageError(f"{option} '{short(text)}' is not a date and time", hint=f"e.g. {option} 2026-11-16T08:30")
    _check_year(value.year, option, text)
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _check_year(year: int, option: str, text: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise UsageError(f"{option} '{short(text)}' is outside the years {FIRST_YEAR} to {LAST_YEAR}")


def short(text: str, limit: int = 60) -> str:
    """Quote at most ``limit`` characters of what the user typed, and nothing that is not printable."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[:limit] + "..."


def clip_words(message: str, limit: int = 200) -> str:
    """A message with every run of more than ``limit`` non-blank characters cut: what a user typed (a
    5,000-character option) is quoted, not echoed whole; paths and sentences are far shorter."""
    return re.sub(rf"\S{{{limit + 1},}}", lambda m: m[0][:limit] + "...", message)
