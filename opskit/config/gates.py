"""A job's ``gates:``: what a sane result looks like before its report is delivered.

Only the settings live here, validated when config.yaml loads; judging a run's result against them is
delivery's business (``opskit.delivery.gates``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opskit.config.types import bounded_duration

_DURATION_RE = re.compile(r"^\s*(\d{1,9}(?:\.\d{1,9})?)\s*(m|min|h|d)\s*$", re.ASCII)  # 0-9 only


def parse_age(value: Any) -> timedelta:
    """ "30m", "26h", "2d", a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return bounded_duration(lambda: timedelta(seconds=value), value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (use 30m, 26h or 2d)")
    amount, unit = float(match[1]), match[2]
    return bounded_duration(
        lambda: (
            timedelta(minutes=amount)
            if unit in ("m", "min")
            else (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
        ),
        value,
    )


class Gates(BaseModel):
    """A job's quality gates (config.yaml ``gates:``)."""

    model_config = ConfigDict(extra="forbid")

    min_rows: int | None = Field(None, ge=0)
    max_rows: int | None = Field(None, ge=0)
    max_drop: float | None = Field(None, gt=0, le=1)
    """At most this fraction below the last good run's rows (0.3 = no more than 30% fewer)."""
    max_rise: float | None = Field(None, gt=0)
    """At most this fraction above the last good run's rows (1.0 = at most double)."""
    required_columns: list[str] = []
    max_age: timedelta | None = None
    """The newest timestamp in the data must be at most this old when the job runs ("26h")."""
    on_fail: Literal["fail", "warn"] = "fail"
    empty: Literal["notice", "skip", "fail"] = "notice"

    @field_validator("max_age", mode="before")
    @classmethod
    def _age(cls, value: Any) -> timedelta | None:
        return None if value is None else parse_age(value)

    @model_validator(mode="after")
    def _range(self) -> Gates:
        if self.min_rows is not None and self.max_rows is not None and self.min_rows > self.max_rows:
            raise ValueError(f"min_rows ({self.min_rows}) is above max_rows ({self.max_rows})")
        return self
