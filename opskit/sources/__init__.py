"""Reading from internal tools over HTTP: the shared session (``ctx.http``), a JSON API client (``ctx.api``),
and the one retry mechanism every request and browser step uses.

Names are imported lazily (PEP 562): ``requests`` loads only when a task uses one, so ``runner.py list``
stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "CASE_COLUMNS",
    "RETRY_STATUSES",
    "ApiClient",
    "Backoff",
    "RetryingSession",
    "make_session",
    "retry_after",
    "retrying",
]

_WHERE = {
    "CASE_COLUMNS": "api",
    "ApiClient": "api",
    "RetryingSession": "http",
    "make_session": "http",
    "RETRY_STATUSES": "retry",
    "Backoff": "retry",
    "retry_after": "retry",
    "retrying": "retry",
}

if TYPE_CHECKING:
    from opskit.sources.api import CASE_COLUMNS, ApiClient
    from opskit.sources.http import RetryingSession, make_session
    from opskit.sources.retry import RETRY_STATUSES, Backoff, retry_after, retrying


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'opskit.sources' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"opskit.sources.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
