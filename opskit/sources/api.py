"""A small client for a source's JSON API: bearer token, cursor pages, 429 and 5xx handled, bounded.

Requests go through opskit's one retry mechanism (``opskit.sources.retry``): a 429 waits exactly what
``Retry-After`` says (capped by ``max_wait``), 5xx and dropped connections back off exponentially, and
after ``retries`` extra attempts the source is ``SourceUnavailable`` (retryable by the job). A refused
connection fails at once (the tool is down). A 401/403 is a ``ConfigError``: a wrong token does not get
better by retrying.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from opskit.errors import ConfigError, DataError, SourceUnavailable
from opskit.sources.http import RetryingSession
from opskit.sources.retry import Backoff

log = logging.getLogger(__name__)

# The console's export header (demo/README.md); the API returns the same fields per case.
CASE_COLUMNS = (
    "case_id",
    "queue_id",
    "created_at",
    "assigned_at",
    "completed_at",
    "moderator_id",
    "decision",
    "policy_label",
    "handle_seconds",
    "qa_sampled",
    "qa_correct",
    "escalated",
    "appealed",
    "overturned",
    "content_text",
    "username",
    "queue_name",
    "channel",
    "market",
    "vendor",
    "site",
)
_sleep = time.sleep  # tests replace it with a fake clock's advance


class ApiClient:
    """GET JSON from ``base_url`` with a bearer token.

    Args:
        base_url: The source's url; paths are appended (``/api/v1/cases``).
        token: The bearer token (read with ``ctx.secret`` so it is redacted from logs); None for an
            API without sign-in.
        timeout: Seconds to wait for one answer.
        retries: Extra attempts after a 5xx, a 429 or a dropped connection.
        backoff: First wait after a 5xx, doubled each time.
        max_wait: Longest single wait, also for a Retry-After that asks for more.
        verify: Check the server's TLS certificate.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        verify: bool = True,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries = timeout, retries
        self.waits: list[float] = []  # every wait, for the log and the tests
        self.http = RetryingSession(
            backoff=Backoff(attempts=retries + 1, first=backoff, cap=max_wait),
            timeout=timeout,
            retry_refused=False,  # refused: the tool is down, not busy; the job's retries come back later
            on_wait=self.waits.append,
            sleep=lambda seconds: _sleep(seconds),
        )
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.headers["Accept"] = "application/json"
        self.http.verify = verify

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """One GET, retried per the rules of ``opskit.sources.retry``; returns the decoded JSON.

        Raises:
            SourceUnavailable: no usable answer after the last attempt (retryable by the job).
            ConfigError: the token was refused (401/403): retrying cannot help.
            DataError: any other 4xx, or an answer that is not JSON.
        """
        import requests

        url = f"{self.base_url}{path}"
        attempts = f"after {self.retries + 1} attempts"
        try:
            response = self.http.get(url, params=params)
        except requests.ConnectionError as exc:
            if "refused" in str(exc).lower():
                raise SourceUnavailable(f"cannot reach {self.base_url} (connection refused)") from None
            raise SourceUnavailable(f"no answer from {url} ({type(exc).__name__}), {attempts}") from None
        except requests.Timeout:
            raise SourceUnavailable(f"no answer from {url} within {self.timeout:g}s, {attempts}") from None
        if response.status_code == 429:
            raise SourceUnavailable(f"rate limited by {url}, {attempts}")
        if response.status_code >= 500:
            raise SourceUnavailable(f"HTTP {response.status_code} from {url}, {attempts}")
        if response.status_code in (401, 403):
            raise ConfigError(
                f"{url} refused the API token (HTTP {response.status_code})",
                hint="Check the source's token_env variable",
            )
        if response.status_code >= 400:
            raise DataError(f"HTTP {response.status_code} from {url}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise DataError(f"{url} did not answer with JSON") from None

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Each page's ``data``, following ``next_cursor`` until it is null."""
        params = dict(params or {})
        while True:
            body = self.get(path, params)
            if not isinstance(body, dict) or "data" not in body:
                raise DataError(f"{self.base_url}{path} answered without a 'data' list")
            yield body["data"]
            cursor = body.get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
