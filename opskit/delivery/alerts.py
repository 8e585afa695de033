"""Failure alerts (email and chat), the outbox command, and the parts every delivery shares.

``notify.after_run`` decides *what* goes out after a run; this module knows *how*: the mail
settings with their paths resolved against config.yaml's folder, one ``Renderer`` per job,
composing and saving a message without letting a problem escape, posting to chat, and keeping
secrets out of all of it.

Secrets: the SMTP password and the chat webhook URL come from environment variables. Neither is
ever put into a message, but both (and every secret config.yaml interpolated) are scrubbed from
everything this module writes: alert texts, log lines quoted in alerts, and the delivery record.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from opskit.errors import OpskitError, UsageError, did_you_mean
from opskit.redact import Redactor

if TYPE_CHECKING:
    from opskit.config.email import EmailSettings
    from opskit.config.model import Config, JobConfig
    from opskit.delivery.compose import ComposedEmail
    from opskit.delivery.outbox import OutboxEntry
    from opskit.delivery.render import Renderer
    from opskit.delivery.smtp import SendReport
    from opskit.engine.history import RunRecord

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 64_000
_LOG_LINE_CHARS = 400
ALERT_SUBJECT = "[opskit] {{ title }}"
STATUS_WORDS = {"failed": "failed", "timed_out": "timed out", "abandoned": "was abandoned"}


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
        text = exc if isinstance(exc, str) else _one_line(exc)
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


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, OpskitError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


# ------------------------------------------------------------------------------------------ secrets


def secret_redactor(config: Config) -> Redactor:
    """A Redactor for every secret delivery meets: config's, the SMTP password, the chat URL."""
    redactor = Redactor(set(config.secrets))
    chat = config.settings.chat
    for name in (config.settings.email.password_env, chat.url_env if chat else None):
        if name and os.environ.get(name):
            redactor.add(os.environ[name])
    return redactor


# ------------------------------------------------------------------------------ settings, renderer


def mail_settings(config: Config) -> EmailSettings:
    """``email:`` of config.yaml, its folders resolved against the config's folder (not the cwd)."""
    settings = config.settings.email
    update: dict[str, Any] = {"outbox_dir": config.outbox_dir}
    for key in ("tls_ca_file", "shared_folder"):
        path = getattr(settings, key)
        if path is not None and not Path(path).is_absolute():
            update[key] = config.root / path
    return settings.model_copy(update=update)


def job_renderer(config: Config, job: JobConfig | None) -> Renderer:
    """The templates beside config.yaml first, then the built-in ones; times in the job's timezone."""
    from opskit.delivery.render import Renderer

    return Renderer(timezone=config.job_timezone(job), extra_dirs=(config.root / "templates",))


# -------------------------------------------------------------------------------------------- email


def send_email(
    settings: EmailSettings,
    dlog: DeliveryLog,
    kind: str,
    compose: Callable[[], ComposedEmail],
    *,
    job: str,
    run_id: str,
    now: datetime,
) -> OutboxEntry | None:
    """Compose a message, save it to the outbox and (SMTP backend) send it; never raises.

    A template error is a bug, not a delivery problem: it is logged at ERROR and recorded with
    ``bug: true`` so that it stands out in ``runner.py show``. A send that fails leaves the message
    pending in the outbox with its error (``send_pending`` retries it).

    Returns:
        The outbox entry, or None when the message could not be built.
    """
    from opskit.delivery.render import TemplateError

    try:
        composed = compose()
    except TemplateError as exc:
        log.error("run %s: the %s email's template is broken (a bug): %s", run_id, kind, exc)
        dlog.error("compose", exc, kind=kind, bug=True)
        return None
    except OpskitError as exc:
        log.error("run %s: the %s email could not be built: %s", run_id, kind, exc)
        dlog.error("compose", exc, kind=kind)
        return None
    entry = _save_and_send(settings, dlog, kind, composed, job=job, run_id=run_id, now=now)
    if entry is not None:
        dlog.emails.append(
            {
                "kind": kind,
                "outbox_id": entry.id,
                "status": str(entry.status),
                "recipients": len(entry.recipients),
                "error": entry.last_error,
            }
        )
        if entry.status != "sent" and settings.backend == "smtp":
            log.warning(
                "run %s: %s email %s stays %s in the outbox: %s", run_id, kind, entry.id, entry.status, entry.last_error
            )
    return entry


def _save_and_send(
    settings: EmailSettings,
    dlog: DeliveryLog,
    kind: str,
    composed: ComposedEmail,
    *,
    job: str,
    run_id: str,
    now: datetime,
) -> OutboxEntry | None:
    from opskit.delivery.compose import deliver
    from opskit.delivery.outbox import Outbox, OutboxStatus

    try:
        return deliver(settings, composed, job=job, run_id=run_id, now=now)
    except OpskitError as exc:
        # e.g. the SMTP login variables are not set: the message is in the outbox already (saved
        # before any send); give it this clear error instead of "interrupted while sending".
        log.error("run %s: the %s email could not be sent: %s", run_id, kind, exc)
        dlog.error("send", exc, kind=kind)
        outbox = Outbox(settings.outbox_dir)
        message_id = str(composed.message["Message-ID"] or "")
        for entry in outbox.entries():
            if entry.message_id == message_id and entry.status == OutboxStatus.PENDING:
                outbox.set_state(entry.id, OutboxStatus.PENDING, error=_one_line(exc))
                return outbox.get(entry.id)
        return None


# ------------------------------------------------------------------------------------------- alerts


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
) -> None:
    """Tell people a run needs attention: the failure alert email (when ``email``) and a chat post.

    The email goes to the job's recipients and says which job, when (the job's timezone), the
    one-line cause, the last lines of the run's log and where the run's folder is. Without a chat
    webhook the chat alert is only logged (the embedded default). Never raises.
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
        settings = mail_settings(config)

        def compose() -> ComposedEmail:
            from opskit.delivery.compose import compose_email

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

        send_email(settings, dlog, "alert", compose, job=job_name, run_id=record.id, now=now)
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
    from opskit.delivery.chat import post_alert

    chat = config.settings.chat
    try:
        attempts = post_alert(chat, title, text, fields)
    except Exception as exc:  # noqa: BLE001 - requests can raise more than DeliveryError (a bad URL)
        error = redactor.redact(_one_line(exc))
        log.error("chat alert for %s not posted: %s", fields.get("Job"), error)
        dlog.chat = {"configured": chat is not None, "kind": chat.kind if chat else None, "ok": False, "error": error}
        dlog.error("chat", error)
        return
    if chat is None:
        dlog.chat = {"configured": False, "logged": True}
    else:
        dlog.chat = {"configured": True, "kind": chat.kind, "ok": True, "attempts": attempts}


def failure_title(job_name: str, status: str) -> str:
    return f"Job {job_name} {STATUS_WORDS.get(status, status)}"


# ------------------------------------------------------------------------------------------- outbox


def send_pending_mail(config: Config) -> SendReport | None:
    """Send the outbox's pending mail (for the scheduler daemon, now and then); None without SMTP.

    Never raises: a missing SMTP login variable is logged and reported as every message pending.
    """
    settings = mail_settings(config)
    if settings.backend != "smtp":
        return None
    from opskit.delivery.outbox import Outbox, OutboxStatus
    from opskit.delivery.smtp import SendReport, send_pending

    try:
        return send_pending(settings)
    except OpskitError as exc:
        log.error("outbox: cannot send pending mail: %s", exc)
        report = SendReport()
        for entry in Outbox(settings.outbox_dir).entries(OutboxStatus.PENDING):
            report.pending.append(entry.id)
            report.errors[entry.id] = str(exc)
        return report


def outbox_command(config: Config, args: Any, *, out: IO[str] | None = None) -> int:
    """``runner.py outbox``: list the messages, ``--send`` pending mail, ``--resend ID`` one.

    Exit codes: 0, or 1 when ``--send`` left messages pending, failed or uncertain.
    """
    # Lines go to ``out`` (stdout) with write(): print() belongs to the CLI modules (ruff T201).
    out = out or sys.stdout
    settings = mail_settings(config)
    folder = config.outbox_dir
    if args.resend:
        from opskit.delivery.outbox import Outbox

        entry = Outbox(folder).resend(args.resend)
        out.write(f"message {entry.id} is pending again: {entry.subject}\n")
        if not args.send:
            out.write(
                "it is sent by the scheduler, or now with `runner.py outbox --send`\n"
                if settings.backend == "smtp"
                else "email.backend is 'outbox': it stays in the outbox folder\n"
            )
            return 0
    if args.send:
        return _send_command(settings, folder, out)
    return _list_command(config, folder, args.status, bool(args.json), out)


def _list_command(config: Config, folder: Path, status: str | None, as_json: bool, out: IO[str]) -> int:
    import json

    from opskit.delivery.outbox import OutboxStatus, list_outbox

    statuses = [s.value for s in OutboxStatus]
    if status and status not in statuses:
        raise UsageError(
            f"--status '{status}' is not a message status",
            hint=did_you_mean(status, statuses) or f"Use one of {', '.join(statuses)}",
        )
    entries = list_outbox(folder, status) if (folder / "index.sqlite3").exists() else []
    if as_json:
        rows = [{**e.to_dict(), "recipients_count": len(e.recipients)} for e in entries]
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not entries:
        out.write(f"no {status + ' ' if status else ''}messages in the outbox ({folder})\n")
        return 0
    tz = config.settings.timezone
    out.write(f"{'ID':<24}  {'CREATED':<16}  {'STATUS':<9}  {'TRIES':>5}  {'JOB':<20}  {'RCPT':>4}  SUBJECT\n")
    for e in entries:
        out.write(
            f"{e.id:<24}  {e.created_at.astimezone(tz):%Y-%m-%d %H:%M}  {e.status:<9}  "
            f"{e.attempts:>5}  {(e.job or '-')[:20]:<20}  {len(e.recipients):>4}  "
            f"{e.subject}\n"
        )
        if e.last_error and e.status != OutboxStatus.SENT:
            out.write(f"{'':<24}  last error: {e.last_error}\n")
    out.write(f"{len(entries)} message(s) in {folder}\n")
    return 0


def _send_command(settings: Any, folder: Path, out: IO[str]) -> int:
    from opskit.delivery.outbox import Outbox, OutboxStatus
    from opskit.delivery.smtp import send_pending

    if settings.backend != "smtp":
        out.write(
            f"email.backend is 'outbox': mail stays in {folder} by design, one .eml file per "
            "message that any mail client opens; there is no server to send to "
            "(set email.backend: smtp to send mail)\n"
        )
        return 0
    waiting = (
        [e for e in Outbox(folder).entries() if e.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)]
        if (folder / "index.sqlite3").exists()
        else []
    )
    if not waiting:
        out.write(f"nothing pending in {folder}\n")
        return 0
    report = send_pending(settings)
    outcome = {
        mid: name for name in ("sent", "pending", "failed", "uncertain", "busy") for mid in getattr(report, name)
    }
    for e in waiting:
        state = outcome.get(e.id, "skipped")
        line = f"{state:<9}  {e.id}  {e.subject} ({len(e.recipients)} recipient(s))"
        if e.id in report.errors:
            line += f": {report.errors[e.id]}"
        out.write(line + "\n")
    out.write(f"total: {report.summary()}\n")
    return 0 if report.ok else 1
