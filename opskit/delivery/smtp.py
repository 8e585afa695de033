"""Send the outbox's pending messages over SMTP, each at most once once the server has accepted it.

Exactly-once, and the windows where it cannot be known
------------------------------------------------------
A message counts as sent when, and only when, the server answers 250 to the end of DATA. The order per
message is:

1. take the message's OS file lock (non-blocking; busy means another flusher has it, so skip it);
2. re-read its row; go on only if it is still ``pending`` (another flusher may have just sent it);
3. record ``sending``/``envelope``, then MAIL FROM and RCPT TO;
4. record phase ``data`` (committed), then DATA, the whole message and its final dot;
5. on the final 250, record ``sent`` at once (committed), then release the lock.

What happens when it goes wrong depends on whether the server can have the message:

- It cannot: the server was down or refused the login (the message stays ``pending``; its attempts are
  not used up), answered 4xx (``pending``, one attempt used), or broke the connection before the whole
  message was handed over: during the envelope, before DATA's 354, while the message was being written,
  or by resetting the connection, which its system does only when it closes with part of the message
  unread (``pending``, one attempt used). After ``email.max_attempts`` attempts the message is ``failed``.
  A 5xx makes it ``failed`` at once. A server that never answered 250 has not accepted the message
  (RFC 5321, 4.1.1.4), so sending it again is not a duplicate.
- It may: the whole message and its final dot were handed over, and then no answer came: the server went
  silent (``timeout_s``) or closed the connection. Servers often queue the message and then fail to
  answer; sending it again could deliver it twice (RFC 1047). The message becomes ``uncertain`` (one
  attempt used), is never sent again by itself, and the scheduler alerts; a person checks with the
  recipients and resends it (``runner.py outbox --resend ID``) or closes it (``--dismiss ID``).
- A crash of this process (power loss, kill -9) after step 4's commit leaves the row ``sending`` with
  phase ``data`` and nobody holding the lock. The next flusher cannot tell how far it got, so it marks the
  message ``uncertain`` too. A crash before phase ``data`` is safe to retry and is retried.

The Message-ID stays the same across resends, so mail clients can also collapse a duplicate.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opskit.delivery.outbox import Outbox, OutboxEntry, OutboxStatus, outbox_of
from opskit.errors import ConfigError

if TYPE_CHECKING:
    from opskit.config.email import EmailSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SendReport:
    """What one flush did; ``ok`` when nothing pending was left unsent."""

    sent: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.pending or self.failed or self.uncertain)

    def summary(self) -> str:
        parts = [f"{len(self.sent)} sent"]
        for name in ("pending", "failed", "uncertain", "busy"):
            if getattr(self, name):
                parts.append(f"{len(getattr(self, name))} {name}")
        return ", ".join(parts)


class _ServerProblem(Exception):
    """The server or the login failed: no point trying the other messages in this flush.

    ``maybe_delivered``: the whole message was handed over and no answer came (silence or a closed
    connection); the server may have queued it, so it is ``uncertain``, never resent by itself.
    """

    def __init__(self, text: str, *, maybe_delivered: bool = False):
        super().__init__(text)
        self.maybe_delivered = maybe_delivered


class _MessageProblem(Exception):
    def __init__(self, text: str, *, permanent: bool):
        super().__init__(text)
        self.permanent = permanent


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SmtpSession:
    """One SMTP connection for a flush: connect, TLS, login; reconnects after a dropped connection."""

    def __init__(self, settings: EmailSettings):
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        self._secrets: list[str] = []

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _tls_context(self) -> ssl.SSLContext:
        ca = self.settings.tls_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _credentials(self) -> tuple[str, str] | None:
        s = self.settings
        if not s.username_env:
            return None
        user, password = os.environ.get(s.username_env), os.environ.get(s.password_env or "")
        missing = [n for n, v in ((s.username_env, user), (s.password_env, password)) if not v]
        if missing:
            raise ConfigError(
                f"SMTP login needs the environment variable(s) {', '.join(map(str, missing))}",
                hint="set them in .env or the environment",
            )
        assert user is not None and password is not None
        self._secrets = [password]
        return user, password

    def scrub(self, text: str) -> str:
        """Remove any secret from a message before it is logged or stored (belt and braces)."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        s = self.settings
        creds = self._credentials()
        try:
            if s.security == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self._tls_context())
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            try:
                conn.ehlo()
                if s.security == "starttls":
                    conn.starttls(context=self._tls_context())
                    conn.ehlo()
                if creds:
                    conn.login(*creds)
            except BaseException:
                conn.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise _ServerProblem(f"SMTP login to {self.where} refused ({_reply(exc)})") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise _ServerProblem(f"SMTP server {self.where}: {exc}") from None
        except ssl.SSLError as exc:
            raise _ServerProblem(f"TLS with {self.where} failed: {exc.reason or exc}") from None
        except TimeoutError:
            raise _ServerProblem(f"SMTP server {self.where} timed out after {s.timeout_s:g}s") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _ServerProblem(f"SMTP server {self.where} unavailable: {_describe(exc)}") from None
        self._conn = conn
        return conn

    def drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.drop()


def send_pending(settings: EmailSettings, *, clock: Callable[[], datetime] = _utcnow) -> SendReport:
    """Send every pending message in ``settings.outbox_dir`` over SMTP; what stays pending says why.

    Safe to run from several processes at once (the scheduler and ``runner.py outbox --send``): each
    message is sent under its own lock, and only while its row still says pending.

    Raises:
        ConfigError: the SMTP login variables are not set.
    """
    if settings.backend != "smtp":
        raise ConfigError(
            "email.backend is 'outbox': messages are saved, not sent",
            hint="set email.backend: smtp and the SMTP host to send them",
        )
    outbox = outbox_of(settings)
    report = SendReport()
    session = SmtpSession(settings)
    server_error: str | None = None
    try:
        for entry in outbox.entries():
            if entry.status not in (OutboxStatus.PENDING, OutboxStatus.SENDING):
                continue
            if server_error is not None:  # the server is down: leave the rest, untouched, for next time
                report.pending.append(entry.id)
                report.errors[entry.id] = server_error
                continue
            server_error = _send_locked(outbox, session, entry.id, report, clock)
    finally:
        session.close()
    log.info("outbox flush: %s", report.summary())
    return report


flush_outbox = send_pending


def send_one(settings: EmailSettings, msg_id: str, *, clock: Callable[[], datetime] = _utcnow) -> OutboxEntry:
    """Send one pending message now (the SMTP backend's send-after-save); returns its updated entry.

    A failure leaves it pending for the next flush and does not raise: the mail is safe in the outbox.
    """
    outbox = outbox_of(settings)
    session = SmtpSession(settings)
    try:
        _send_locked(outbox, session, msg_id, SendReport(), clock)
    finally:
        session.close()
    return outbox.get(msg_id)


def _send_locked(
    outbox: Outbox, session: SmtpSession, msg_id: str, report: SendReport, clock: Callable[[], datetime]
) -> str | None:
    """Send one message under its lock; returns a server-wide error that should stop the flush."""
    with outbox.lock(msg_id) as mine:
        if not mine:
            report.busy.append(msg_id)
            return None
        entry = outbox.get(msg_id)  # re-read under the lock: another flusher may have finished it
        if entry.status == OutboxStatus.SENDING:
            if entry.phase == "data":
                note = (
                    "a flusher stopped after handing this message to the server and before "
                    "recording its answer; it may have been delivered; resend it by hand if not"
                )
                outbox.set_state(msg_id, OutboxStatus.UNCERTAIN, error=note)
                log.warning("outbox: %s is uncertain: %s", msg_id, note)
                report.uncertain.append(msg_id)
                report.errors[msg_id] = note
                return None
            # died before DATA: the server cannot have accepted it; send it now
        elif entry.status != OutboxStatus.PENDING:
            return None
        try:
            _transmit(outbox, session, entry, clock)
        except _ServerProblem as exc:
            error = session.scrub(str(exc))
            if exc.maybe_delivered:
                # The whole message went out and no answer came back: the server may have queued it.
                # Sending again could deliver it twice, so a person decides (--resend or --dismiss).
                note = f"{error}; it may have been delivered: resend it by hand if not"
                outbox.set_state(msg_id, OutboxStatus.UNCERTAIN, error=note, count_attempt=True)
                report.uncertain.append(msg_id)
                report.errors[msg_id] = note
                log.warning("outbox: %s is uncertain: %s", msg_id, note)
                return error
            outbox.set_state(msg_id, OutboxStatus.PENDING, error=error)
            report.pending.append(msg_id)
            report.errors[msg_id] = error
            log.warning("outbox: %s stays pending: %s", msg_id, error)
            return error
        except _MessageProblem as exc:
            error = session.scrub(str(exc))
            attempts = entry.attempts + 1
            permanent = exc.permanent or attempts >= session.settings.max_attempts
            status = OutboxStatus.FAILED if permanent else OutboxStatus.PENDING
            outbox.set_state(msg_id, status, error=error, count_attempt=True)
            (report.failed if permanent else report.pending).append(msg_id)
            report.errors[msg_id] = error
            log.warning(
                "outbox: %s %s after attempt %d: %s",
                msg_id,
                "failed permanently" if permanent else "stays pending",
                attempts,
                error,
            )
            return None
        except BaseException:
            # Anything unexpected (a missing login variable, Ctrl-C): never leave the row 'sending'.
            # After phase 'data' the server may have the message, so that case is uncertain.
            phase = outbox.get(msg_id).phase
            status = OutboxStatus.UNCERTAIN if phase == "data" else OutboxStatus.PENDING
            outbox.set_state(msg_id, status, error="interrupted while sending")
            session.drop()
            raise
        report.sent.append(msg_id)
        return None


def _transmit(outbox: Outbox, session: SmtpSession, entry: OutboxEntry, clock: Callable[[], datetime]) -> None:
    # smtplib sends bytes as they are: make every line end CRLF (an .eml edited by hand may not)
    data = re.sub(rb"(?<!\r)\n", b"\r\n", outbox.read_bytes(entry.id))
    outbox.set_state(entry.id, OutboxStatus.SENDING, phase="envelope")
    conn = session.connection()
    stage = "envelope"  # then "data" (DATA sent, the message not yet all written), then "answer"
    try:
        code, resp = conn.mail(entry.sender, [f"SIZE={len(data)}"] if conn.has_extn("size") else [])
        if code != 250:
            conn.rset()
            raise _MessageProblem(f"sender {entry.sender} refused ({code} {_text(resp)})", permanent=code >= 500)
        refused: dict[str, str] = {}
        for rcpt in entry.recipients:
            code, resp = conn.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = f"{code} {_text(resp)}"
        if len(refused) == len(entry.recipients):
            conn.rset()
            permanent = all(r.startswith("5") for r in refused.values())
            raise _MessageProblem(
                "every recipient refused: " + "; ".join(f"{a} ({r})" for a, r in refused.items()), permanent=permanent
            )
        outbox.set_state(entry.id, OutboxStatus.SENDING, phase="data")
        stage = "data"
        # smtplib's data() in its three parts, so that we know whether the whole message went out.
        code, resp = conn.docmd("data")
        if code != 354:
            raise _MessageProblem(f"message refused ({code} {_text(resp)})", permanent=code >= 500)
        conn.send(_dot_stuffed(data))
        stage = "answer"
        code, resp = conn.getreply()
        if code != 250:
            raise _MessageProblem(f"message refused ({code} {_text(resp)})", permanent=code >= 500)
        # The server has the message: record it before anything else can fail.
        outbox.set_state(
            entry.id,
            OutboxStatus.SENT,
            sent_at=clock(),
            error=("some recipients refused: " + "; ".join(f"{a} ({r})" for a, r in refused.items()))
            if refused
            else None,
        )
        log.info(
            "outbox: sent %s to %d recipient(s) via %s", entry.id, len(entry.recipients) - len(refused), session.where
        )
    except smtplib.SMTPServerDisconnected as exc:
        session.drop()
        raise _lost(session, stage, exc.__context__) from None
    except smtplib.SMTPResponseException as exc:
        session.drop()
        raise _MessageProblem(
            f"SMTP server {session.where} answered {_reply(exc)}", permanent=exc.smtp_code >= 500
        ) from None
    except OSError as exc:
        session.drop()
        raise _lost(session, stage, exc) from None


def _lost(session: SmtpSession, stage: str, cause: BaseException | None) -> Exception:
    """The connection broke (or went silent) during a message's transaction: can the server have it?"""
    where, timeout = session.where, session.settings.timeout_s
    silent = isinstance(cause, TimeoutError)
    if stage == "answer" and not isinstance(cause, ConnectionResetError):
        # Everything was handed over. Silence, or a clean close, after the final dot: it may be queued.
        # (A reset is different: a system resets a connection closed with data unread, so the server
        # never read the final dot, and cannot have accepted the message.)
        what = f"did not answer within {timeout:g}s" if silent else "closed the connection without answering"
        return _ServerProblem(f"SMTP server {where} took the whole message and {what}", maybe_delivered=True)
    if silent and stage != "answer":
        text = f"SMTP server {where} timed out after {timeout:g}s before accepting the message"
    else:
        text = f"SMTP server {where} closed the connection before accepting the message"
    return _MessageProblem(text, permanent=False)


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA sends it: lines starting with "." doubled, ended by CRLF "." CRLF (RFC 5321 4.5.2)."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())
