"""The delivery record: what delivery did after one run, as ``runner.py show RUN`` prints it, secrets removed.

Every stage of the pipeline writes into one ``DeliveryLog`` instead of raising: a report that could not be
built or a chat that did not answer is a fact about the run, stored with it, never a crash of the run.

Secrets: the SMTP password and the chat webhook URL come from environment variables. Neither is ever put
into a message, but both (and every secret config.yaml interpolated) are scrubbed from everything delivery
writes: alert texts, log lines quoted in alerts, and this record (``secret_redactor``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opskit.errors import OpskitError
from opskit.redact import Redactor

if TYPE_CHECKING:
    from opskit.config.model import Config


@dataclass(slots=True)
class DeliveryLog:
    """What delivery did after one run; ``to_dict`` is what ``RunStore.record_delivery`` stores.

    Attributes:
        outcome: "success" or "failure", from the run's status.
        action: What was decided: report, report_with_warnings, no_data, skipped (gate
            ``skip``), blocked (gate ``fail``), report_not_built, not_wanted (no email for this
            outcome), alert (a failed run).
        blocked: The report was held back by a quality gate (the run itself stays ``succeeded``).
        gates: The gate verdict (``GateVerdict.to_dict()``), or None when the job has no gates.
        emails: One entry per message saved: kind, outbox_id, status, recipients (a count), error.
        chat: What the chat alert did: configured, ok, attempts, error.
        errors: One entry per problem: stage (compose, send, chat, internal), kind, error, and
            ``bug: true`` for a broken template or a crash in delivery itself.
    """

    at: datetime
    outcome: str
    action: str = "none"
    blocked: bool = False
    gates: dict[str, Any] | None = None
    emails: list[dict[str, Any]] = field(default_factory=list)
    chat: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, stage: str, exc: BaseException | str, *, kind: str | None = None, bug: bool = False) -> None:
        """Record one problem; an exception becomes its one-line text."""
        text = exc if isinstance(exc, str) else one_line(exc)
        entry: dict[str, Any] = {"stage": stage, "error": text}
        if kind:
            entry["kind"] = kind
        if bug:
            entry["bug"] = True
        self.errors.append(entry)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "action": self.action,
            "blocked": self.blocked,
            "gates": self.gates,
            "emails": self.emails,
            "chat": self.chat,
            "errors": self.errors,
        }


def one_line(exc: BaseException) -> str:
    """An error as one line: an expected failure's own text, anything else with its type's name."""
    text = str(exc) if isinstance(exc, OpskitError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def secret_redactor(config: Config) -> Redactor:
    """A Redactor for every secret delivery meets: config's, the SMTP password, the chat URL."""
    redactor = Redactor(set(config.secrets))
    chat = config.settings.chat
    for name in (config.settings.email.password_env, chat.url_env if chat else None):
        if name and os.environ.get(name):
            redactor.add(os.environ[name])
    return redactor
