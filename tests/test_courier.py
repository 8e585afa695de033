"""Delivery off the scheduler's loop: a mail server that misbehaves never stalls the loop or doubles a message.

The scheduler is driven with a fake clock and the fake executor of test_daemon.py (the loop's decisions are
the subject); mail goes to real servers on 127.0.0.1: aiosmtpd, and bare servers that misbehave on purpose
(tests/smtp_fixtures.py: mute, hanging up after the whole message). Chat alerts go to a real webhook.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opskit.delivery.outbox import Outbox, OutboxStatus
from tests import smtp_fixtures
from tests.conftest import wait_for
from tests.smtp_fixtures import AIOSMTPD_WARNINGS
from tests.test_daemon import at, make
from tests.test_notify import Hook

tls_cert, smtp_env, smtp = smtp_fixtures.tls_cert, smtp_fixtures.smtp_env, smtp_fixtures.smtp
misbehaving_smtp = smtp_fixtures.misbehaving_smtp

pytestmark = [pytest.mark.filterwarnings(spec) for spec in AIOSMTPD_WARNINGS]

JOBS = """
    alerting:
      task: boom
      schedule: "30 8 * * *"
      email:
        to: [ops-leads@example.com]
        "on": [failure]
    quiet:
      task: kitchen_sink
      schedule: "*/15 * * * *"
"""


def plain_smtp(port: int, *, timeout_s: float = 3, max_attempts: int = 10) -> str:
    """The ``email:`` block for a bare server on ``port`` (no TLS, no login)."""
    return (
        f"email:\n  backend: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n"
        f"  timeout_s: {timeout_s}\n  max_attempts: {max_attempts}\n  sender: opskit@example.com\n"
    )


def fail_the_alerting_run(s, ex, now) -> str:
    """The 08:30 run of ``alerting`` fails (``quiet``'s succeeds); the next tick reaps both, and hands the
    failure to delivery."""
    s.tick(at(2026, 11, 17, 8, 30))
    assert sorted(r.job for r, _ in ex.started) == ["alerting", "quiet"]
    for index, (record, _) in enumerate(ex.started):
        if record.job == "alerting":
            ex.finish(s.store, index, status="failed", error="ValueError: the export had no header row")
        else:
            ex.finish(s.store, index)
    s.tick(now)
    return next(r.id for r, _ in ex.started if r.job == "alerting")


def outbox(project: Path) -> Outbox:
    return Outbox(project / "outbox")


@pytest.fixture
def project(tmp_project):
    return tmp_project.root


def test_a_mute_mail_server_never_stalls_the_loop_nor_holds_the_history(project, misbehaving_smtp, caplog):
    mute = misbehaving_smtp("mute")  # takes the connection, never says a word
    # the checks below run while the mail thread waits on the mute server: give them room on a busy machine
    s, ex = make(project, JOBS, scheduler=plain_smtp(mute.port, timeout_s=6))
    s.start(at(2026, 11, 17, 8, 29), lock=False)
    try:
        run_id = fail_the_alerting_run(s, ex, at(2026, 11, 17, 8, 30, 1))
        # The alert was saved and its sending is under way, off the loop: the connection is open...
        wait_for(lambda: mute.open >= 1, what="the mail thread to connect to the mute server")
        # ...while the loop fires the next slot of a job that sends no mail, on time,
        s.tick(at(2026, 11, 17, 8, 45))
        assert (ex.started[-1][0].job, ex.started[-1][0].scheduled_for) == ("quiet", at(2026, 11, 17, 8, 45))
        assert mute.open >= 1  # the tick came back while the mail server still had us waiting
        # ...and the history's write lock is free for anyone while the server keeps us waiting.
        other = sqlite3.connect(project / "var" / "history.sqlite", timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        assert mute.open >= 1
        # The message waits in the outbox, and that is alerted.
        (entry,) = wait_for(lambda: [e for e in outbox(project).entries() if e.last_error], what="the send to fail")
        assert entry.status == OutboxStatus.PENDING and entry.run_id == run_id and entry.attempts == 0
        assert "timed out" in entry.last_error
        wait_for(lambda: "ALERT mail: 1 message(s) wait in the outbox: SMTP server" in caplog.text, what="the alert")
        delivery = wait_for(lambda: (s.store.get(run_id).delivery or {}).get("emails"), what="the record")
        assert delivery[0]["outbox_id"] == entry.id
    finally:
        mute.stop()
        s.stop(at(2026, 11, 17, 8, 46))


def test_the_scheduler_delivers_a_run_once_through_its_courier(project, smtp):
    s, ex = make(project, JOBS, scheduler=smtp.config_yaml())
    s.start(at(2026, 11, 17, 8, 29), lock=False)
    try:
        run_id = fail_the_alerting_run(s, ex, at(2026, 11, 17, 8, 30, 1))
        wait_for(lambda: smtp.received, what="the failure alert to arrive")
        wait_for(s.courier.idle, what="the courier to finish")
        (got,) = smtp.received
        assert got.message["Subject"] == "[opskit] Job alerting failed"
        delivery = s.store.get(run_id).delivery
        assert delivery["action"] == "alert" and [e["kind"] for e in delivery["emails"]] == ["alert"]
        # Handing the same run over again (a restart that found it, say) delivers nothing twice.
        s.courier.deliver(run_id)
        s.courier.send_mail()
        wait_for(s.courier.idle, what="the courier to finish")
        assert len(smtp.received) == 1 and len(outbox(project).entries()) == 1
    finally:
        s.stop(at(2026, 11, 17, 8, 31))


def test_a_server_that_hangs_up_after_the_whole_message_makes_it_uncertain_alerted_and_never_resent(
    project, misbehaving_smtp, monkeypatch
):
    hook = Hook()
    monkeypatch.setenv("TEST_CHAT_URL", hook.url)
    dropper = misbehaving_smtp("drop_after_message")
    chat = "chat:\n  kind: slack\n  url_env: TEST_CHAT_URL\n  backoff_s: 0\n  max_attempts: 1\n"
    s, ex = make(project, JOBS, scheduler=plain_smtp(dropper.port) + chat)
    s.start(at(2026, 11, 17, 8, 29), lock=False)
    try:
        fail_the_alerting_run(s, ex, at(2026, 11, 17, 8, 30, 1))
        (entry,) = wait_for(
            lambda: [e for e in outbox(project).entries() if e.status == OutboxStatus.UNCERTAIN], what="uncertain"
        )
        assert entry.attempts == 1
        assert entry.last_error == (
            f"SMTP server 127.0.0.1:{dropper.port} took the whole message and closed the connection without "
            "answering; it may have been delivered: resend it by hand if not"
        )
        wait_for(lambda: any(f"message {entry.id} is uncertain" in str(p) for p in hook.posts), what="the alert")
        for _ in range(3):  # later flushes never send it again
            s.courier.send_mail()
            wait_for(s.courier.idle, what="the flush")
        assert dropper.message_ids() == [entry.message_id]  # the server saw it once
        assert sum(f"message {entry.id} is uncertain" in str(p) for p in hook.posts) == 1  # alerted once
    finally:
        s.stop(at(2026, 11, 17, 8, 31))
        hook.stop()
