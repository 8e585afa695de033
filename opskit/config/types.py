"""The field types every section of config.yaml shares: durations, timezones, and the strict base model.

They live apart from the sections (``model``, ``browser``, ``email``, ``chat``, ``gates``) so that each
section imports them from below instead of from one another. Analysts write what they say: ``timeout: 30m``,
``timezone: Europe/Berlin``; the converters accept that, as APScheduler's ``as_timedelta`` and
``as_timezone`` do, and reject anything else when the config loads, never at 02:00.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict

from opskit.errors import did_you_mean

# re.ASCII: 0-9 only (int() would quietly read Arabic-Indic or fullwidth digits); 9 digits is ~31 years of seconds
_DURATION = re.compile(
    r"^\s*(?:(\d{1,9})\s*d)?\s*(?:(\d{1,9})\s*h)?\s*(?:(\d{1,9})\s*m(?:in)?)?\s*(?:(\d{1,9})\s*s)?\s*$", re.ASCII
)


def as_timedelta(value: Any) -> Any:
    """Accept what analysts write: ``90`` (seconds), ``90s``, ``30m``, ``2h``, ``1h30m``, ``7d``."""
    if isinstance(value, timedelta) or value is None:
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 30m, 2h, 1h30m, 7d)")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is a negative duration")
        return bounded_duration(lambda: timedelta(seconds=value), value)
    m = _DURATION.match(str(value))
    if not m or not any(m.groups()):
        raise ValueError(f"'{value}' is not a duration (use e.g. 90s, 30m, 2h, 1h30m, 7d)")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return bounded_duration(lambda: timedelta(days=d, hours=h, minutes=mi, seconds=s), value)


def bounded_duration(make: Any, value: Any) -> timedelta:
    """The duration, or a ValueError (which validation reports) past ``LONGEST``: added to a date, a longer
    one would overflow where nobody could explain it (a run's deadline, a retention cut-off)."""
    try:
        duration: timedelta = make()
    except (OverflowError, ValueError):
        duration = LONGEST * 2
    if duration > LONGEST:
        raise ValueError(f"{value!r} is longer than {LONGEST.days // 365} years")
    return duration


def as_timezone(value: Any) -> Any:
    """An IANA zone name as a ``ZoneInfo``; a misspelt name gets the closest real one as a hint."""
    if isinstance(value, ZoneInfo):
        return value
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        from zoneinfo import available_timezones

        hint = did_you_mean(str(value), available_timezones()) or "Use an IANA name such as Europe/Berlin"
        raise ValueError(f"unknown timezone '{value}'. {hint}") from None


Duration = Annotated[timedelta, BeforeValidator(as_timedelta)]
"""A ``timedelta`` field that also accepts ``90``, ``30m``, ``1h30m``, ``7d``."""
Timezone = Annotated[ZoneInfo, BeforeValidator(as_timezone)]
"""A ``ZoneInfo`` field that accepts an IANA name such as ``Europe/Berlin``."""

LONGEST = timedelta(days=3650)
"""The longest duration config.yaml may give (ten years)."""
POSITIVE = timedelta(seconds=1)
"""The smallest duration a timeout may be (``Field(ge=POSITIVE)``)."""


class Strict(BaseModel):
    """The base of config.yaml's sections: unknown keys are errors, and a loaded config never changes."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)
