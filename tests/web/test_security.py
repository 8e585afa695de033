"""The SSO header mode, the live log stream (tail first, resumable), file downloads confined to the run,
and the email's HTML served under a sandboxing Content-Security-Policy."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import requests

from opskit.web.server import WebServer
from tests.web.conftest import CONFIG, make_project, sign_in


def _events(body: str) -> list[tuple[str, str, str]]:
    """(event, id, data) of a server-sent-events body."""
    out = []
    for block in body.split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            fields.setdefault(key, []).append(value)
        if "event" in fields:
            out.append((fields["event"][0], (fields.get("id") or [""])[0], "\n".join(fields.get("data", []))))
    return out


def _finished_run(project, log_text: str, artifacts: list[str] | None = None) -> tuple[str, Path]:
    with project.store() as store:
        record = store.create(
            job="daily-report",
            task="web_report",
            params={},
            trigger="schedule",
            scheduled_for=datetime.now(UTC),
            folder_root=project.root / "var" / "runs",
        )
        folder = Path(record.folder)
        folder.mkdir(parents=True)
        (folder / "run.log").write_text(log_text)
        for name in artifacts or []:
            (folder / name).write_text("data")
        store.mark_running(record.id, pid=1)
        store.finish(record.id, "succeeded", artifacts=["run.log", *(artifacts or [])], result={"rows": 1})
    return record.id, folder


def test_the_live_log_sends_the_tail_of_a_long_log_first_and_resumes_from_the_last_event(web, project):
    lines = [f"line {i:05d} " + "x" * 60 for i in range(3000)]  # about 210 KiB
    run_id, _ = _finished_run(project, "\n".join(lines) + "\n")
    http = sign_in(web, "vic")
    body = http.get(web.url + f"/runs/{run_id}/log/stream", timeout=30).text
    events = _events(body)
    assert events[0][0] == "skipped"
    logged = "\n".join(data for event, _, data in events if event == "log").splitlines()
    assert logged[-1] == lines[-1] and logged[0] in lines and len(logged) < len(lines)  # whole lines, the tail
    assert events[-1][0] == "end" and events[-1][2] == "succeeded"
    assert int(events[-1][1]) == sum(len(line) + 1 for line in lines)  # the last id is the end of the file
    seen = str(sum(len(line) + 1 for line in lines[:2990]))  # as if the browser had seen 2,990 lines
    again = _events(http.get(web.url + f"/runs/{run_id}/log/stream", headers={"Last-Event-ID": seen}).text)
    assert "skipped" not in [e for e, _, _ in again]
    resumed = "\n".join(data for event, _, data in again if event == "log").splitlines()
    assert resumed == lines[2990:]


def test_downloads_are_only_the_runs_own_files(web, project):
    run_id, folder = _finished_run(project, "ok\n", artifacts=["report.csv"])
    (folder.parent / "outside.txt").write_text("not yours")
    http = sign_in(web, "vic")
    ok = http.get(web.url + f"/runs/{run_id}/files/report.csv")
    assert ok.status_code == 200 and ok.content == b"data" and "attachment" in ok.headers["Content-Disposition"]
    for name in ("..%2Foutside.txt", "%2E%2E/outside.txt", "config.yaml", "run.log%00.csv"):
        assert http.get(web.url + f"/runs/{run_id}/files/{name}").status_code == 404, name
    assert sign_in(web, "fin").get(web.url + f"/runs/{run_id}/files/report.csv").status_code == 404


def test_the_emails_html_is_sandboxed_and_another_groups_message_is_404(web, project):
    from opskit.delivery.outbox import Outbox

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "o@example.com", "leads@example.com", "Report <b>x</b>"
    message.set_content("plain text")
    message.add_alternative("<p>Hello</p><script>alert(1)</script><img src='cid:chart'>", subtype="html")
    entry = Outbox(project.root / "outbox").add(message, job="daily-report", run_id="r1")
    http = sign_in(web, "vic")
    page = http.get(web.url + f"/outbox/{entry.id}")
    assert page.status_code == 200 and "Report &lt;b&gt;x&lt;/b&gt;" in page.text and 'sandbox src="' in page.text
    html = http.get(web.url + f"/outbox/{entry.id}/html")
    policy = html.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'self'" in policy and "X-Frame-Options" not in html.headers
    assert sign_in(web, "fin").get(web.url + f"/outbox/{entry.id}").status_code == 404
    assert http.get(web.url + "/outbox/../config.yaml").status_code == 404


def test_header_mode_believes_only_the_trusted_proxy_and_only_known_users(tmp_path):
    config = CONFIG.replace("web: {login_attempts: 3}", "web: {auth: header, trusted_proxies: [127.0.0.1]}")
    project = make_project(tmp_path / "trusted", config)
    with WebServer(project.config) as web:
        ok = requests.get(web.url + "/jobs", headers={"X-Forwarded-User": "rui"})
        assert ok.status_code == 200 and 'data-job="daily-report"' in ok.text and "rui · runner" in ok.text
        stranger = requests.get(web.url + "/jobs", headers={"X-Forwarded-User": "mallory"})
        assert stranger.status_code == 403
        assert "You are signed in as mallory, who is not an opskit user." in stranger.text
        nobody = requests.get(web.url + "/jobs")
        assert nobody.status_code == 403 and "Sign-in goes through the company&#39;s SSO proxy" in nobody.text
        assert requests.get(web.url + "/login", allow_redirects=False).status_code == 302  # no password form
    untrusted = CONFIG.replace("web: {login_attempts: 3}", "web: {auth: header, trusted_proxies: [10.0.0.0/8]}")
    project = make_project(tmp_path / "untrusted", untrusted)
    with WebServer(project.config) as web:
        forged = requests.get(web.url + "/jobs", headers={"X-Forwarded-User": "ada"})
        assert forged.status_code == 403
        assert "The X-Forwarded-User header is only believed from the SSO proxy" in forged.text


def test_a_run_that_has_just_ended_says_its_email_is_coming_until_it_is_delivered(web, project):
    run_id, _ = _finished_run(project, "done\n")
    http = sign_in(web, "rui")
    page = http.get(f"{web.url}/runs/{run_id}").text
    assert 'id="delivery-pending"' in page and "being prepared" in page
    with project.store() as store:
        store.record_delivery(run_id, {"action": "sent", "emails": []})
    page = http.get(f"{web.url}/runs/{run_id}").text
    assert 'id="delivery-pending"' not in page and 'id="delivery"' in page


def test_the_run_page_names_the_worker_that_ran_it(web, project):
    run_id, _ = _finished_run(project, "done\n")
    http = sign_in(web, "rui")
    assert "<dt>Worker</dt>" not in http.get(f"{web.url}/runs/{run_id}").text  # a local run: no worker
    with project.store() as store:
        store._db.execute("UPDATE runs SET worker=? WHERE id=?", ("opskit-browser@host-b:4242", run_id))
    assert "<dt>Worker</dt><dd>opskit-browser@host-b:4242</dd>" in http.get(f"{web.url}/runs/{run_id}").text
