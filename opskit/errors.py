"""The errors opskit explains in one line.

Every expected failure is an ``OpskitError``: the command line prints ``error: <message>`` and exits with
the class's ``exit_code``, never with a traceback. ``retryable`` separates a failing system (retry with
backoff) from bad data or a bad config (retrying cannot help).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class OpskitError(Exception):
    """An expected failure we can explain in one line; never shown with a traceback."""

    exit_code = 1
    retryable = False

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.where, self.hint = where, hint

    @property
    def message(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if not self.hint:
            return text
        return f"{text} {self.hint}" if text.endswith((".", "?", "!")) else f"{text}. {self.hint}"


class UsageError(OpskitError):
    """The command line is wrong: unknown command, task or job, a malformed option."""

    exit_code = 2


class ConfigError(UsageError):
    """config.yaml or .env is wrong; ``where`` is 'file:line'."""


class ParamError(UsageError):
    """A task parameter is unknown or its value does not convert to the declared type."""


class TaskError(OpskitError):
    """A task failed for a reason it can state (bad data, a check that did not pass)."""


class DataError(TaskError):
    """Input data (a workbook, a CSV, an export) is unreadable or not what was expected."""


class SourceUnavailable(OpskitError):
    """An internal tool or API did not answer; worth retrying later."""

    retryable = True


class DeliveryError(OpskitError):
    """A message could not be delivered now; it is kept and retried."""

    retryable = True


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A "Did you mean 'x'?" hint for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"Did you mean '{matches[0]}'?" if matches else None
