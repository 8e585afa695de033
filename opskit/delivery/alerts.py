"""Failure alerts: the email that tells a job's recipients a run needs attention, and the chat post.

``pipeline`` decides *when* to alert (a failed run, a report held back by its gates, a report that could not
be built); this module knows *what* the alert says: which job, when (the job's timezone), the one-line cause,
the last lines of the run's log and where its folder is. Every text is scrubbed of secrets, and nothing here
raises: a problem is recorded in the run's ``DeliveryLog``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.delivery.chat import post_alert
from opskit.delivery.compose import ComposedEmail, compose_email, send_email
from opskit.delivery.record import DeliveryLog, one_line, secret_redactor
from opskit.delivery.render import job_renderer

if TYPE_CHECKING:
    from opskit.config.model import Config, JobConfig
    from opskit.engine.history import RunRecord
    from opskit.redact import Redactor

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 64_000
_LOG_LINE_CHARS = 400
ALERT_SUBJECT = "[opskit] {{ title }}"
STATUS_WORDS = {"failed": "failed", "timed_out": "timed out", "abandoned": "was abandoned"}


def failure_title(job_name: str, status: str) -> str:
    """The alert's title for a run that ended ``status``: "Job weekly timed out"."""
    return f"Job {job_name} {STATUS_WORDS.get(status, status)}"


def log_tail(folder: str | Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of ``<folder>/run.log``, each cut to a sane length."""
    path = Path(folder) / "run.log"
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _LOG_TAIL_BYTES))
            data = fh.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace").splitlines()
    if size > _LOG_TAIL_BYTES:
        text = text[1:]  # the first line read is most likely cut
    return [line[:_LOG_LINE_CHARS] for line in text[-lines:]]


def alert(
    config: Config,
    job_name: str,
    job: JobConfig,
    record: RunRecord,
    dlog: DeliveryLog,
    *,
    now: datetime,
    title: str,
    cause: str,
    email: bool,
    lead: str | None = None,
    redactor: Redactor | None = None,
    send: bool = True,
) -> None:
    """Tell people a run needs attention: the failure alert email (when ``email``) and a chat post.

    The email goes to the job's recipients and says which job, when (the job's timezone), the
    one-line cause, the last lines of the run's log and where the run's folder is. Without a chat
    webhook the chat alert is only logged (the embedded default). ``send=False`` only saves the email
    (see ``compose.deliver``). Never raises.
    """
    redactor = redactor or secret_redactor(config)
    cause = redactor.redact(" ".join(cause.split())) or "unknown cause"
    tz = config.job_timezone(job)
    when = record.finished_at or now
    if email and job.email is not None:
        context = {
            "title": title,
            "failed_at": when,
            "cause": cause,
            "lead": lead,
            "log_lines": [redactor.redact(line) for line in log_tail(record.folder)],
            "artifacts": record.folder,
            "artifact_names": list(record.artifacts),
            "attempt": record.attempt if record.attempt > 1 else None,
            "preheader": cause,
            "status": record.status,
        }
        job_email = job.email.model_copy(
            update={"subject": ALERT_SUBJECT, "attach": [], "template": "email/failure_alert.html"}
        )
        settings = config.email_settings()

        def compose() -> ComposedEmail:
            return compose_email(
                job_renderer(config, job),
                job_email,
                settings,
                context=context,
                job=job_name,
                run_id=record.id,
                now=now,
                run_dir=Path(record.folder),
            )

        send_email(settings, dlog, "alert", compose, job=job_name, run_id=record.id, now=now, send=send)
    post_chat(
        config,
        dlog,
        title,
        cause,
        {
            "Job": job_name,
            "Status": record.status,
            "When": f"{when.astimezone(tz):%Y-%m-%d %H:%M %Z}",
            "Run": record.id,
            "Folder": record.folder,
        },
        redactor=redactor,
    )


def post_chat(
    config: Config, dlog: DeliveryLog, title: str, text: str, fields: Mapping[str, str], *, redactor: Redactor
) -> None:
    """Post to the chat webhook (only logged without one); a failure is recorded, never raised."""
    chat = config.settings.chat
    try:
        attempts = post_alert(chat, title, text, fields)
    except Exception as exc:  # noqa: BLE001 - requests can raise more than DeliveryError (a bad URL)
        error = redactor.redact(one_line(exc))
        log.error("chat alert for %s not posted: %s", fields.get("Job"), error)
        dlog.chat = {"configured": chat is not None, "kind": chat.kind if chat else None, "ok": False, "error": error}
        dlog.error("chat", error)
        return
    if chat is None:
        dlog.chat = {"configured": False, "logged": True}
    else:
        dlog.chat = {"configured": True, "kind": chat.kind, "ok": True, "attempts": attempts}
