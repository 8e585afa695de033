"""The outbox pages and the email exactly as its recipients saw it.

A message is read back from its ``.eml`` file: the headers, the text part, the HTML part and the
attachments. The HTML is served on its own URL inside a sandboxed frame, with a Content-Security-Policy
that forbids scripts, forms and any request but its own inline images (``cid:`` links are rewritten to
this app), so a report that quotes hostile scraped text cannot run anything here either. Who may see a
message follows its job; a message of no job (or of a job that left the config) is for admins.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from opskit.config.model import Config
from opskit.delivery import pipeline
from opskit.delivery.outbox import outbox_exists, outbox_of
from opskit.engine import outbox_table  # noqa: F401 (the outbox of a history on PostgreSQL)
from opskit.engine.history import RunRecord
from opskit.errors import OpskitError
from opskit.web.auth import client_ip, require, state

bp = Blueprint("outbox", __name__)

_MSG_ID = re.compile(r"^[0-9A-Za-z]+-[0-9a-f]+$")
EMAIL_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
)


@dataclass
class Part:
    index: int
    filename: str
    content_type: str
    size: int
    cid: str | None = None


@dataclass
class ParsedMessage:
    subject: str
    sender: str
    to: str
    cc: str
    date: str
    text: str | None
    has_html: bool
    attachments: list[Part] = field(default_factory=list)
    inline: list[Part] = field(default_factory=list)


def parse(raw: bytes) -> tuple[EmailMessage, ParsedMessage]:
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    parsed = ParsedMessage(
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        cc=str(message.get("Cc", "")),
        date=str(message.get("Date", "")),
        text=text_part.get_content() if text_part is not None else None,  # type: ignore[union-attr]
        has_html=html_part is not None,
    )
    for i, part in enumerate(message.walk()):
        if part.is_multipart() or part in (text_part, html_part):
            continue
        payload = part.get_payload(decode=True) or b""
        cid = (part.get("Content-ID") or "").strip("<> ") or None
        entry = Part(i, part.get_filename() or f"part-{i}", part.get_content_type(), len(payload), cid)
        if part.get_content_disposition() == "attachment" or not cid:
            parsed.attachments.append(entry)
        else:
            parsed.inline.append(entry)
    return message, parsed


def messages_of_run(config: Config, record: RunRecord) -> list[dict[str, Any]]:
    """The messages delivery saved for a run, with what the run page shows of each."""
    emails = (record.delivery or {}).get("emails") or []
    settings = config.email_settings()
    if not emails or not outbox_exists(settings):
        return []

    outbox = outbox_of(settings)
    found = []
    for email in emails:
        msg_id = email.get("outbox_id")
        if not msg_id:
            found.append({"kind": email.get("kind"), "entry": None, "error": email.get("error"), "parsed": None})
            continue
        try:
            entry = outbox.get(msg_id)
            _, parsed = parse(outbox.read_bytes(msg_id))
        except (OpskitError, OSError):
            found.append({"kind": email.get("kind"), "entry": None, "error": "no longer in the outbox", "parsed": None})
            continue
        found.append({"kind": email.get("kind"), "entry": entry, "error": email.get("error"), "parsed": parsed})
    return found


@bp.route("/outbox")
def outbox() -> Any:
    st = state()
    status = request.args.get("status") or None
    entries = [e for e in reversed(_outbox().entries()) if _sees(e.job)] if _has_index() else []
    counts: dict[str, int] = {}
    for e in entries:
        counts[str(e.status)] = counts.get(str(e.status), 0) + 1
    if status:
        entries = [e for e in entries if e.status == status]
    backend = st.config.settings.email.backend
    return render_template("outbox.html", entries=entries[:500], counts=counts, status=status, backend=backend)


@bp.route("/outbox/<msg_id>")
def message(msg_id: str) -> Any:
    entry, _, parsed = _visible_message(msg_id)
    return render_template("message.html", entry=entry, parsed=parsed)


@bp.route("/outbox/<msg_id>/html")
def message_html(msg_id: str) -> Any:
    _, message, _ = _visible_message(msg_id)
    html_part = message.get_body(preferencelist=("html",))
    if html_part is None:
        abort(404)
    html = html_part.get_content()  # type: ignore[union-attr]
    # Inline images become data: URIs: the sandboxed frame has no origin, so it could not fetch them here.
    images = {}
    for part in message.walk():
        cid = (part.get("Content-ID") or "").strip("<> ")
        if cid and part.get_content_maintype() == "image":
            payload: bytes = part.get_payload(decode=True) or b""  # type: ignore[assignment]
            data = base64.b64encode(payload).decode("ascii")
            images[cid] = f"data:{part.get_content_type()};base64,{data}"
    html = re.sub(r"""(["'(])cid:([^"')\s]+)""", lambda m: m.group(1) + images.get(m.group(2), "about:blank"), html)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = EMAIL_CSP
    return response


@bp.route("/outbox/<msg_id>/cid/<path:cid>")
def inline(msg_id: str, cid: str) -> Any:
    _, message, _ = _visible_message(msg_id)
    for part in message.walk():
        if (part.get("Content-ID") or "").strip("<> ") == cid and part.get_content_maintype() == "image":
            return Response(part.get_payload(decode=True) or b"", mimetype=part.get_content_type())
    abort(404)


@bp.route("/outbox/<msg_id>/part/<int:index>")
def attachment(msg_id: str, index: int) -> Any:
    entry, message, parsed = _visible_message(msg_id)
    wanted = next((p for p in parsed.attachments + parsed.inline if p.index == index), None)
    if wanted is None:
        abort(404)
    part = list(message.walk())[index]
    state().store.audit(
        "download",
        user=g.viewer.name,
        target=entry.run_id or msg_id,
        detail={"message": msg_id, "file": wanted.filename},
        ip=client_ip(),
    )
    safe_name = re.sub(r"[^\w.\- ]", "_", wanted.filename)[:150] or "attachment"
    return Response(
        part.get_payload(decode=True) or b"",
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )


@bp.route("/outbox/<msg_id>.eml")
def eml(msg_id: str) -> Any:
    entry, _, _ = _visible_message(msg_id)
    state().store.audit(
        "download",
        user=g.viewer.name,
        target=entry.run_id or msg_id,
        detail={"message": msg_id, "file": "eml"},
        ip=client_ip(),
    )
    return Response(
        _outbox().read_bytes(msg_id),
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{msg_id}.eml"'},
    )


@bp.route("/outbox/<msg_id>/resend", methods=["GET", "POST"])
def resend(msg_id: str) -> Any:
    entry, _, parsed = _visible_message(msg_id)
    viewer = require("runner")
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template("resend.html", entry=entry, parsed=parsed)
    try:
        _outbox().resend(msg_id)
    except OpskitError as exc:
        flash(str(exc))
        return redirect(url_for("outbox.message", msg_id=msg_id), code=303)
    state().store.audit("resend", user=viewer.name, target=entry.job, detail={"message": msg_id}, ip=client_ip())
    backend = state().config.settings.email.backend
    flash(
        "Queued again: the scheduler sends it within five minutes, or use Send pending now."
        if backend == "smtp"
        else "Queued again. email.backend is 'outbox': it stays in the outbox folder."
    )
    return redirect(url_for("outbox.message", msg_id=msg_id), code=303)


@bp.route("/outbox/send", methods=["POST"])
def send() -> Any:
    viewer = require("runner")

    report = pipeline.send_pending_mail(state().config)
    state().store.audit(
        "send", user=viewer.name, detail={"result": report.summary() if report else "no smtp"}, ip=client_ip()
    )
    flash(
        f"Sending pending mail: {report.summary()}"
        if report
        else "email.backend is 'outbox': there is no server to send to."
    )
    return redirect(url_for("outbox.outbox"), code=303)


def _outbox() -> Any:

    return outbox_of(state().config.email_settings())


def _has_index() -> bool:
    return outbox_exists(state().config.email_settings())


def _sees(job: str | None) -> bool:
    config = state().config
    return bool(g.viewer.sees(config.jobs.get(job) if job else None))


def _visible_message(msg_id: str) -> tuple[Any, EmailMessage, ParsedMessage]:
    if not _MSG_ID.match(msg_id) or not _has_index():
        abort(404)
    try:
        entry = _outbox().get(msg_id)
    except OpskitError:
        abort(404)
    if not _sees(entry.job):
        abort(404)
    path: Path = entry.path
    if not path.is_file():
        abort(404, "The message's .eml file is gone")
    message, parsed = parse(path.read_bytes())
    return entry, message, parsed
