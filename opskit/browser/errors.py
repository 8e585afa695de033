"""What can go wrong in a browser session, as errors a task (and the scheduler) can act on.

``BrowserError`` and ``LoginFailed`` are task errors: retrying the run will not help until the page or
the credentials change. ``ServerError``, ``ExportTimeout`` and ``BrowserCrashed`` are the source's or the
machine's trouble: the scheduler retries them (``retries`` of the job), and ``Session.run`` re-runs a step
after a ``ServerError`` or a ``SessionExpired``.
"""

from __future__ import annotations

from typing import Any

from opskit.errors import SourceUnavailable, TaskError


class BrowserError(TaskError):
    """A page did not behave as the task expects: an element is missing, a step timed out."""


class LoginFailed(TaskError):
    """The source refused the sign-in (wrong password, wrong one-time code)."""


class SessionExpired(BrowserError):
    """The session ended mid-task (the sign-in form came back), even after signing in again."""


class ServerError(SourceUnavailable):
    """The source answered with server errors (an error page, HTTP 5xx, an error banner), after retries."""


class ExportTimeout(SourceUnavailable):
    """A download or background export was not ready within ``download_timeout``."""


class BrowserCrashed(SourceUnavailable):
    """The browser (or the connection to the scheduler's warm browser) went away mid-run."""


class NeedsBrowser(Exception):
    """A step of a session over HTTP (``browser.http: auto``) that only a browser can do; ``reason`` says why.

    Never reaches a task: the session hands the step to a browser, or turns this into a ``BrowserError``."""

    def __init__(self, reason: str, *, replayable: bool = True, page: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.replayable = replayable
        """False once a request that changes something (a form post) was sent: the browser must not do the
        step again; only ``Session.run`` may run the whole step again."""
        self.page = page
        """The page (``static.StaticPage``) that needs the browser, when not the session's current one."""
        self.landed: Any = None
        """After a form post: the page it landed on, when a browser can open it by its address (a redirect)."""
