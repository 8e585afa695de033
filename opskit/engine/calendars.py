"""Business-day calendars: weekends, public holidays per market, and company exceptions.

A ``Calendar`` answers the questions an operations timetable asks: is this date a business day,
which holiday is it, and which date is the Nth business day of a month. Public holidays come from
the ``holidays`` library (country codes such as DE, US, BR, ID, CN, TW, HK, GB, and financial
markets such as NYSE), optionally narrowed to a subdivision (``DE`` + ``BY`` for Bavaria).
``extra_holidays`` adds company closures; ``extra_workdays`` marks dates that are worked even
though they are a weekend or holiday (a make-up Saturday).

``holidays`` takes ~95 ms to import, so it is imported only when a calendar with a market is
built: ``runner.py list`` must start in under 0.3 s.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from opskit.errors import ConfigError, did_you_mean

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DEFAULT_WEEKEND = (5, 6)
_EXAMPLE_MARKETS = "DE, US, GB, BR, ID, CN, TW, HK (ISO country codes) or NYSE"


@dataclass(frozen=True, slots=True)
class Calendar:
    """Which dates are business days for one market.

    Args:
        market: ISO country code (``"DE"``) or financial market (``"NYSE"``), case-insensitive;
            ``None`` for weekends only.
        subdiv: A subdivision of the market (``"BY"``, ``"CA"``) whose regional holidays count too.
        extra_holidays: Company closures on top of the public holidays.
        extra_workdays: Dates worked even though they fall on a weekend or holiday; they win
            over everything else.
        weekend: Weekday numbers (Monday = 0) that are not worked; ``None`` takes the market's
            own weekend from the holidays library (Saturday and Sunday almost everywhere, Friday
            and Saturday in IL, Sunday only in HK).

    Raises:
        ConfigError: The market or subdivision is unknown (with a did-you-mean hint).
    """

    market: str | None = None
    subdiv: str | None = None
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()
    weekend: tuple[int, ...] | None = None
    _holidays: Any = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise through object.__setattr__, as dataclasses document.
        set_ = object.__setattr__
        set_(self, "extra_holidays", tuple(self.extra_holidays))
        set_(self, "extra_workdays", tuple(self.extra_workdays))
        market = self.market.strip().upper() if self.market else None
        subdiv = self.subdiv.strip().upper() if self.subdiv else None
        if subdiv and not market:
            raise ConfigError(f"subdivision '{self.subdiv}' needs a market", hint="Set market, e.g. DE with BY")
        table = _load_holidays(market, subdiv, self.market or "") if market else None
        set_(self, "market", market)
        set_(self, "subdiv", subdiv)
        set_(self, "_holidays", table)
        if self.weekend is None:
            weekend = tuple(sorted(table.weekend)) if table is not None else _DEFAULT_WEEKEND
        else:
            weekend = tuple(sorted(set(self.weekend)))
            if any(day not in range(7) for day in weekend) or len(weekend) > 6:
                raise ConfigError(
                    f"weekend {list(self.weekend)} is not a set of weekdays",
                    hint="Use numbers 0-6 with Monday = 0, e.g. [5, 6] for Saturday and Sunday",
                )
        set_(self, "weekend", weekend)

    @property
    def label(self) -> str:
        """Short name used in messages: ``"DE-BY"``, ``"US"``, or ``"weekends only"``."""
        if not self.market:
            return "weekends only"
        return f"{self.market}-{self.subdiv}" if self.subdiv else self.market

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name on ``day`` ("Christmas Day"), or None on a normal or worked day.

        Names are in English where the holidays library has an English translation. Several
        holidays on one day are joined with "; ". Extra workdays are never holidays.
        """
        if day in self.extra_workdays:
            return None
        if day in self.extra_holidays:
            return "company holiday"
        if self._holidays is None:
            return None
        name = self._holidays.get(day)
        return str(name) if name else None

    def skip_reason(self, day: date) -> str | None:
        """Why a slot on ``day`` is skipped: ``"Christmas Day (DE holiday)"``, or None."""
        if day in self.extra_holidays and day not in self.extra_workdays:
            return "company holiday (extra_holidays)"
        name = self.holiday_name(day)
        return f"{name} ({self.label} holiday)" if name else None

    def is_business_day(self, day: date) -> bool:
        """True when ``day`` is worked: not a weekend day and not a holiday, or an extra workday."""
        if day in self.extra_workdays:
            return True
        if self.holiday_name(day) is not None:
            return False
        if day.weekday() in self.weekend:  # type: ignore[operator]
            # Markets such as CN move weekends to make up for long holidays; the library knows.
            table = self._holidays
            return table is not None and day in getattr(table, "weekend_workdays", ())
        return True

    def business_days(self, year: int, month: int) -> list[date]:
        """Every business day of one month, in order."""
        return list(_month_business_days(self, year, month))

    def nth_business_day(self, year: int, month: int, n: int) -> date | None:
        """The ``n``-th business day of a month (1 = first, -1 = last, -2 = second to last).

        Returns None when the month has fewer than ``abs(n)`` business days, so a timetable on
        "business day 22" simply has no slot in a short month.

        Raises:
            ValueError: ``n`` is 0.
        """
        if n == 0:
            raise ValueError("n counts from 1 (first) or -1 (last), never 0")
        days = _month_business_days(self, year, month)
        if abs(n) > len(days):
            return None
        return days[n - 1] if n > 0 else days[n]

    def describe(self) -> str:
        """Human text: ``"DE-BY holidays, weekend Saturday and Sunday"``."""
        names = [_DAY_NAMES[d] for d in self.weekend]  # type: ignore[union-attr]
        weekend = " and ".join(names) if names else "none"
        base = f"{self.label} holidays" if self.market else "no public holidays"
        extras = ""
        if self.extra_holidays:
            extras += f", {len(self.extra_holidays)} extra holidays"
        if self.extra_workdays:
            extras += f", {len(self.extra_workdays)} extra workdays"
        return f"{base}, weekend {weekend}{extras}"


@functools.lru_cache(maxsize=1024)
def _month_business_days(calendar: Calendar, year: int, month: int) -> tuple[date, ...]:
    # Cached: a business-day timetable asks for the same month on every next_fire call.
    last = _stdlib_calendar.monthrange(year, month)[1]
    days = (date(year, month, d) for d in range(1, last + 1))
    return tuple(d for d in days if calendar.is_business_day(d))


def _load_holidays(market: str, subdiv: str | None, written: str) -> Any:
    """The holidays library's table for a market, with English names where it has them.

    ``market`` is upper-cased; ``written`` is how the config spelt it, for the message.
    """
    import holidays

    countries = holidays.list_supported_countries()
    financial = holidays.list_supported_financial()
    factory: Callable[..., Any]
    if market in countries:
        factory, subdivs = holidays.country_holidays, countries[market]
    elif market in financial:
        factory, subdivs = holidays.financial_holidays, financial[market]
    else:
        # Analysts write 'Germany' or 'DEU' as often as 'DE': point them at the code.
        names = {}
        for entry in holidays.registry.COUNTRIES.values():
            names[entry[0].lower()] = names[entry[2].lower()] = entry[1]
        by_name = names.get(market.lower().replace(" ", ""))
        # Exchange codes (XNYS, XSWX) would crowd out countries for a two-letter typo.
        codes = [*countries, *financial] if len(market) > 2 else list(countries)
        hint = f"Did you mean '{by_name}'?" if by_name else did_you_mean(market, codes)
        raise ConfigError(
            f"'{written.strip()}' is not a holiday market",
            hint=f"{hint + ' ' if hint else ''}Use {_EXAMPLE_MARKETS}",
        )
    upper_subdivs = {s.upper(): s for s in subdivs}
    if subdiv is not None and subdiv not in upper_subdivs:
        close = did_you_mean(subdiv, upper_subdivs)
        known = ", ".join(subdivs[:20]) + (", ..." if len(subdivs) > 20 else "")
        raise ConfigError(
            f"'{subdiv}' is not a subdivision of {market}",
            hint=f"{close + ' ' if close else ''}{market} has: {known or 'no subdivisions'}",
        )
    table = factory(market, subdiv=upper_subdivs.get(subdiv) if subdiv else None)
    # Names in English for the skip reasons: the library's default is the local language.
    if not str(table.default_language or "").startswith("en"):
        english = [lang for lang in table.supported_languages if lang.startswith("en")]
        if english:
            table = factory(
                market,
                subdiv=upper_subdivs.get(subdiv) if subdiv else None,
                language="en_US" if "en_US" in english else english[0],
            )
    return table
