"""The HTTP session tasks get as ``ctx.http``: timeouts, bounded retries, Retry-After, a User-Agent."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "opskit/0.1 (+report automation)"
DEFAULT_TIMEOUT = (10, 60)  # connect, read seconds


class _TimeoutAdapter(HTTPAdapter):
    """An adapter that applies a default timeout: requests has none, and a hung server hangs the task."""

    def __init__(self, *args: Any, timeout: Any = DEFAULT_TIMEOUT, **kwargs: Any):
        self.timeout = timeout
        super().__init__(*args, **kwargs)

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def make_session(*, retries: int = 4, backoff: float = 0.5, timeout: Any = DEFAULT_TIMEOUT) -> requests.Session:
    """A Session that retries 429 and 5xx with exponential backoff, honouring Retry-After."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # also retry POST: the tools we call treat exports as idempotent requests
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = _TimeoutAdapter(max_retries=retry, timeout=timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
