"""One message, from template to outbox: render it, build it, save it, and (SMTP backend) send it.

``compose_email`` renders a job's email (HTML, text and subject) and builds the MIME message before anything
is sent; ``deliver`` saves a message to the outbox and sends it; ``send_email`` does both for the pipeline
without ever raising, writing what happened into the run's ``DeliveryLog``. What to send, and when, is
decided above (``pipeline``, ``alerts``); the parts below are ``render``, ``mail``, ``outbox`` and ``smtp``.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from opskit.delivery.mail import InlineImage, LinkedFile, build_message_ex
from opskit.delivery.outbox import OutboxEntry, OutboxStatus, outbox_of
from opskit.delivery.record import DeliveryLog, one_line
from opskit.delivery.render import Renderer, TemplateError
from opskit.delivery.smtp import send_one
from opskit.errors import OpskitError, TaskError

if TYPE_CHECKING:
    from opskit.config.email import EmailSettings, JobEmail

log = logging.getLogger(__name__)

CHART_CID = "trend@opskit"


@dataclass(slots=True)
class ComposedEmail:
    """A message ready for the outbox, with its Bcc (never a header) and any files linked instead."""

    message: EmailMessage
    bcc: list[str]
    linked: list[LinkedFile] = field(default_factory=list)


def should_email(job_email: JobEmail, outcome: Literal["success", "failure"]) -> bool:
    """Whether this job's email goes out for a run that ended in ``outcome``."""
    return outcome in job_email.on


def resolve_attachments(patterns: Iterable[str], files: Sequence[Path], base_dir: Path | None = None) -> list[Path]:
    """The run's files matching ``attach`` entries: an output's name, or a glob over names or paths.

    Raises:
        TaskError: an entry matched nothing, naming the entry and the files there were.
    """
    chosen: dict[Path, None] = {}
    for pattern in patterns:
        hits = [p for p in files if fnmatch.fnmatch(p.name, pattern) or fnmatch.fnmatch(str(p), pattern)]
        if not hits and base_dir is not None:
            hits = sorted(p for p in base_dir.glob(pattern) if p.is_file())
        if not hits:
            names = ", ".join(p.name for p in files) or "none"
            raise TaskError(f"attach: {pattern!r} matches no output file (outputs: {names})")
        for p in hits:
            chosen.setdefault(p, None)
    return list(chosen)


def compose_email(
    renderer: Renderer,
    job_email: JobEmail,
    settings: EmailSettings,
    *,
    context: Mapping[str, Any],
    job: str,
    run_id: str,
    now: datetime,
    files: Sequence[Path] = (),
    chart_png: bytes | None = None,
    template: str | None = None,
    run_dir: Path | None = None,
) -> ComposedEmail:
    """Render the job's email (HTML + text + subject) and build the message, before anything is sent.

    ``context`` is the template's data; ``job``, ``run_id`` and ``generated_at`` (= ``now``) are added, as
    are ``chart_cid`` when a chart is given and ``files`` (the attached names).

    Raises:
        TemplateError: a template or the subject uses an unknown name; names file and line.
        TaskError, ConfigError: from attachments and message building.
    """
    attachments = resolve_attachments(job_email.attach, files, run_dir)
    ctx: dict[str, Any] = {"job": job, "run_id": run_id, "generated_at": now}
    ctx.setdefault("files", [p.name for p in attachments])
    ctx.update(context)
    images: list[InlineImage] = []
    if chart_png is not None:
        images.append(InlineImage(CHART_CID, chart_png))
        ctx["chart_cid"] = CHART_CID
    body = renderer.render_email(template or job_email.template, ctx)
    subject = renderer.render_string(job_email.subject, ctx, label=f"job '{job}': email subject")
    built = build_message_ex(
        sender=settings.sender,
        to=job_email.to,
        cc=job_email.cc,
        subject=subject,
        text=body.text,
        html=body.html,
        inline_images=images,
        attachments=attachments,
        now=now,
        max_bytes=settings.max_message_bytes,
        shared_folder=settings.shared_folder,
        shared_folder_url=settings.shared_folder_url,
        shared_subdir=f"{job}/{run_id}",
    )
    return ComposedEmail(built.message, list(job_email.bcc), built.linked)


def deliver(
    settings: EmailSettings,
    message: EmailMessage | ComposedEmail,
    *,
    bcc: Sequence[str] = (),
    job: str | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
    send: bool = True,
) -> OutboxEntry:
    """Save the message to the outbox first; with the SMTP backend, then try to send it.

    A send failure does not raise: the message stays pending with its error, and ``send_pending`` (the
    scheduler, or ``runner.py outbox --send``) retries it. Check ``entry.status``. With ``send=False`` the
    message is only saved, pending: the scheduler sends it from its mail thread, never from its loop.
    """
    if isinstance(message, ComposedEmail):
        bcc = [*message.bcc, *bcc]
        message = message.message
    outbox = outbox_of(settings)
    entry = outbox.add(message, bcc=bcc, job=job, run_id=run_id, now=now or datetime.now(UTC))
    if settings.backend == "smtp":
        return send_one(settings, entry.id) if send else entry
    outbox.set_state(entry.id, OutboxStatus.KEPT)  # the .eml file is the delivery
    return outbox.get(entry.id)


def send_email(
    settings: EmailSettings,
    dlog: DeliveryLog,
    kind: str,
    compose: Callable[[], ComposedEmail],
    *,
    job: str,
    run_id: str,
    now: datetime,
    send: bool = True,
) -> OutboxEntry | None:
    """Compose a message, save it to the outbox and (SMTP backend, ``send``) send it; never raises.

    A template error is a bug, not a delivery problem: it is logged at ERROR and recorded with
    ``bug: true`` so that it stands out in ``runner.py show``. A send that fails leaves the message
    pending in the outbox with its error (``send_pending`` retries it).

    Returns:
        The outbox entry, or None when the message could not be built.
    """
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
    entry = _save_and_send(settings, dlog, kind, composed, job=job, run_id=run_id, now=now, send=send)
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
        if entry.status != "sent" and settings.backend == "smtp" and send:
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
    send: bool = True,
) -> OutboxEntry | None:
    try:
        return deliver(settings, composed, job=job, run_id=run_id, now=now, send=send)
    except OpskitError as exc:
        # e.g. the SMTP login variables are not set: the message is in the outbox already (saved
        # before any send); give it this clear error instead of "interrupted while sending".
        log.error("run %s: the %s email could not be sent: %s", run_id, kind, exc)
        dlog.error("send", exc, kind=kind)
        outbox = outbox_of(settings)
        message_id = str(composed.message["Message-ID"] or "")
        for entry in outbox.entries():
            if entry.message_id == message_id and entry.status == OutboxStatus.PENDING:
                outbox.set_state(entry.id, OutboxStatus.PENDING, error=one_line(exc))
                return outbox.get(entry.id)
        return None
