from __future__ import annotations

import io
import logging
import threading
from datetime import UTC, datetime

import pytest

from opskit.config.email import JobEmail
from opskit.delivery.compose import compose_email, deliver
from opskit.delivery.mail import build_message
from opskit.delivery.outbox import Outbox, OutboxStatus, list_outbox
from opskit.delivery.render import Renderer
from opskit.delivery.smtp import send_one, send_pending
from opskit.errors import ConfigError

from .conftest import SMTP_PASSWORD, SmtpServer, free_port
from .samples import report_context, trend_series

NOW = datetime(2026, 11, 16, 7, 2, tzinfo=UTC)


def message(n: int = 1, **kw):
    values = dict(
        sender="Ops Reports <reports@example.com>",
        to=["lead@example.com"],
        subject=f"Report {n}",
        text=f"body {n}\n",
        html=f"<p>body {n}</p>",
        now=NOW,
    )
    values.update(kw)
    return build_message(**values)


def test_report_email_end_to_end_over_starttls_with_auth(smtp, tmp_path, workbook):
    from openpyxl import load_workbook

    from opskit.delivery.charts import trend_chart_png

    settings = smtp.settings(tmp_path / "outbox")
    job_email = JobEmail(
        to=["Lead <lead@example.com>"],
        cc=["team@example.com"],
        bcc=["audit@example.com"],
        subject="{{ title }} - {{ period_label }}",
        attach=["*.xlsx"],
    )
    composed = compose_email(
        Renderer(timezone="Europe/Berlin"),
        job_email,
        settings,
        context=report_context(),
        job="weekly_emea",
        run_id="run-1",
        now=NOW,
        files=[workbook],
        chart_png=trend_chart_png(trend_series(), "AHT"),
    )
    entry = deliver(settings, composed, job="weekly_emea", run_id="run-1")

    assert entry.status == OutboxStatus.SENT and entry.sent_at is not None
    assert smtp.logins == ["ops-bot:ok"]
    (got,) = smtp.received
    assert got.mail_from == "reports@example.com"
    assert sorted(got.rcpt_tos) == ["audit@example.com", "lead@example.com", "team@example.com"]
    msg = got.message
    assert msg["Subject"] == "EMEA moderation efficiency - Week 2026-W46 (9-15 Nov)"
    assert msg["To"] == "Lead <lead@example.com>" and msg["Cc"] == "team@example.com"
    assert "Bcc" not in msg and b"audit@example.com" not in got.data
    assert "3 targets missed" in msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert 'src="cid:trend@opskit"' in html
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert [p["Content-ID"] for p in images] == ["<trend@opskit>"]
    assert images[0].get_content().startswith(b"\x89PNG")
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "Wochenbericht_Größe_周报.xlsx"
    wb = load_workbook(io.BytesIO(att.get_content()))
    assert wb.sheetnames == ["Summary"]
    assert [c.value for c in wb["Summary"][2]] == ["DE comments", 1204, 61.5]
    # the outbox kept exactly what was sent
    assert entry.path.read_bytes().replace(b"\r\n", b"\n") == got.data.replace(b"\r\n", b"\n")


def test_implicit_tls(tls_cert, smtp_env, tmp_path):
    server = SmtpServer(free_port(), tls_cert, implicit_tls=True)
    server.start()
    try:
        entry = deliver(server.settings(tmp_path / "outbox"), message())
    finally:
        server.stop()
    assert entry.status == OutboxStatus.SENT
    assert len(server.received) == 1


def test_outbox_backend_saves_an_eml_and_sends_nothing(tmp_path, smtp):
    settings = smtp.settings(tmp_path / "outbox", backend="outbox")
    entry = deliver(settings, message(), bcc=["audit@example.com"], job="j", run_id="r")
    assert entry.status == OutboxStatus.KEPT and smtp.received == []
    assert entry.path.suffix == ".eml" and b"Subject: Report 1" in entry.path.read_bytes()
    (listed,) = list_outbox(tmp_path / "outbox")
    assert (listed.job, listed.run_id, listed.subject, listed.attempts) == ("j", "r", "Report 1", 0)
    assert listed.recipients == ("lead@example.com", "audit@example.com")
    assert listed.to_dict()["status"] == "kept"
    with pytest.raises(ConfigError, match="email.backend is 'outbox': messages are saved, not sent"):
        send_pending(settings)
    # Switching to SMTP later does not mail old reports by itself; resend queues one on purpose.
    smtp_settings = smtp.settings(tmp_path / "outbox")
    assert send_pending(smtp_settings).sent == [] and smtp.received == []
    Outbox(tmp_path / "outbox").resend(entry.id)
    assert send_pending(smtp_settings).sent == [entry.id] and len(smtp.received) == 1


def test_server_down_keeps_mail_pending_then_sends_it_exactly_once(smtp_stopped, tmp_path):
    settings = smtp_stopped.settings(tmp_path / "outbox")
    first = deliver(settings, message(1))
    second = deliver(settings, message(2))
    for entry in (first, second):
        assert entry.status == OutboxStatus.PENDING
        assert entry.attempts == 0  # a server that is down does not use up the message's attempts
    assert first.last_error == f"SMTP server 127.0.0.1:{smtp_stopped.port} unavailable: connection refused"

    report = send_pending(settings)
    assert report.sent == [] and report.pending == [first.id, second.id] and not report.ok

    smtp_stopped.start()
    report = send_pending(settings)
    assert report.sent == [first.id, second.id] and report.ok
    assert sorted(r.message["Subject"] for r in smtp_stopped.received) == ["Report 1", "Report 2"]

    assert send_pending(settings).sent == []  # nothing is sent twice
    assert len(smtp_stopped.received) == 2
    assert [e.status for e in list_outbox(settings.outbox_dir)] == [OutboxStatus.SENT] * 2


def test_login_refused_keeps_mail_pending_and_never_shows_the_password(smtp, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-" + SMTP_PASSWORD)
    settings = smtp.settings(tmp_path / "outbox")
    with caplog.at_level(logging.DEBUG):
        entry = deliver(settings, message())
    assert entry.status == OutboxStatus.PENDING
    assert entry.last_error == (
        f"SMTP login to 127.0.0.1:{smtp.port} refused (535 5.7.8 Authentication credentials invalid)"
    )
    assert smtp.received == [] and set(smtp.logins) == {"ops-bot:refused"}  # smtplib tries PLAIN, LOGIN
    index_bytes = (settings.outbox_dir / "index.sqlite3").read_bytes()
    assert SMTP_PASSWORD.encode() not in index_bytes
    assert SMTP_PASSWORD not in caplog.text and "wrong-" not in caplog.text

    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    assert send_pending(settings).sent == [entry.id]
    assert len(smtp.received) == 1


def test_missing_login_variable_is_a_config_error_and_the_mail_stays_pending(smtp, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_SMTP_PASSWORD")
    settings = smtp.settings(tmp_path / "outbox")
    with pytest.raises(ConfigError, match=r"SMTP login needs the environment variable\(s\) TEST_SMTP_PASSWORD"):
        deliver(settings, message())
    (entry,) = list_outbox(settings.outbox_dir)
    assert entry.status == OutboxStatus.PENDING


def test_untrusted_certificate_is_refused(smtp, tmp_path):
    settings = smtp.settings(tmp_path / "outbox", tls_ca_file=None)
    entry = deliver(settings, message())
    assert entry.status == OutboxStatus.PENDING
    assert entry.last_error.startswith(f"TLS with 127.0.0.1:{smtp.port} failed: CERTIFICATE_VERIFY_FAILED")
    assert smtp.received == []


def test_connection_dropped_mid_send_keeps_it_pending_and_resends_once(dropping_server, smtp, tmp_path):
    outbox_dir = tmp_path / "outbox"
    dropper = smtp.settings(
        outbox_dir, port=dropping_server.port, security="none", username_env=None, password_env=None
    )
    entry = deliver(dropper, message())
    assert dropping_server.dropped.is_set()
    assert entry.status == OutboxStatus.PENDING
    assert entry.last_error == (
        f"SMTP server 127.0.0.1:{dropping_server.port} closed the connection before accepting the message"
    )
    assert entry.phase is None

    report = send_pending(smtp.settings(outbox_dir))
    assert report.sent == [entry.id]
    assert send_pending(smtp.settings(outbox_dir)).sent == []
    (got,) = smtp.received
    assert got.message["Message-ID"] == entry.message_id


def test_permanent_refusal_marks_failed_and_is_not_retried(smtp, tmp_path):
    smtp.data_reply = "552 5.3.4 Message too big for system"
    settings = smtp.settings(tmp_path / "outbox")
    entry = deliver(settings, message())
    assert entry.status == OutboxStatus.FAILED and entry.attempts == 1
    assert entry.last_error == "message refused (552 5.3.4 Message too big for system)"
    smtp.data_reply = None
    assert send_pending(settings).sent == []
    assert smtp.received == []
    # a human can put it back
    Outbox(settings.outbox_dir).resend(entry.id)
    assert send_pending(settings).sent == [entry.id]


def test_temporary_refusals_count_attempts_up_to_max_attempts(smtp, tmp_path):
    smtp.data_reply = "451 4.3.0 Try again later"
    settings = smtp.settings(tmp_path / "outbox", max_attempts=2)
    entry = deliver(settings, message())
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 1)
    report = send_pending(settings)
    assert report.failed == [entry.id]
    assert report.errors[entry.id] == "message refused (451 4.3.0 Try again later)"
    assert Outbox(settings.outbox_dir).get(entry.id).status == OutboxStatus.FAILED


def test_a_crash_after_handing_over_the_message_leaves_it_uncertain_not_resent(smtp, tmp_path):
    settings = smtp.settings(tmp_path / "outbox")
    outbox = Outbox(settings.outbox_dir)
    entry = outbox.add(message(), now=NOW)
    # what a flusher killed between DATA and recording the 250 leaves behind (its lock died with it)
    outbox.set_state(entry.id, OutboxStatus.SENDING, phase="data")
    report = send_pending(settings)
    assert report.uncertain == [entry.id] and report.sent == [] and smtp.received == []
    assert outbox.get(entry.id).status == OutboxStatus.UNCERTAIN
    assert "may have been delivered" in outbox.get(entry.id).last_error
    assert send_pending(settings).sent == []  # still not resent by itself
    outbox.resend(entry.id)
    assert send_pending(settings).sent == [entry.id]
    assert len(smtp.received) == 1


def test_a_crash_before_data_is_retried(smtp, tmp_path):
    settings = smtp.settings(tmp_path / "outbox")
    outbox = Outbox(settings.outbox_dir)
    entry = outbox.add(message(), now=NOW)
    outbox.set_state(entry.id, OutboxStatus.SENDING, phase="envelope")
    assert send_pending(settings).sent == [entry.id]
    assert len(smtp.received) == 1


def test_a_message_locked_by_another_flusher_is_skipped(smtp, tmp_path):
    settings = smtp.settings(tmp_path / "outbox", backend="smtp")
    outbox = Outbox(settings.outbox_dir)
    entry = outbox.add(message(), now=NOW)
    with outbox.lock(entry.id) as mine:
        assert mine
        with outbox.lock(entry.id) as again:
            assert not again
        report = send_pending(settings)
    assert report.busy == [entry.id] and report.sent == [] and smtp.received == []
    assert send_one(settings, entry.id).status == OutboxStatus.SENT
    assert len(smtp.received) == 1


def test_concurrent_flushers_send_each_message_exactly_once(smtp, tmp_path):
    settings = smtp.settings(tmp_path / "outbox")
    outbox = Outbox(settings.outbox_dir)
    ids = [outbox.add(message(n), now=NOW).id for n in range(8)]
    start = threading.Barrier(4)
    reports = []

    def flush():
        start.wait()
        reports.append(send_pending(settings))

    threads = [threading.Thread(target=flush) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    sent = [i for r in reports for i in r.sent]
    assert sorted(sent) == sorted(ids)  # each id sent by exactly one flusher
    assert sorted(r.message["Subject"] for r in smtp.received) == sorted(f"Report {n}" for n in range(8))
    assert all(e.status == OutboxStatus.SENT for e in outbox.entries())


def test_bcc_header_is_refused_by_the_outbox(tmp_path):
    msg = message()
    msg["Bcc"] = "hidden@example.com"
    with pytest.raises(Exception, match=r"pass Bcc recipients as bcc=\.\.\., never as a header"):
        Outbox(tmp_path).add(msg)


def test_no_answer_after_the_whole_message_is_uncertain_never_resent_by_itself(silent_server, smtp, tmp_path):
    outbox_dir = tmp_path / "outbox"
    silent = smtp.settings(
        outbox_dir, port=silent_server.port, security="none", username_env=None, password_env=None, timeout_s=1
    )
    entry = deliver(silent, message())
    # The client hung up after 1 s; the server's thread notices that a moment later, not before deliver() returns.
    assert silent_server.dropped.wait(timeout=10)
    assert len(silent_server.messages) == 1  # it had read the final dot, then kept quiet
    assert entry.status == OutboxStatus.UNCERTAIN  # the server may have queued it
    assert "did not answer within 1s" in entry.last_error and "may have been delivered" in entry.last_error
    assert send_pending(smtp.settings(outbox_dir)).sent == [] and smtp.received == []


def test_a_hang_up_after_the_whole_message_is_uncertain_counted_and_never_resent(misbehaving_smtp, smtp, tmp_path):
    dropper = misbehaving_smtp("drop_after_message")  # reads it all, final dot included, then hangs up
    outbox_dir = tmp_path / "outbox"
    settings = smtp.settings(outbox_dir, port=dropper.port, security="none", username_env=None, password_env=None)
    entry = deliver(settings, message())
    assert (entry.status, entry.attempts) == (OutboxStatus.UNCERTAIN, 1)
    assert entry.last_error == (
        f"SMTP server 127.0.0.1:{dropper.port} took the whole message and closed the connection without "
        "answering; it may have been delivered: resend it by hand if not"
    )
    for _ in range(3):  # flush after flush: never sent again by itself
        assert send_pending(settings).sent == []
    assert dropper.message_ids() == [entry.message_id] and dropper.connections == 1
    assert send_pending(smtp.settings(outbox_dir)).sent == [] and smtp.received == []


@pytest.mark.parametrize("mode", ["drop_after_data_command", "drop_mid_message"])
def test_a_hang_up_before_the_whole_message_is_retried_up_to_max_attempts_then_failed(
    misbehaving_smtp, tmp_path, smtp, mode
):
    dropper = misbehaving_smtp(mode)  # the server cannot have the message: it never read the final dot
    settings = smtp.settings(
        tmp_path / "outbox", port=dropper.port, security="none", username_env=None, password_env=None, max_attempts=3
    )
    entry = deliver(settings, message())
    expected = f"SMTP server 127.0.0.1:{dropper.port} closed the connection before accepting the message"
    assert (entry.status, entry.attempts, entry.last_error) == (OutboxStatus.PENDING, 1, expected)
    assert send_pending(settings).pending == [entry.id]
    report = send_pending(settings)
    assert report.failed == [entry.id] and report.errors[entry.id] == expected
    assert (Outbox(settings.outbox_dir).get(entry.id).status, Outbox(settings.outbox_dir).get(entry.id).attempts) == (
        OutboxStatus.FAILED,
        3,
    )
    assert send_pending(settings).failed == [] and dropper.connections == 3  # stopped at the limit
    assert dropper.messages == []


def test_a_message_is_dismissed_only_when_failed_or_uncertain(tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    entry = outbox.add(message(), now=NOW)
    with pytest.raises(Exception, match="is pending; only failed or uncertain ones can be dismissed"):
        outbox.dismiss(entry.id)
    outbox.set_state(entry.id, OutboxStatus.UNCERTAIN, error="no answer")
    assert outbox.dismiss(entry.id).status == OutboxStatus.DISMISSED
    assert outbox.for_run("nope") == []
