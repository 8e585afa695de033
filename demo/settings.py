"""The console's settings: demo credentials, session and export limits, and the realism switches.

Every switch is off by default. ``from_env`` reads the ``CONSOLE_*`` variables documented in
demo/README.md; keyword overrides win over the environment.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_USER = "analyst"
DEFAULT_PASSWORD = "moderate-all-the-things"
DEFAULT_API_TOKEN = "demo-api-token-7f3a"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """How a console instance behaves. Times are seconds; ``clock`` returns epoch seconds."""

    username: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    api_token: str = DEFAULT_API_TOKEN
    otp: str | None = None  # a one-time code turns on the second login step
    otp_file: Path | None = None  # or read the code from this file at each attempt
    session_seconds: float = 30 * 60
    now: datetime | None = None  # the dashboard's "now"; None = the end of the generated data
    page_size: int = 50
    export_sync_limit: int = 20_000  # larger exports are prepared in the background
    export_dir: Path | None = None  # None = a temporary folder per app
    api_rate_per_second: float = 20.0  # 0 turns rate limiting off
    api_burst: int | None = None  # bucket size; None = max(1, rate)
    # realism switches
    latency_ms: int = 0
    error_rate: float = 0.0  # share of requests answered with a 500
    error_seed: int = 0
    early_expiry_after: int | None = None  # the session ends after this many page requests
    alt_layout: bool = False  # renamed ids and button texts
    secret_key: str | None = None
    clock: Callable[[], float] = time.time

    @property
    def otp_enabled(self) -> bool:
        return bool(self.otp or self.otp_file)

    def current_otp(self) -> str | None:
        if self.otp_file is not None:
            try:
                return Path(self.otp_file).read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        return self.otp

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ConsoleSettings:
        """Settings from ``CONSOLE_*`` environment variables, then ``overrides``."""
        env = os.environ if env is None else env
        conv: dict[str, tuple[str, Callable[[str], object]]] = {
            "username": ("CONSOLE_USER", str),
            "password": ("CONSOLE_PASSWORD", str),
            "api_token": ("CONSOLE_API_TOKEN", str),
            "otp": ("CONSOLE_OTP", str),
            "otp_file": ("CONSOLE_OTP_FILE", Path),
            "session_seconds": ("CONSOLE_SESSION_SECONDS", float),
            "now": ("CONSOLE_NOW", _parse_now),
            "export_sync_limit": ("CONSOLE_EXPORT_SYNC_LIMIT", int),
            "api_rate_per_second": ("CONSOLE_RATE_LIMIT", float),
            "latency_ms": ("CONSOLE_LATENCY_MS", int),
            "error_rate": ("CONSOLE_ERROR_RATE", float),
            "early_expiry_after": ("CONSOLE_EARLY_EXPIRY", int),
            "alt_layout": (
                "CONSOLE_ALT_LAYOUT",
                lambda v: v.strip().lower() in ("1", "true", "yes", "on"),
            ),
        }
        values = {name: fn(env[var]) for name, (var, fn) in conv.items() if env.get(var)}
        values.update(overrides)
        return cls().with_overrides(values)

    def with_overrides(self, values: Mapping[str, object]) -> ConsoleSettings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"unknown console setting(s): {', '.join(unknown)}")
        return replace(self, **values)  # type: ignore[arg-type]  # names checked above; values as given


def _parse_now(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(slots=True)
class RateLimiter:
    """A token bucket per key: ``rate`` requests a second, bursts up to ``burst``."""

    rate: float
    burst: float
    clock: Callable[[], float]
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> int:
        """0 when the request may go ahead, else the seconds to wait (for Retry-After)."""
        if self.rate <= 0:
            return 0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
