"""The HTTP session tasks get as ``ctx.http``: a default timeout, bounded retries, Retry-After, a User-Agent.

``requests`` has no default timeout (a hung server hangs the task for ever) and no retries; this session
adds both. Retries go through ``opskit.sources.retry`` like every other retry in opskit: connection
failures, timeouts, 429 and 5xx answers are asked again with exponential backoff, honouring
``Retry-After``. When the attempts run out the last answer is returned as it is (check ``status_code``)
and a last connection error is raised as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from opskit.sources.retry import RETRY_STATUSES, Backoff, retrying

USER_AGENT = "opskit/0.1 (+report automation)"
DEFAULT_TIMEOUT = (10, 60)  # connect, read seconds
DEFAULT_BACKOFF = Backoff(attempts=5, first=0.5, cap=60.0)


def _refused(exc: BaseException) -> bool:
    return isinstance(exc, requests.ConnectionError) and "refused" in str(exc).lower()


class RetryingSession(requests.Session):
    """A ``requests.Session`` whose every request has a timeout and is retried by opskit's rules.

    Args:
        backoff: Attempts and waits (default: 5 attempts, 0.5 s doubling, at most 60 s a wait).
        timeout: Used when a request gives none: seconds, or (connect, read).
        retry_refused: Whether a refused connection is retried. A tool that refuses connections is
            down rather than busy; an API client that would rather fail fast (and let the job's own
            retries come back later) turns this off.
        on_wait: Told every wait before it happens (seconds).
        sleep: Waits; ``time.sleep`` by default, a fake clock's in tests.
    """

    def __init__(
        self,
        *,
        backoff: Backoff = DEFAULT_BACKOFF,
        timeout: Any = DEFAULT_TIMEOUT,
        retry_refused: bool = True,
        on_wait: Callable[[float], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        super().__init__()
        self.backoff, self.timeout, self.retry_refused = backoff, timeout, retry_refused
        self.on_wait, self.sleep = on_wait, sleep
        self.last_attempts = 0
        """How many attempts the last request took (for "posted after 3 attempts")."""
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout

        def worth_retrying(exc: BaseException) -> bool:
            if not isinstance(exc, requests.ConnectionError | requests.Timeout):
                return False
            return self.retry_refused or not _refused(exc)

        # Only the host goes into log lines: paths and queries can hold tokens (a chat webhook's does).
        host = urlsplit(url if isinstance(url, str) else url.decode()).netloc
        attempt = retrying(
            self.backoff,
            retry_on_exception=worth_retrying,
            retry_on_result=lambda response: response.status_code in RETRY_STATUSES,
            describe=lambda state: f"{method!s} {host}: {_what(state)}",
            on_wait=self.on_wait,
            sleep=self.sleep,
        )
        try:
            response: requests.Response = attempt(super().request, method, url, *args, **kwargs)
            return response
        finally:
            self.last_attempts = int(attempt.statistics.get("attempt_number", 1))


def _what(state: Any) -> str:
    outcome = state.outcome
    if outcome.failed:
        return type(outcome.exception()).__name__
    return f"HTTP {outcome.result().status_code}"


def make_session(*, retries: int = 4, backoff: float = 0.5, timeout: Any = DEFAULT_TIMEOUT) -> RetryingSession:
    """A RetryingSession with ``retries`` extra attempts after the first, ``backoff`` seconds doubling."""
    return RetryingSession(backoff=Backoff(attempts=retries + 1, first=backoff), timeout=timeout)
