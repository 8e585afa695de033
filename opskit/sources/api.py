"""A small client for a source's JSON API: bearer token, cursor pages, 429 and 5xx handled, bounded.

Retrying is done here rather than by urllib3's Retry so that each rule is explicit and tested:
429 waits exactly what ``Retry-After`` says (capped by ``max_wait``), 5xx and dropped connections back
off exponentially, and after ``retries`` attempts the source is ``SourceUnavailable`` (retryable by the
job). A 401/403 is a ``ConfigError``: a wrong token does not get better by retrying.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from opskit.errors import ConfigError, DataError, SourceUnavailable

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
        token: The bearer token (read with ``ctx.secret`` so it is redacted from logs).
        timeout: Seconds to wait for one answer.
        retries: Extra attempts after a 5xx or a dropped connection; 429s count too.
        backoff: First wait after a 5xx, doubled each time.
        max_wait: Longest single wait, also for a Retry-After that asks for more.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        verify: bool = True,
    ):
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.backoff, self.max_wait = (
            timeout,
            retries,
            backoff,
            max_wait,
        )
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.http.verify = verify
        self.waits: list[float] = []  # every wait, for the log and the tests

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """One GET, retried per the rules above; returns the decoded JSON."""
        import requests

        url = f"{self.base_url}{path}"
        problem = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.http.get(url, params=params, timeout=self.timeout)
            except requests.ConnectionError as exc:
                if attempt == 0 and "refused" in str(exc).lower():
                    raise SourceUnavailable(f"cannot reach {self.base_url} (connection refused)") from None
                problem = f"no answer from {url} ({type(exc).__name__})"
                self._wait(self.backoff * 2**attempt, attempt)
                continue
            except requests.Timeout:
                problem = f"no answer from {url} within {self.timeout:g}s"
                self._wait(self.backoff * 2**attempt, attempt)
                continue
            if response.status_code == 429:
                problem = f"rate limited by {url}"
                self._wait(_retry_after(response, default=self.backoff * 2**attempt), attempt)
                continue
            if response.status_code >= 500:
                problem = f"HTTP {response.status_code} from {url}"
                self._wait(self.backoff * 2**attempt, attempt)
                continue
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
        raise SourceUnavailable(f"{problem}, after {self.retries + 1} attempts")

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

    def _wait(self, seconds: float, attempt: int) -> None:
        if attempt >= self.retries:
            return  # no attempt left: fail now rather than wait for nothing
        seconds = min(max(seconds, 0.0), self.max_wait)
        self.waits.append(seconds)
        log.info("waiting %.1fs before attempt %d", seconds, attempt + 2)
        _sleep(seconds)


def _retry_after(response: Any, *, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return default  # an HTTP date or nothing: our own backoff
