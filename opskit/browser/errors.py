"""What can go wrong in a browser session, as errors a task (and the scheduler) can act on.

``BrowserError`` and ``LoginFailed`` are task errors: retrying the run will not help until the page or
the credentials change. ``ServerError``, ``ExportTimeout`` and ``BrowserCrashed`` are the source's or the
machine's trouble: the scheduler retries them (``retries`` of the job), and ``Session.run`` re-runs a step
after a ``ServerError`` or a ``SessionExpired``.
"""

from __future__ import annotations

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
