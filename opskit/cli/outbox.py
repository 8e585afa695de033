"""``runner.py outbox``: list the mail in the outbox, ``--send`` pending mail, ``--resend ID`` or ``--dismiss ID``
one message.

A command-line face on ``opskit.delivery``'s outbox and SMTP sender: it reads and prints, and the outbox
decides. Exit codes: 0, or 1 when after ``--send`` mail is still pending, failed in this send, or
``uncertain`` (waiting for a person: ``--resend`` or ``--dismiss`` it); a bad ``--status`` or an unknown
message id is a usage error (2, printed by ``main``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.delivery.outbox import OutboxStatus, list_outbox, outbox_exists, outbox_of
from opskit.delivery.smtp import send_pending
from opskit.engine import outbox_table  # noqa: F401 (the outbox of a history on PostgreSQL)
from opskit.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from opskit.config.email import EmailSettings
    from opskit.config.model import Config


def outbox_command(config: Config, args: Any) -> int:
    """``runner.py outbox``: list the messages, ``--send`` pending mail, ``--resend ID`` one.

    Exit codes: 0, or 1 when ``--send`` left messages pending, failed or uncertain.
    """
    settings = config.email_settings()
    folder = config.outbox_dir
    if args.dismiss:
        entry = outbox_of(settings).dismiss(args.dismiss)
        print(f"message {entry.id} is dismissed: it stays in the outbox and is never sent: {entry.subject}")
        return 0
    if args.resend:
        entry = outbox_of(settings).resend(args.resend)
        print(f"message {entry.id} is pending again: {entry.subject}")
        if not args.send:
            print(
                "it is sent by the scheduler, or now with `runner.py outbox --send`"
                if settings.backend == "smtp"
                else "email.backend is 'outbox': it stays in the outbox folder"
            )
            return 0
    if args.send:
        return _send(settings, folder)
    return _list(config, settings, args.status, bool(args.json))


def _list(config: Config, settings: EmailSettings, status: str | None, as_json: bool) -> int:
    folder = settings.outbox_dir
    statuses = [s.value for s in OutboxStatus]
    if status and status not in statuses:
        raise UsageError(
            f"--status '{status}' is not a message status",
            hint=did_you_mean(status, statuses) or f"Use one of {', '.join(statuses)}",
        )
    entries = list_outbox(folder, status, history=settings.shared_history) if outbox_exists(settings) else []
    if as_json:
        rows = [{**e.to_dict(), "recipients_count": len(e.recipients)} for e in entries]
        print(json.dumps(rows, indent=2))
        return 0
    if not entries:
        print(f"no {status + ' ' if status else ''}messages in the outbox ({folder})")
        return 0
    tz = config.settings.timezone
    print(f"{'ID':<24}  {'CREATED':<16}  {'STATUS':<9}  {'TRIES':>5}  {'JOB':<20}  {'RCPT':>4}  SUBJECT")
    for e in entries:
        print(
            f"{e.id:<24}  {e.created_at.astimezone(tz):%Y-%m-%d %H:%M}  {e.status:<9}  "
            f"{e.attempts:>5}  {(e.job or '-')[:20]:<20}  {len(e.recipients):>4}  "
            f"{e.subject}"
        )
        if e.last_error and e.status != OutboxStatus.SENT:
            print(f"{'':<24}  last error: {e.last_error}")
    print(f"{len(entries)} message(s) in {folder}")
    return 0


def _send(settings: EmailSettings, folder: Path) -> int:
    if settings.backend != "smtp":
        print(
            f"email.backend is 'outbox': mail stays in {folder} by design, one .eml file per "
            "message that any mail client opens; there is no server to send to "
            "(set email.backend: smtp to send mail)"
        )
        return 0
    waiting = (
        [e for e in outbox_of(settings).entries() if e.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)]
        if outbox_exists(settings)
        else []
    )
    if not waiting:
        print(f"nothing pending in {folder}")
        return _uncertain(settings)
    report = send_pending(settings)
    outcome = {
        mid: name for name in ("sent", "pending", "failed", "uncertain", "busy") for mid in getattr(report, name)
    }
    for e in waiting:
        state = outcome.get(e.id, "skipped")
        line = f"{state:<9}  {e.id}  {e.subject} ({len(e.recipients)} recipient(s))"
        if e.id in report.errors:
            line += f": {report.errors[e.id]}"
        print(line)
    print(f"total: {report.summary()}")
    return max(0 if report.ok else 1, _uncertain(settings))


def _uncertain(settings: EmailSettings) -> int:
    """Name the uncertain messages a person must decide on; 1 when there are any.

    An uncertain message may have been delivered (the server took all of it and never answered): it is
    never sent again by itself, so ``--send`` cannot finish the job and must not say it did.
    """
    if not outbox_exists(settings):
        return 0
    uncertain = outbox_of(settings).entries(OutboxStatus.UNCERTAIN)
    if not uncertain:
        return 0
    print(
        f"{len(uncertain)} message(s) uncertain: the server may have delivered them; check with the recipients,"
        " then `runner.py outbox --resend ID` or `runner.py outbox --dismiss ID`:"
    )
    for e in uncertain:
        print(f"  {e.id}  {e.subject} ({len(e.recipients)} recipient(s))")
    return 1
