"""Message building: text + HTML + inline images + attachments, as one MIME ``EmailMessage``.

Building a message never talks to a server: delivery takes rendered messages (ARCHITECTURE.md, "Seams to
keep"). The settings it follows (``EmailSettings``, ``JobEmail``) are config.yaml's, in
``opskit.config.email``, which also checks the addresses.

Bcc never becomes a header: the outbox keeps the envelope recipients next to the .eml file.
"""

from __future__ import annotations

import email.policy
import logging
import mimetypes
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from html import escape
from pathlib import Path
from urllib.parse import quote

from opskit.config.email import parse_address
from opskit.errors import ConfigError, TaskError
from opskit.files import SHARED_FILE, atomic_path

log = logging.getLogger(__name__)

# The standard policy, except that a header written raw (the attachment's name= fallback) keeps the
# folding it was written with instead of being parsed and re-encoded as RFC 2231.
POLICY = email.policy.default.clone(refold_source="none")


@dataclass(frozen=True, slots=True)
class InlineImage:
    """An image the HTML shows by ``src="cid:{cid}"``."""

    cid: str
    data: bytes
    subtype: str = "png"


@dataclass(frozen=True, slots=True)
class LinkedFile:
    """An attachment that was too large for email, copied to the shared folder."""

    name: str
    path: Path
    url: str
    size: int


@dataclass(slots=True)
class BuiltMessage:
    """A message and what building it decided (files moved to the shared folder)."""

    message: EmailMessage
    linked: list[LinkedFile] = field(default_factory=list)


def clean_subject(subject: str) -> str:
    """One line: a subject rendered from data must not smuggle header lines in."""
    return " ".join(subject.split())


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    cc: Sequence[str] = (),
    inline_images: Iterable[InlineImage] = (),
    attachments: Iterable[Path | str] = (),
    now: datetime,
    max_bytes: int | None = None,
    shared_folder: Path | None = None,
    shared_folder_url: str | None = None,
    shared_subdir: str = "",
) -> EmailMessage:
    """A complete multipart message (Bcc is the envelope's business, see ``Outbox.add``).

    Structure: multipart/mixed[ multipart/alternative[ text/plain, multipart/related[ text/html, images ] ],
    attachments ]. Attachment names with non-ASCII characters are RFC 2231 encoded.

    When ``max_bytes`` is given and the message would be larger, the attachments are copied to
    ``shared_folder/shared_subdir`` and the message links to them instead, saying so at the top.

    Raises:
        ConfigError: a malformed address, or the message is too large and no shared folder is set.
        TaskError: an attachment is missing, or the message is too large even without attachments.
    """
    return build_message_ex(
        sender=sender,
        to=to,
        subject=subject,
        text=text,
        html=html,
        cc=cc,
        inline_images=inline_images,
        attachments=attachments,
        now=now,
        max_bytes=max_bytes,
        shared_folder=shared_folder,
        shared_folder_url=shared_folder_url,
        shared_subdir=shared_subdir,
    ).message


def build_message_ex(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    cc: Sequence[str] = (),
    inline_images: Iterable[InlineImage] = (),
    attachments: Iterable[Path | str] = (),
    now: datetime,
    max_bytes: int | None = None,
    shared_folder: Path | None = None,
    shared_folder_url: str | None = None,
    shared_subdir: str = "",
) -> BuiltMessage:
    """``build_message``, also returning the files it moved to the shared folder."""
    if now.tzinfo is None:
        raise TaskError("build_message: `now` must be an aware datetime")
    images = list(inline_images)
    files = [Path(p) for p in attachments]
    for path in files:
        if not path.is_file():
            raise TaskError(f"attachment {path} does not exist")
    headers = _headers(sender, to, cc, subject, now)
    message = _assemble(headers, text, html, images, files)
    size = len(message_bytes(message))
    if max_bytes is None or size <= max_bytes:
        return BuiltMessage(message)

    if not files:
        raise TaskError(f"the message is {_mb(size)} without attachments, over the {_mb(max_bytes)} limit")
    if shared_folder is None:
        raise ConfigError(
            f"the message is {_mb(size)}, over email.max_message_bytes ({_mb(max_bytes)}), "
            "and no email.shared_folder is set to put the attachments in"
        )
    linked = [_copy_to_shared(p, shared_folder, shared_subdir, shared_folder_url) for p in files]
    log.info(
        "message %s over %s: %d attachment(s) linked from the shared folder", _mb(size), _mb(max_bytes), len(linked)
    )
    text, html = _with_link_notice(text, html, linked, max_bytes)
    message = _assemble(headers, text, html, images, [])
    if len(message_bytes(message)) > max_bytes:
        raise TaskError(
            f"the message is {_mb(len(message_bytes(message)))} without attachments, over the {_mb(max_bytes)} limit"
        )
    return BuiltMessage(message, linked)


def _headers(sender: str, to: Sequence[str], cc: Sequence[str], subject: str, now: datetime) -> dict:
    if not to:
        raise ConfigError("an email needs at least one 'to' recipient")
    from_addr = parse_address(sender)
    return {
        "From": from_addr,
        "To": [parse_address(a) for a in to],
        "Cc": [parse_address(a) for a in cc],
        "Subject": clean_subject(subject),
        "Date": format_datetime(now),
        "Message-ID": make_msgid(domain=from_addr.domain or "localhost"),
    }


def _assemble(headers: dict, text: str, html: str | None, images: list[InlineImage], files: list[Path]) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    for name in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
        value = headers[name]
        if name in ("To", "Cc"):
            if value:
                msg[name] = value
        else:
            msg[name] = value
    msg["MIME-Version"] = "1.0"
    msg.set_content(text, subtype="plain", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        payload = msg.get_payload()
        assert isinstance(payload, list)  # multipart/alternative: [text, html]
        html_part = payload[1]
        assert isinstance(html_part, EmailMessage)
        for image in images:
            html_part.add_related(
                image.data,
                maintype="image",
                subtype=image.subtype,
                cid=f"<{image.cid}>",
                disposition="inline",
                filename=f"{image.cid.split('@')[0]}.{image.subtype}",
            )
    elif images:
        raise TaskError("inline images need an HTML body")
    for path in files:
        ctype, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        # EmailMessage encodes a non-ASCII filename as RFC 2231 (filename*=utf-8''...).
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
        parts = msg.get_payload()
        assert isinstance(parts, list) and isinstance(parts[-1], EmailMessage)  # multipart/mixed: the new part
        _name_fallback(parts[-1], path.name)
    return msg


def _name_fallback(part: EmailMessage, name: str) -> None:
    """Also name the attachment in Content-Type's ``name=``, which Outlook and older clients read when
    they do not understand RFC 2231's ``filename*=``: ASCII as is, anything else as an RFC 2047
    encoded word (``=?utf-8?b?...?=``), the form those clients decode."""
    if name.isascii():
        part.set_param("name", name)
        return
    # set_param would turn it into RFC 2231 again: the header is written raw, in short folded lines
    words = Header(name, "utf-8", maxlinelen=70).encode(splitchars=" ", maxlinelen=70).split()
    ctype = part.get_content_type()
    del part["Content-Type"]
    part.set_raw("Content-Type", f'{ctype};\r\n name="' + "\r\n ".join(words) + '"')


def _copy_to_shared(path: Path, folder: Path, subdir: str, url: str | None) -> LinkedFile:
    target_dir = folder / subdir if subdir else folder
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    with atomic_path(target, mode=SHARED_FILE) as tmp:  # shared on purpose: readers follow the link
        shutil.copyfile(path, tmp)
    rel = f"{subdir.strip('/')}/{path.name}" if subdir else path.name
    link = f"{url.rstrip('/')}/{quote(rel)}" if url else str(target)
    return LinkedFile(name=path.name, path=target, url=link, size=target.stat().st_size)


def _with_link_notice(text: str, html: str | None, linked: list[LinkedFile], limit: int) -> tuple[str, str | None]:
    lines = [f"  - {f.name} ({_mb(f.size)}): {f.url}" for f in linked]
    notice = (
        f"The attachments were too large for email (limit {_mb(limit)}); they are in the shared folder:\n"
        + "\n".join(lines)
        + "\n\n"
    )
    text = notice + text
    if html is None:
        return text, None
    items = "".join(
        f'<li><a href="{escape(f.url)}" style="color:#0b5cad">{escape(f.name)}</a> ({_mb(f.size)})</li>' for f in linked
    )
    block = (
        '<div style="margin:0;padding:12px 16px;background-color:#e8f1fb;border-bottom:1px solid #b6d3f2;'
        'color:#0b3a6b;font-family:Arial,sans-serif;font-size:13px">'
        f"<strong>The attachments were too large for email</strong> (limit {_mb(limit)}); "
        f'they are in the shared folder:<ul style="margin:6px 0 0 18px;padding:0">{items}</ul></div>'
    )
    match = re.search(r"<body[^>]*>", html, flags=re.IGNORECASE)
    html = html[: match.end()] + block + html[match.end() :] if match else block + html
    return text, html


def message_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire and into the .eml file: CRLF line ends (RFC 5322)."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def envelope_recipients(message: EmailMessage, bcc: Sequence[str] = ()) -> list[str]:
    """Bare addresses for RCPT TO: To and Cc from the headers, plus Bcc; each once, in order."""
    seen: dict[str, None] = {}
    for _, addr in getaddresses([str(v) for v in message.get_all("To", []) + message.get_all("Cc", [])]):
        seen.setdefault(addr, None)
    for value in bcc:
        seen.setdefault(parse_address(value).addr_spec, None)
    return [a for a in seen if a]
