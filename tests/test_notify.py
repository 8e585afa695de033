"""Delivery after a run, through the real command line: reports, gates, failure alerts, outbox.

Mail goes to a real aiosmtpd server (STARTTLS + AUTH, tests/smtp_fixtures.py) or into the outbox
folder; chat alerts go to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest

from opskit.engine.history import RunStore
from tests import smtp_fixtures
from tests.smtp_fixtures import AIOSMTPD_WARNINGS, SMTP_PASSWORD

# The SMTP server fixtures (shared with tests/delivery/), made available to this module's tests.
tls_cert, smtp_env = smtp_fixtures.tls_cert, smtp_fixtures.smtp_env
smtp, smtp_stopped = smtp_fixtures.smtp, smtp_fixtures.smtp_stopped
misbehaving_smtp = smtp_fixtures.misbehaving_smtp

AS_OF = "2026-11-18T08:00"  # a Wednesday in Berlin: last_week is 2026-W46, 9-15 Nov
HOOK_PATH = "/hooks/T000/B000/very-secret-token"

REPORT_TASK = '''
"""A report task for the delivery tests: a workbook, and a summary that follows the convention."""

import os

from opskit import Period, Result, RunContext, SourceUnavailable, task


@task
def report_task(
    ctx: RunContext,
    *,
    period: Period = "last_week",
    rows: int = 3,
    fail: bool = False,
    hostile: bool = False,
    trend: bool = False,
) -> Result:
    """Write a small workbook and report KPIs (a test task)."""
    ctx.log.info("fetching the export for %s", period)
    if fail:
        ctx.log.info("export page did not load; giving up")
        hook = os.environ.get("TEST_CHAT_URL", "")
        raise SourceUnavailable(f"the Moderation Console did not answer within 30s (notify {hook})")
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(["queue", "completed"])
    for i in range(rows):
        ws.append([f"Q{i}", 1000 + i])
    with ctx.output("efficiency.xlsx") as tmp:
        wb.save(tmp)
    summary = {
        "title": "EMEA moderation efficiency",
        "headline": "AHT rose 9% week over week.",
        "columns": ["queue", "completed"],
        "kpis": [
            {"name": "Completed", "value": 184233, "previous": 176801, "format": "num"},
            {"label": "AHT", "value": 52.4, "previous": 48.0, "kind": "duration",
             "direction": "lower_is_better", "target": 50},
            {"label": "SLA attainment", "value": 0.9345, "previous": 0.9465, "kind": "pct",
             "target": 0.95},
        ],
        "missed_targets": [
            {"where": "DE comments", "metric": "SLA attainment", "actual": 0.874, "target": 0.95,
             "kind": "pct"},
        ],
        "drivers": [{"label": "Mix: volume moved to DE comments", "share": 0.61,
                     "note": "higher AHT"}],
    }
    if hostile:
        summary["headline"] = "<script>alert(1)</script> =cmd|' /C calc'!A0"
        summary["drivers"] = [{"label": "<b>bold</b> & <img src=x onerror=alert(1)>", "share": 0.5}]
    if trend:
        summary["trend"] = {"title": "AHT by day", "series": {
            "AHT": [["2026-11-09", 50.1], ["2026-11-10", 51.0], ["2026-11-11", None],
                    ["2026-11-12", 53.2]],
            "Target": [["2026-11-09", 50], ["2026-11-12", 50]]}}
    return Result(files=[ctx.path("efficiency.xlsx")], rows=rows, summary=summary)
'''


pytestmark = [pytest.mark.filterwarnings(spec) for spec in AIOSMTPD_WARNINGS]


# ---------------------------------------------------------------------------------------- helpers


class Hook:
    """A chat webhook on 127.0.0.1 that records every POST (path and JSON body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.status = 200
        self.received = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.posts.append((self.path, body))
                hook.received.set()
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{HOOK_PATH}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(monkeypatch):
    server = Hook()
    monkeypatch.setenv("TEST_CHAT_URL", server.url)
    yield server
    server.stop()


def configure(project, jobs: str, *, email: str = "", chat: bool = False) -> None:
    """Write config.yaml: the report task, the given jobs (YAML under ``jobs:``), email and chat."""
    project.add_task("report_task", REPORT_TASK)
    text = "timezone: Europe/Berlin\ndefaults:\n  timeout: 1m\n  retries: 0\n  retry_backoff: 0s\n"
    text += email
    if chat:
        text += "chat:\n  kind: slack\n  url_env: TEST_CHAT_URL\n  backoff_s: 0\n  max_attempts: 2\n"
    project.config.write_text(text + "jobs:\n" + jobs)


def job(name: str, *, params: str = "", email: str = "", gates: str = "", task: str = "") -> str:
    """One job of the report task, as YAML (each argument is indented YAML lines, or empty)."""
    if task:
        text = f"  {name}:\n    task: {task}\n    params:\n{params}"
    else:
        text = f"  {name}:\n    task: report_task\n    params:\n      period: last_week\n{params}"
    if email:
        text += "    email:\n      to: [lead@example.com]\n      cc: [Ops Team <ops@example.com>]\n" + email
    if gates:
        text += "    gates:\n" + gates
    return text


REPORT_EMAIL = '      subject: "Efficiency {{ period }} ({{ period_label }})"\n      attach: ["*.xlsx"]\n'


def history(project) -> RunStore:
    return RunStore(project.root / "var" / "history.sqlite")


def run_job(run_cli, name: str, *params: str):
    args = [a for p in params for a in ("--param", p)]
    result = run_cli("run", name, "--as-of", AS_OF, *args)
    assert result.stdout.startswith("run "), result.stderr
    run_id = result.stdout.split()[1]
    return result, run_id


def outbox_messages(project) -> list[EmailMessage]:
    folder = project.root / "outbox"
    return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def parse_html(html: str) -> tuple[set[str], str]:
    """The tag names in ``html`` and its text, as a browser would show it."""
    from html.parser import HTMLParser

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.tags: set[str] = set()
            self.text: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags.add(tag)

        def handle_data(self, data: str) -> None:
            self.text.append(data)

    parser = Collect()
    parser.feed(html)
    return parser.tags, "".join(parser.text)


def bodies(message: EmailMessage) -> tuple[str, str]:
    return (message.get_body(("html",)).get_content(), message.get_body(("plain",)).get_content())


# ------------------------------------------------------------------------------------------ tests


def test_a_succeeded_job_emails_its_report_over_smtp(run_cli, tmp_project, smtp):
    configure(
        tmp_project,
        job("weekly", params="      trend: true\n", email=REPORT_EMAIL),
        email=smtp.config_yaml(),
    )
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 0, result.stderr

    assert len(smtp.received) == 1
    got = smtp.received[0]
    assert sorted(got.rcpt_tos) == ["lead@example.com", "ops@example.com"]
    message = got.message
    assert message["Subject"] == "Efficiency 2026-W46 (Week 2026-W46 (9-15 Nov))"
    html, text = bodies(message)
    for body in (html, text):
        assert "184,233" in body and "93.5%" in body and "52s" in body  # value, pct, duration
        assert "DE comments" in body and "Mix: volume moved to DE comments" in body
        assert "AHT rose 9% week over week." in body
    assert "▲ 4.2%" in text  # Completed: (184233 - 176801) / 176801, computed from `previous`
    assert "▼ 1.2 pp (worse)" in text  # SLA attainment change in percentage points
    # the chart is inline, referenced by its Content-ID
    chart = next(p for p in message.walk() if p["Content-ID"] == "<trend@opskit>")
    assert chart.get_content_type() == "image/png" and chart.get_content()[:4] == b"\x89PNG"
    assert 'src="cid:trend@opskit"' in html
    # the workbook is attached and opens
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "efficiency.xlsx"
    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(attachment.get_content())).active
    assert sheet.title == "Summary" and sheet["A2"].value == "Q0" and sheet["B2"].value == 1000

    record = history(tmp_project).get(run_id)
    assert record.status == "succeeded"
    delivery = record.delivery
    assert delivery["action"] == "report" and delivery["errors"] == [] and delivery["gates"] is None
    (email,) = delivery["emails"]
    assert email["kind"] == "report" and email["status"] == "sent" and email["recipients"] == 2
    # the SMTP password is nowhere: not in the history, the outbox index, or the message
    assert SMTP_PASSWORD not in (tmp_project.root / "var" / "history.sqlite").read_text(errors="replace")
    assert SMTP_PASSWORD.encode() not in (tmp_project.root / "outbox" / "index.sqlite3").read_bytes()
    assert SMTP_PASSWORD.encode() not in got.data


def test_a_failed_job_alerts_by_email_and_chat(run_cli, tmp_project, smtp, hook):
    configure(
        tmp_project,
        job(
            "weekly",
            params="      fail: true\n",
            email=REPORT_EMAIL + '      "on": [success, failure]\n',
        ),
        email=smtp.config_yaml(),
        chat=True,
    )
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 1
    record = history(tmp_project).get(run_id)
    assert record.status == "failed"

    (got,) = smtp.received
    message = got.message
    assert message["Subject"] == "[opskit] Job weekly failed"
    html, text = bodies(message)
    for body in (html, text):
        assert "weekly" in body
        assert "the Moderation Console did not answer within 30s" in body  # the cause
        assert "export page did not load; giving up" in body  # a log line
        assert record.folder in body and "run.log" in body  # where the artifacts are
        assert HOOK_PATH not in body  # the task echoed the webhook URL into its error: scrubbed
    when = record.finished_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"Failed at: {when:%Y-%m-%d %H:%M %Z}" in text  # when, in the job's timezone
    assert list(message.iter_attachments()) == []

    assert hook.received.is_set()
    ((path, body),) = hook.posts
    assert path == HOOK_PATH
    assert body["text"].startswith("Job weekly failed: the Moderation Console did not answer")
    assert "very-secret-token" not in json.dumps(body)

    delivery = record.delivery
    assert delivery["action"] == "alert" and delivery["outcome"] == "failure"
    assert delivery["chat"] == {"configured": True, "kind": "slack", "ok": True, "attempts": 1}
    assert [e["kind"] for e in delivery["emails"]] == ["alert"]
    assert "very-secret-token" not in json.dumps(delivery)


def test_smtp_down_keeps_the_report_pending_until_outbox_send(run_cli, tmp_project, smtp_stopped):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL), email=smtp_stopped.config_yaml())
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 0, result.stderr
    record = history(tmp_project).get(run_id)
    assert record.status == "succeeded"
    (email,) = record.delivery["emails"]
    assert email["status"] == "pending" and "unavailable: connection refused" in email["error"]

    listing = run_cli("outbox")
    assert listing.exit_code == 0
    assert email["outbox_id"] in listing.stdout and " pending " in listing.stdout
    assert "Efficiency 2026-W46" in listing.stdout
    assert "last error: SMTP server 127.0.0.1:" in listing.stdout
    as_json = json.loads(run_cli("outbox", "--status", "pending", "--json").stdout)
    assert [m["id"] for m in as_json] == [email["outbox_id"]] and as_json[0]["recipients_count"] == 2
    assert json.loads(run_cli("outbox", "--status", "sent", "--json").stdout) == []

    still_down = run_cli("outbox", "--send")
    assert still_down.exit_code == 1
    assert still_down.stdout.splitlines()[-1] == "total: 0 sent, 1 pending"

    smtp_stopped.start()
    sent = run_cli("outbox", "--send")
    assert sent.exit_code == 0, sent.stdout
    assert sent.stdout.splitlines() == [
        f"sent       {email['outbox_id']}  Efficiency 2026-W46 (Week 2026-W46 (9-15 Nov)) (2 recipient(s))",
        "total: 1 sent",
    ]
    assert len(smtp_stopped.received) == 1
    again = run_cli("outbox", "--send")
    assert again.exit_code == 0 and again.stdout.startswith("nothing pending in ")
    assert len(smtp_stopped.received) == 1


def test_gate_fail_blocks_the_report_and_alerts(run_cli, tmp_project, hook):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL, gates="      min_rows: 5\n"), chat=True)
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 0  # the run itself succeeded; its data failed a check
    record = history(tmp_project).get(run_id)
    assert record.status == "succeeded"
    assert record.delivery["blocked"] is True and record.delivery["action"] == "blocked"
    assert record.delivery["gates"]["action"] == "fail"

    (message,) = outbox_messages(tmp_project)  # the alert, not the report
    assert message["Subject"] == "[opskit] Report weekly held back by its quality checks"
    html, text = bodies(message)
    assert "3 rows (expected at least 5)" in text and "3 rows (expected at least 5)" in html
    assert "its result failed its quality checks, so its report was not sent" in text
    assert list(message.iter_attachments()) == []
    ((_, body),) = hook.posts
    assert "3 rows (expected at least 5)" in body["text"]


def test_gate_warn_sends_the_report_with_a_banner(run_cli, tmp_project):
    gates = "      min_rows: 5\n      on_fail: warn\n"
    configure(tmp_project, job("weekly", email=REPORT_EMAIL, gates=gates))
    _, run_id = run_job(run_cli, "weekly")
    (message,) = outbox_messages(tmp_project)
    html, text = bodies(message)
    assert "Data quality warning." in html and "3 rows (expected at least 5)" in html
    assert "DATA QUALITY WARNING" in text and "! 3 rows (expected at least 5)" in text
    assert [a.get_filename() for a in message.iter_attachments()] == ["efficiency.xlsx"]
    assert history(tmp_project).get(run_id).delivery["action"] == "report_with_warnings"


@pytest.mark.parametrize(("empty", "action", "emails"), [("notice", "no_data", 1), ("skip", "skipped", 0)])
def test_an_empty_result_sends_the_no_data_notice_or_nothing(run_cli, tmp_project, empty, action, emails):
    gates = f"      min_rows: 1\n      empty: {empty}\n"
    configure(tmp_project, job("weekly", params="      rows: 0\n", email=REPORT_EMAIL, gates=gates))
    _, run_id = run_job(run_cli, "weekly")
    messages = outbox_messages(tmp_project)
    assert len(messages) == emails
    assert history(tmp_project).get(run_id).delivery["action"] == action
    if emails:
        html, text = bodies(messages[0])
        assert messages[0]["Subject"] == "No data: Efficiency 2026-W46 (Week 2026-W46 (9-15 Nov))"
        assert "There was no data for Week 2026-W46 (9-15 Nov)" in text
        assert "no report this time" in html and list(messages[0].iter_attachments()) == []


def test_max_drop_compares_with_the_last_good_run(run_cli, tmp_project):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL, gates="      max_drop: 0.5\n"))
    _, first = run_job(run_cli, "weekly", "rows=10")
    _, second = run_job(run_cli, "weekly", "rows=4")  # 60% fewer than 10: blocked
    _, third = run_job(run_cli, "weekly", "rows=8")  # compared with 10, not with the blocked 4
    store = history(tmp_project)
    assert store.get(first).delivery["action"] == "report"  # no previous run: nothing to compare
    assert store.get(second).delivery["blocked"] is True
    (check,) = store.get(second).delivery["gates"]["checks"]
    assert check["message"] == "4 rows, 60% below the last good run's 10 (at most 50% fewer allowed)"
    (check,) = store.get(third).delivery["gates"]["checks"]
    assert check["ok"] and "the last good run's 10" in check["message"]
    subjects = [m["Subject"] for m in outbox_messages(tmp_project)]
    assert sorted(s.startswith("[opskit]") for s in subjects) == [False, False, True]


def test_a_failure_only_job_sends_nothing_on_success(run_cli, tmp_project):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL + '      "on": [failure]\n'))
    _, run_id = run_job(run_cli, "weekly")
    assert outbox_messages(tmp_project) == []
    delivery = history(tmp_project).get(run_id).delivery
    assert delivery["action"] == "not_wanted" and delivery["emails"] == []


def test_hostile_text_in_the_summary_stays_text(run_cli, tmp_project):
    configure(tmp_project, job("weekly", params="      hostile: true\n", email=REPORT_EMAIL))
    run_job(run_cli, "weekly")
    (message,) = outbox_messages(tmp_project)
    html, text = bodies(message)
    tags, text_in_html = parse_html(html)
    assert not {"script", "b"} & tags and "img" not in tags  # no markup from the task got through
    assert "<script>alert(1)</script> =cmd|' /C calc'!A0" in text_in_html  # shown as text
    assert "<b>bold</b> & <img src=x onerror=alert(1)>" in text_in_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script> =cmd|' /C calc'!A0" in text  # plain text shows it as written


def test_the_outbox_backend_writes_eml_files_and_has_nothing_to_send(run_cli, tmp_project):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL))  # no email: settings, backend outbox
    _, run_id = run_job(run_cli, "weekly")
    emls = list((tmp_project.root / "outbox").glob("*.eml"))
    assert len(emls) == 1
    (email,) = history(tmp_project).get(run_id).delivery["emails"]
    assert email["status"] == "kept" and emls[0].name == f"{email['outbox_id']}.eml"
    result = run_cli("outbox", "--send")
    assert result.exit_code == 0
    assert result.stdout.startswith("email.backend is 'outbox': mail stays in ")
    assert "there is no server to send to" in result.stdout
    assert emls[0].exists()


def test_a_broken_subject_template_is_recorded_as_a_bug_and_alerted(run_cli, tmp_project, hook):
    email = '      subject: "Efficiency {{ no_such_name }}"\n'
    configure(tmp_project, job("weekly", email=email), chat=True)
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 0
    delivery = history(tmp_project).get(run_id).delivery
    assert delivery["action"] == "report_not_built"
    (error,) = delivery["errors"]
    assert error["stage"] == "compose" and error["bug"] is True and error["kind"] == "report"
    assert "job 'weekly': email subject" in error["error"] and "no_such_name" in error["error"]
    (message,) = outbox_messages(tmp_project)
    assert message["Subject"] == "[opskit] Report weekly could not be built"
    assert "no_such_name" in bodies(message)[1]
    assert len(hook.posts) == 1


def test_a_bare_task_run_delivers_nothing(run_cli, tmp_project):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL))
    result = run_cli("run", "report_task", "--as-of", AS_OF)
    assert result.exit_code == 0
    assert history(tmp_project).get(result.stdout.split()[1]).delivery is None
    assert not (tmp_project.root / "outbox").exists()


def test_outbox_listing_and_bad_status(run_cli, tmp_project):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL))
    assert run_cli("outbox").stdout.startswith("no messages in the outbox (")
    run_job(run_cli, "weekly")
    listing = run_cli("outbox")
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "STATUS", "TRIES", "JOB", "RCPT", "SUBJECT"]
    assert lines[1].split()[3:8] == ["kept", "0", "weekly", "2", "Efficiency"]
    assert lines[-1].startswith("1 message(s) in ")
    bad = run_cli("outbox", "--status", "pendng")
    assert bad.exit_code == 2
    assert bad.stderr == "error: --status 'pendng' is not a message status. Did you mean 'pending'?\n"


def test_resend_puts_a_failed_message_back_to_pending(run_cli, tmp_project):
    from opskit.delivery.outbox import Outbox, OutboxStatus

    configure(tmp_project, job("weekly", email=REPORT_EMAIL))
    _, run_id = run_job(run_cli, "weekly")
    msg_id = history(tmp_project).get(run_id).delivery["emails"][0]["outbox_id"]
    outbox = Outbox(tmp_project.root / "outbox")
    outbox.set_state(msg_id, OutboxStatus.SENT)
    refused = run_cli("outbox", "--resend", msg_id)
    assert refused.exit_code == 2 and "is sent; only failed, uncertain or kept ones can be resent" in refused.stderr
    outbox.set_state(msg_id, OutboxStatus.UNCERTAIN, error="a flusher stopped")
    result = run_cli("outbox", "--resend", msg_id)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"message {msg_id} is pending again: Efficiency 2026-W46")
    assert outbox.get(msg_id).status == OutboxStatus.PENDING


def test_resending_a_kept_message_says_that_the_outbox_backend_keeps_it(run_cli, tmp_project):
    configure(tmp_project, job("weekly", email=REPORT_EMAIL))
    _, run_id = run_job(run_cli, "weekly")
    msg_id = history(tmp_project).get(run_id).delivery["emails"][0]["outbox_id"]
    result = run_cli("outbox", "--resend", msg_id)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"message {msg_id} is pending again: Efficiency 2026-W46 (Week 2026-W46 (9-15 Nov))",
        "email.backend is 'outbox': it stays in the outbox folder",
    ]
    sent = run_cli("outbox", "--send")
    assert sent.exit_code == 0 and sent.stdout.startswith("email.backend is 'outbox': mail stays in ")


def test_a_missing_smtp_login_keeps_mail_pending_and_the_daemon_sends_it_later(
    run_cli, tmp_project, smtp_stopped, monkeypatch
):
    from opskit.config.model import load_config
    from opskit.delivery.pipeline import send_pending_mail

    configure(tmp_project, job("weekly", email=REPORT_EMAIL))
    assert send_pending_mail(load_config(tmp_project.config)) is None  # backend outbox

    configure(tmp_project, job("weekly", email=REPORT_EMAIL), email=smtp_stopped.config_yaml())
    monkeypatch.delenv("TEST_SMTP_PASSWORD")
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 0
    delivery = history(tmp_project).get(run_id).delivery
    missing = "SMTP login needs the environment variable(s) TEST_SMTP_PASSWORD"
    assert delivery["errors"][0]["stage"] == "send" and missing in delivery["errors"][0]["error"]
    (email,) = delivery["emails"]
    assert email["status"] == "pending" and missing in email["error"]

    config = load_config(tmp_project.config)
    report = send_pending_mail(config)  # never raises, for the daemon's loop
    assert report is not None and report.pending == [email["outbox_id"]] and not report.ok
    assert missing in report.errors[email["outbox_id"]]

    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    smtp_stopped.start()
    report = send_pending_mail(config)
    assert report.sent == [email["outbox_id"]] and report.ok
    assert len(smtp_stopped.received) == 1
    assert send_pending_mail(config).sent == []


def test_a_timed_out_job_alert_says_so(run_cli, tmp_project):
    alert_only = '      "on": [failure]\n'
    configure(
        tmp_project,
        job("stuck", task="slow", params="      seconds: 30\n", email=alert_only).replace(
            "    params:",
            "    timeout: 6s\n    params:",  # time for a loaded machine to start the task
        ),
    )
    result, run_id = run_job(run_cli, "stuck")
    assert history(tmp_project).get(run_id).status == "timed_out"
    (message,) = outbox_messages(tmp_project)
    assert message["Subject"] == "[opskit] Job stuck timed out"
    text = bodies(message)[1]
    assert "Cause:     timed out after 6s; its processes were killed" in text
    assert "task slow starting" in text  # the log's last lines


@pytest.mark.parametrize(
    ("status", "env", "error"),
    [
        (500, True, "slack webhook: HTTP 500 after 2 attempts"),
        (200, False, "chat webhook: environment variable TEST_CHAT_URL is not set"),
    ],
)
def test_chat_problems_are_recorded_never_raised(run_cli, tmp_project, hook, monkeypatch, status, env, error):
    hook.status = status
    if not env:
        monkeypatch.delenv("TEST_CHAT_URL")
    configure(tmp_project, job("weekly", params="      fail: true\n"), chat=True)
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 1  # the task's failure, not the chat's
    delivery = history(tmp_project).get(run_id).delivery
    assert delivery["chat"] == {"configured": True, "kind": "slack", "ok": False, "error": error}
    assert delivery["errors"] == [{"stage": "chat", "error": error}]
    assert len(hook.posts) == (2 if env else 0)


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        ({"kpis": {"AHT": 1}}, "summary.kpis should be a list, got dict"),
        ({"kpis": [{"value": 1}]}, "summary.kpis[0] needs a 'label' (or 'name')"),
        (
            {"kpis": [{"label": "AHT", "kind": "money"}]},
            "summary.kpis[0].kind: 'money' is not one of num, pct, duration, rate",
        ),
        (
            {"kpis": [{"label": "AHT", "direction": "up"}]},
            "summary.kpis[0].direction: 'up' is not one of higher_is_better, lower_is_better",
        ),
        (
            {"kpis": [{"label": "AHT", "value": "fast"}]},
            "summary.kpis[0].value: 'fast' is not a number",
        ),
        ({"missed_targets": ["DE"]}, "summary.missed_targets[0] should be a mapping, got str"),
        ({"drivers": [{"share": 0.5}]}, "summary.drivers[0] needs a 'label'"),
    ],
)
def test_a_summary_off_the_convention_names_the_key(tmp_project, summary, message):
    from opskit.errors import TaskError

    with pytest.raises(TaskError, match=re.escape(message)):
        context_for(tmp_project, summary)


def test_the_email_lists_the_first_ten_missed_targets_and_counts_the_rest(tmp_project):
    missed = [
        {"where": f"Q{i}", "metric": "AHT", "actual": 60, "target": 50, "direction": "lower_is_better"}
        for i in range(13)
    ]
    context, _, _ = context_for(tmp_project, {"missed_targets": missed})
    assert [m["where"] for m in context["missed"]] == [f"Q{i}" for i in range(10)]
    assert context["missed_more"] == 3
    assert context["missed"][0]["attainment"] == pytest.approx(50 / 60)  # target / actual


@pytest.mark.parametrize(
    "trend",
    [
        {"title": "AHT by day", "series": {"AHT": [["2026-11-09", 50.0], ["2026-11-10", 52.5]]}},
        {"AHT (s)": [["2026-11-09", 50.0], ["2026-11-10", 52.5]], "Target": [["2026-11-09", 50]]},
    ],
)
def test_a_trend_is_drawn_from_either_shape(tmp_project, trend):
    context, chart, dlog = context_for(tmp_project, {"trend": trend})
    assert chart[:4] == b"\x89PNG" and dlog.errors == []
    assert context["chart_alt"] == ("AHT by day" if "series" in trend else "AHT (s)")


def test_a_broken_trend_leaves_the_chart_out_and_says_why(tmp_project):
    context, chart, dlog = context_for(tmp_project, {"trend": {"AHT": [["not a date", 1]]}})
    assert chart is None and "chart_alt" not in context
    (error,) = dlog.errors
    assert error["kind"] == "chart" and "summary.trend: Invalid isoformat string" in error["error"]


def context_for(project, summary):
    """report_context() for a stored run of a job whose task returned ``summary``."""
    from opskit.config.model import load_config
    from opskit.delivery.record import DeliveryLog
    from opskit.delivery.report import report_context
    from opskit.engine.history import RunStore
    from opskit.redact import Redactor

    configure(project, job("weekly"))
    config = load_config(project.config)
    with RunStore(project.root / "h.sqlite") as store:
        record = store.create(
            job="weekly",
            task="report_task",
            params={"period": "2026-W46"},
            trigger="manual",
            scheduled_for=datetime(2026, 11, 18, 7, tzinfo=UTC),
            folder_root=project.root,
        )
    record = replace(record, result={"rows": 1, "files": [], "summary": summary})
    dlog = DeliveryLog(at=record.queued_at, outcome="success")
    context, chart = report_context(config, "weekly", config.jobs["weekly"], record, Redactor(), dlog, warnings=[])
    return context, chart, dlog


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("2026-11-16", "Mon 16 Nov 2026"),
        ("2026-W46", "Week 2026-W46 (9-15 Nov)"),
        ("2026-W49", "Week 2026-W49 (30 Nov-6 Dec)"),
        ("2026-11", "November 2026"),
        ("2026-11-01..2026-11-15", "1-15 Nov 2026"),
        ("2026-12-28..2027-01-03", "Week 2026-W53 (28 Dec 2026-3 Jan 2027)"),
        ("2026-12-30..2027-01-02", "30 Dec 2026-2 Jan 2027"),
    ],
)
def test_periods_read_as_people_name_them(text, label):
    from opskit.period import Period, human_period

    period = Period.parse(text, tz=ZoneInfo("Europe/Berlin"), scheduled_for=datetime(2026, 11, 18, tzinfo=UTC))
    assert human_period(period) == label


def test_outbox_send_says_an_uncertain_message_waits_and_exits_1_until_a_person_decides(
    run_cli, tmp_project, misbehaving_smtp
):
    dropper = misbehaving_smtp("drop_after_message")  # takes the whole report, hangs up without a word
    email = (
        f"email:\n  backend: smtp\n  host: 127.0.0.1\n  port: {dropper.port}\n  security: none\n"
        "  timeout_s: 3\n  sender: opskit@example.com\n"
    )
    configure(tmp_project, job("weekly", email=REPORT_EMAIL), email=email)
    result, run_id = run_job(run_cli, "weekly")
    assert result.exit_code == 0
    (sent,) = history(tmp_project).get(run_id).delivery["emails"]
    msg_id = sent["outbox_id"]
    assert sent["status"] == "uncertain"
    expected = [
        f"nothing pending in {tmp_project.root / 'outbox'}",
        "1 message(s) uncertain: the server may have delivered them; check with the recipients, then "
        "`runner.py outbox --resend ID` or `runner.py outbox --dismiss ID`:",
        f"  {msg_id}  Efficiency 2026-W46 (Week 2026-W46 (9-15 Nov)) (2 recipient(s))",
    ]
    for _ in range(2):
        waiting = run_cli("outbox", "--send")
        assert (waiting.exit_code, waiting.stdout.splitlines()) == (1, expected)
    assert dropper.connections == 1  # never sent again by itself
    dismissed = run_cli("outbox", "--dismiss", msg_id)
    assert dismissed.exit_code == 0
    assert dismissed.stdout.startswith(f"message {msg_id} is dismissed: it stays in the outbox and is never sent")
    done = run_cli("outbox", "--send")
    assert (done.exit_code, done.stdout.splitlines()) == (0, expected[:1])
    again = run_cli("outbox", "--dismiss", msg_id)
    assert again.exit_code == 2 and "is dismissed; only failed or uncertain ones can be dismissed" in again.stderr


def test_status_says_what_mail_waits_and_check_fails_on_uncertain_or_failed_mail(run_cli, tmp_project):
    from opskit.delivery.outbox import Outbox, OutboxStatus

    configure(tmp_project, job("weekly", email=REPORT_EMAIL))
    _, run_id = run_job(run_cli, "weekly")
    assert "mail:" not in run_cli("status").stdout  # kept by the outbox backend: nothing waits
    msg_id = history(tmp_project).get(run_id).delivery["emails"][0]["outbox_id"]
    Outbox(tmp_project.root / "outbox").set_state(msg_id, OutboxStatus.UNCERTAIN, error="no answer")
    check = run_cli("status", "--check")
    assert "mail: 1 uncertain in the outbox (runner.py outbox)" in check.stdout
    assert check.exit_code == 1 and "check failed: mail: 1 uncertain in the outbox" in check.stderr
    run_cli("outbox", "--dismiss", msg_id)
    assert "mail:" not in run_cli("status").stdout
