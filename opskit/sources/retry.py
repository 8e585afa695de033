"""One way to retry, everywhere: tenacity with opskit's rules (HTTP, chat webhooks, browser steps).

The rules, in one place:

- a bounded number of attempts (the first included), never an endless loop;
- exponential backoff: ``first`` seconds before the second attempt, doubled each time, each wait capped
  at ``cap``;
- a server that says how long to wait (``Retry-After``: seconds or an HTTP date) is obeyed, up to the
  same cap;
- each wait is logged, and reported to an optional ``on_wait`` callback (the API client counts them).

A *job*'s retries (``retries:`` in config.yaml, a new attempt in a new process) are the engine's and are
not this: this module retries one request or one browser step inside a run.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import tenacity

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP answers worth asking again: rate limited, or the server failed."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """How often and how patiently to retry.

    Attributes:
        attempts: Attempts in all, the first one included (1 = never retry).
        first: Seconds before the second attempt; doubled before each further one.
        cap: The longest single wait, also when a server's Retry-After asks for more.
    """

    attempts: int = 5
    first: float = 0.5
    cap: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if self.first < 0 or self.cap < 0:
            raise ValueError("backoff waits cannot be negative")

    def delay(self, attempt: int) -> float:
        """The wait after attempt number ``attempt`` (1-based) failed, before the next one."""
        return min(self.first * 2 ** (attempt - 1), self.cap)


def retry_after(response: Any, *, now: datetime | None = None) -> float | None:
    """The seconds a response's ``Retry-After`` header asks for, or None without a usable one."""
    headers = getattr(response, "headers", None)
    value = (headers.get("Retry-After") if headers is not None else None) or ""
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retrying(
    backoff: Backoff,
    *,
    retry_on_exception: Callable[[BaseException], bool] = lambda exc: False,
    retry_on_result: Callable[[Any], bool] = lambda result: False,
    describe: Callable[[tenacity.RetryCallState], str] | None = None,
    on_wait: Callable[[float], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> tenacity.Retrying:
    """A ``tenacity.Retrying`` that follows the rules above.

    When the attempts run out, an exception is re-raised as it was, and a result that asked for a retry
    is returned as it was (the caller decides what a final 503 means), never wrapped in ``RetryError``.

    Args:
        backoff: Attempts and waits.
        retry_on_exception: Whether an exception is worth another attempt (default: none are).
        retry_on_result: Whether a returned value is worth another attempt (e.g. an HTTP 503).
        describe: A few words on what failed, for the log line of each wait.
        on_wait: Told every wait, in seconds, before it happens.
        sleep: Waits; ``time.sleep`` by default, a fake clock's in tests.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        asked = None
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = retry_after(outcome.result())
        seconds = backoff.delay(state.attempt_number) if asked is None else asked
        return min(max(seconds, 0.0), backoff.cap)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        seconds = state.upcoming_sleep
        what = describe(state) if describe else _outcome_text(state)
        log.info("%s; attempt %d of %d in %.1fs", what, state.attempt_number + 1, backoff.attempts, seconds)
        if on_wait is not None:
            on_wait(seconds)

    def last_result(state: tenacity.RetryCallState) -> Any:
        assert state.outcome is not None
        return state.outcome.result()  # re-raises a final exception as it was

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(backoff.attempts),
        wait=wait,
        retry=tenacity.retry_if_exception(retry_on_exception) | tenacity.retry_if_result(retry_on_result),
        before_sleep=before_sleep,
        retry_error_callback=last_result,
        sleep=sleep if sleep is not None else time.sleep,
        reraise=True,
    )


def call_with_retries(
    fn: Callable[[], T],
    backoff: Backoff,
    *,
    retry_on_exception: Callable[[BaseException], bool],
    describe: Callable[[tenacity.RetryCallState], str] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``fn`` until it returns, retrying the exceptions ``retry_on_exception`` accepts."""
    return retrying(backoff, retry_on_exception=retry_on_exception, describe=describe, sleep=sleep)(fn)


def _outcome_text(state: tenacity.RetryCallState) -> str:
    outcome = state.outcome
    if outcome is None:
        return "attempt failed"
    if outcome.failed:
        exc = outcome.exception()
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    status = getattr(outcome.result(), "status_code", None)
    return f"HTTP {status}" if status is not None else "attempt asked to retry"
