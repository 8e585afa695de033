"""Keeping secrets out of everything opskit stores or sends: log lines, errors, results, emails.

A ``Redactor`` knows the secret values of a run (every ``${VAR}`` config.yaml resolved, every value a task
read with ``ctx.secret``, the SMTP password, the chat webhook URL) and replaces each with ``***``. As a
logging ``Filter`` it is installed on every handler of a run, so redaction never depends on remembering.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any


class Redactor(logging.Filter):
    """Replaces every known secret value in log records with ``***``."""

    def __init__(self, secrets: set[str] | None = None):
        super().__init__()
        self.secrets = {s for s in (secrets or set()) if len(s) >= 4}

    def add(self, value: str) -> None:
        if value and len(value) >= 4:
            self.secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.msg, record.args = self.redact(message), None
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
        return True


def scrub(value: Any, redactor: Redactor) -> Any:
    """``value`` with every secret replaced by ``***`` in every string, however deeply nested."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, Mapping):
        return {k: scrub(v, redactor) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, redactor) for v in value]
    return value
