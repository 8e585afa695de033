"""Playwright sessions for any web app: sign-in read from the page, selectors by name, waits for outcomes,
tables, downloads, uploads, frames, pop-ups and dialogs, failure artifacts, and the scheduler's warm browser.

Tasks get a session from ``ctx.browser(source)`` (``docs/browser.md`` is the guide) and import from here
only for the names they catch or type::

    from opskit.browser import BrowserError, ServerError, Session

Importing this package loads nothing heavy: Playwright is imported when a session starts, so
``runner.py list`` never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opskit.browser.errors import (
    BrowserCrashed,
    BrowserError,
    ExportTimeout,
    LoginFailed,
    ServerError,
    SessionExpired,
)

if TYPE_CHECKING:
    from opskit.browser.session import Outcome, Session, Table

__all__ = [
    "BrowserCrashed",
    "BrowserError",
    "ExportTimeout",
    "LoginFailed",
    "Outcome",
    "ServerError",
    "Session",
    "SessionExpired",
    "Table",
    "safe_filename",
]


def __getattr__(name: str) -> Any:
    """``Session``, ``Outcome``, ``Table`` and ``safe_filename``, imported on first use."""
    if name in ("Session", "Outcome", "Table"):
        from opskit.browser import session  # on use: Playwright loads with the first Session

        return getattr(session, name)
    if name == "safe_filename":
        from opskit.browser.downloads import safe_filename  # on use: Playwright loads with the first Session

        return safe_filename
    raise AttributeError(f"module 'opskit.browser' has no attribute {name!r}")
