"""The pages over real HTTP (waitress): sign-in, sessions, CSRF, the login limit, roles and groups, the
run-now form and its dry run, pause/resume, backfill, secrets never shown, hostile values escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from opskit.web.security import digest
from tests.web.conftest import PASSWORD, csrf_of, make_project, sign_in


def test_every_page_needs_a_sign_in(web):
    for path in ("/jobs", "/jobs/daily-report", "/runs", "/outbox", "/health"):
        resp = requests.get(web.url + path, allow_redirects=False)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next="), path
    assert requests.get(web.url + "/healthz").json() == {"ok": True}


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session_on_the_server(web, project):
    http = sign_in(web, "rui")
    cookie = http.cookies["opskit_session"]
    set_cookie = http.get(web.url + "/login").headers.get("Set-Cookie", "") or ""
    login = requests.Session()
    token = csrf_of(login.get(web.url + "/login").text)
    resp = login.post(
        web.url + "/login", data={"csrf_token": token, "username": "rui", "password": PASSWORD}, allow_redirects=False
    )
    flags = resp.headers["Set-Cookie"]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags and "Secure" not in flags  # plain HTTP here
    del set_cookie
    page = http.get(web.url + "/jobs")
    out = http.post(web.url + "/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.url.endswith("/login")
    stolen = requests.Session()
    stolen.cookies.set("opskit_session", cookie)
    assert stolen.get(web.url + "/jobs", allow_redirects=False).status_code == 302  # the old cookie is dead
    with project.store() as store:
        actions = [e.action for e in store.audit_entries(user="rui", limit=10)]
    assert "login" in actions and "logout" in actions


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(web):
    resp = requests.get(web.url + "/login", headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    untrusted = requests.get(web.url + "/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"})
    assert "; Secure" in untrusted.headers["Set-Cookie"]  # 127.0.0.1 is a trusted proxy by default


def test_a_post_without_the_csrf_token_is_refused(web):
    http = sign_in(web, "rui")
    resp = http.post(web.url + "/jobs/daily-report/pause", data={})
    assert resp.status_code == 400 and "CSRF token missing or invalid" in resp.text
    forged = http.post(web.url + "/jobs/daily-report/pause", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    login = requests.post(web.url + "/login", data={"username": "rui", "password": PASSWORD})
    assert login.status_code == 400


def test_failed_sign_ins_are_limited_and_audited(tmp_path):
    project = make_project(tmp_path)
    from opskit.web.server import WebServer

    with WebServer(project.config) as web:
        http = requests.Session()
        for _ in range(3):
            token = csrf_of(http.get(web.url + "/login").text)
            resp = http.post(web.url + "/login", data={"csrf_token": token, "username": "vic", "password": "wrong"})
            assert resp.status_code == 401 and "Wrong user name or password." in resp.text
        token = csrf_of(http.get(web.url + "/login").text)
        resp = http.post(web.url + "/login", data={"csrf_token": token, "username": "vic", "password": PASSWORD})
        assert resp.status_code == 429 and "Too many failed sign-ins. Try again in 15 minutes." in resp.text
    with project.store() as store:
        assert store.count_audit("login_failed", since=datetime.now(UTC) - timedelta(hours=1), user="vic") == 3


def test_a_session_ends_after_its_idle_time(web, project):
    http = sign_in(web, "vic")
    sid_hash = _session_of(project, "vic")
    with project.store() as store:
        store.touch_session(sid_hash, now=datetime.now(UTC) - timedelta(hours=3))  # idle longer than session_idle
    resp = http.get(web.url + "/jobs")
    assert resp.url.startswith(web.url + "/login") and "Your session ended; please sign in again." in resp.text


def test_a_viewer_sees_but_may_not_run_and_another_groups_job_is_404(web):
    vic = sign_in(web, "vic")
    jobs = vic.get(web.url + "/jobs").text
    assert 'data-job="daily-report"' in jobs and "other-team" not in jobs
    assert vic.get(web.url + "/jobs/other-team").status_code == 404
    assert vic.get(web.url + "/jobs/no-such-job").status_code == 404
    refused = vic.get(web.url + "/jobs/daily-report/run")
    assert refused.status_code == 403 and "This needs the runner role; you are a viewer." in refused.text
    page = vic.get(web.url + "/jobs/daily-report")
    assert vic.post(web.url + "/jobs/daily-report/pause", data={"csrf_token": csrf_of(page.text)}).status_code == 403
    fin = sign_in(web, "fin")
    assert fin.get(web.url + "/jobs/daily-report").status_code == 404
    assert "other-team" in sign_in(web, "ada").get(web.url + "/jobs").text  # admins see every group


def test_the_run_form_is_built_from_the_signature_and_previews_the_period(web):
    rui = sign_in(web, "rui")
    form = rui.get(web.url + "/jobs/daily-report/run").text
    assert 'name="p.period"' in form and '<option value="__range__"' in form and 'type="date"' in form
    assert 'type="number" step="1" name="p.lines"' in form and "job's value: yesterday" in form
    chain = rui.get(web.url + "/jobs/chain/run").text
    assert 'name="p.first.count"' in chain and 'name="p.second.lines"' in chain  # each step its own
    assert 'name="p.first.mode"' in chain and '<option value="full"' in chain  # a Literal is a select
    data = {
        "csrf_token": csrf_of(form),
        "p.period": "__range__",
        "p.period.from": "2026-11-02",
        "p.period.to": "2026-11-08",
        "p.lines": "4",
        "action": "preview",
    }
    preview = rui.post(web.url + "/jobs/daily-report/run", data=data)
    assert preview.status_code == 200
    assert "Week 2026-W45 (2-8 Nov): 2026-11-02 to 2026-11-08 (7 days)" in preview.text
    assert "Email to leads@example.com" in preview.text and "Nothing has run." in preview.text
    with_error = rui.post(web.url + "/jobs/daily-report/run", data={**data, "p.lines": "lots"})
    assert with_error.status_code == 422
    assert (
        "job &#39;daily-report&#39;, parameter &#39;lines&#39;: &#39;lots&#39; is not valid: input should be a valid "
        "integer" in with_error.text
    )


@pytest.mark.parametrize("value", ["../../etc/passwd", "/etc/passwd", "~/x", "a/../../b", "C:\\Windows"])
def test_paths_from_the_web_stay_inside_the_project(web, value):
    rui = sign_in(web, "rui")
    form = rui.get(web.url + "/jobs/daily-report/run").text
    resp = rui.post(
        web.url + "/jobs/daily-report/run",
        data={"csrf_token": csrf_of(form), "p.label": value, "action": "preview"},
    )
    assert resp.status_code == 422 and "points outside the project&#39;s folders" in resp.text


def test_hostile_values_are_escaped_on_the_way_out(web):
    rui = sign_in(web, "rui")
    form = rui.get(web.url + "/jobs/daily-report/run").text
    evil = "<script>alert(1)</script>{{ 7*7 }}"
    resp = rui.post(
        web.url + "/jobs/daily-report/run", data={"csrf_token": csrf_of(form), "p.label": evil, "action": "preview"}
    )
    assert resp.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in resp.text and "<script>alert" not in resp.text
    # never rendered as a template: it would read "...&lt;/script&gt;49" (a bare "49" may be the clock's minute)
    assert "&lt;/script&gt;49" not in resp.text and "</script>49" not in resp.text
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


def test_pause_and_resume_write_the_history_and_the_audit_log(web, project):
    rui = sign_in(web, "rui")
    page = rui.get(web.url + "/jobs/daily-report")
    paused = rui.post(web.url + "/jobs/daily-report/pause", data={"csrf_token": csrf_of(page.text)})
    assert 'id="paused-banner"' in paused.text
    with project.store() as store:
        assert store.job_state("daily-report")["paused"] is True
    rui.post(web.url + "/jobs/daily-report/resume", data={"csrf_token": csrf_of(paused.text)})
    with project.store() as store:
        assert store.job_state("daily-report")["paused"] is False
        assert [e.action for e in store.audit_entries(user="rui", limit=2)] == ["resume", "pause"]


def test_backfill_dry_run_lists_the_slots_and_skips_holidays(web):
    rui = sign_in(web, "rui")
    page = rui.get(web.url + "/jobs/daily-report/backfill")
    resp = rui.post(
        web.url + "/jobs/daily-report/backfill",
        data={"csrf_token": csrf_of(page.text), "from": "2026-12-23", "to": "2026-12-29", "action": "preview"},
    )
    # weekdays at 08:30, without 25 and 26 December (DE holidays): 23, 24, 28, 29
    assert "4 slot(s)" in resp.text
    for day in ("Wed 23 Dec 2026 08:30 CET", "Thu 24 Dec 2026 08:30 CET", "Mon 28 Dec", "Tue 29 Dec"):
        assert day in resp.text
    assert "Fri 25 Dec" not in resp.text


def test_the_job_config_never_shows_a_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("WEB_TEST_TOKEN", "tok-very-secret-1234")
    from tests.web.conftest import CONFIG

    config = CONFIG.replace("  daily-report:\n", "  daily-report:\n    env: [WEB_TEST_TOKEN]\n").replace(
        "params: {period: yesterday, lines: 3}", "params: {period: yesterday, lines: 3, label: '${LABEL:-north}'}"
    )
    config = "sources:\n  api: {url: 'https://x.example', token_env: WEB_TEST_TOKEN}\n" + config
    project = make_project(tmp_path, config)
    from opskit.web.server import WebServer

    with WebServer(project.config) as web:
        text = sign_in(web, "rui").get(web.url + "/jobs/daily-report").text
    assert "${LABEL:-north}" in text and "tok-very-secret" not in text


def _session_of(project, user: str) -> str:
    with project.store() as store:
        row = store._db.execute(
            "SELECT id_hash FROM web_sessions WHERE user=? ORDER BY created_at DESC", (user,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_tokens_and_sessions_are_stored_only_as_digests(project):
    with project.store() as store:
        hashes = [r[0] for r in store._db.execute("SELECT token_hash FROM web_tokens")]
    assert digest(project.tokens["rui"]) in hashes and project.tokens["rui"] not in hashes
