"""The console's pages: sign-in, CSRF, sessions, search totals, exports, realism switches."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from urllib.parse import urlparse

import openpyxl
import pytest
import requests

from demo import content
from tests.demo.conftest import FakeClock, csrf_of, sign_in

WEEK = {"date_from": "2026-11-09", "date_to": "2026-11-15"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _total(html: str, element_id: str = "total-count") -> int:
    match = re.search(rf'id="{element_id}"[^>]*>([\d,]+)<', html)
    assert match, f"no #{element_id} on the page"
    return int(match.group(1).replace(",", ""))


def _sql_cases(sql, where: str = "", params: tuple = ()) -> list[tuple]:
    return sql.execute(
        f"""
        SELECT c.*, q.name, q.channel, q.market, m.vendor, m.site FROM cases c
        JOIN queues q ON q.queue_id = c.queue_id LEFT
        JOIN moderators m ON m.moderator_id = c.moderator_id
        {where} ORDER BY c.case_id""",
        params,
    ).fetchall()


def test_wrong_password_shows_the_error_on_the_page(console):
    http = requests.Session()
    token = csrf_of(http.get(console.url + "/login").text)
    resp = http.post(
        console.url + "/login",
        data={"csrf_token": token, "username": console.username, "password": "not-it"},
    )
    assert resp.status_code == 200 and resp.url.endswith("/login")
    assert (
        '<div class="error" id="login-error" data-testid="login-error" role="alert">'
        "Invalid username or password</div>" in resp.text
    )
    assert http.get(console.url + "/queues").url.startswith(console.url + "/login")


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_login_without_the_right_csrf_token_is_rejected(console, token):
    http = requests.Session()
    http.get(console.url + "/login")
    data = {"username": console.username, "password": console.password}
    if token:
        data["csrf_token"] = token
    resp = http.post(console.url + "/login", data=data, allow_redirects=False)
    assert resp.status_code == 400
    assert "CSRF token missing or invalid" in resp.text
    assert http.get(console.url + "/queues", allow_redirects=False).status_code == 302


def test_sign_in_sets_a_session_cookie_and_rotates_the_csrf_token(console):
    http = requests.Session()
    before = csrf_of(http.get(console.url + "/login").text)
    sign_in(console, http)
    assert "console_session" in http.cookies
    after = csrf_of(http.get(console.url + "/cases").text)
    assert after != before
    resp = http.post(console.url + "/export", data={"csrf_token": before, "format": "csv"})
    assert resp.status_code == 400


def test_export_without_csrf_token_is_rejected(console):
    http = sign_in(console)
    resp = http.post(console.url + "/export", data={"format": "csv", **WEEK})
    assert resp.status_code == 400 and "CSRF" in resp.text


def test_session_expires_after_the_configured_time(make_console):
    clock = FakeClock()
    server = make_console(session_seconds=600, clock=clock)
    http = sign_in(server)
    clock.advance(599)
    assert http.get(server.url + "/queues").url.endswith("/queues")
    clock.advance(2)
    resp = http.get(server.url + "/cases")
    assert "/login" in resp.url and "expired=1" in resp.url
    assert "Your session has expired" in resp.text


def test_one_time_code_step(make_console, tmp_path):
    code_file = tmp_path / "otp.txt"
    code_file.write_text("246810\n")
    server = make_console(otp_file=code_file)
    http = requests.Session()
    token = csrf_of(http.get(server.url + "/login").text)
    resp = http.post(
        server.url + "/login",
        data={"csrf_token": token, "username": server.username, "password": server.password},
    )
    assert resp.url.endswith("/login/otp") and 'id="otp"' in resp.text
    assert http.get(server.url + "/queues").url.startswith(server.url + "/login")  # not signed in yet
    token = csrf_of(resp.text)
    wrong = http.post(server.url + "/login/otp", data={"csrf_token": token, "otp": "000000"})
    assert "Invalid one-time code" in wrong.text
    code_file.write_text("135790")  # a new code replaces the old one
    stale = http.post(server.url + "/login/otp", data={"csrf_token": token, "otp": "246810"})
    assert "Invalid one-time code" in stale.text
    ok = http.post(server.url + "/login/otp", data={"csrf_token": token, "otp": "135790"})
    assert ok.url.endswith("/queues") and 'id="queue-table"' in ok.text


def test_queue_dashboard_backlog_matches_the_database(console, sql):
    html = sign_in(console).get(console.url + "/queues").text
    shown = dict(re.findall(r'<tr data-queue-id="([^"]+)">.*?<td class="backlog">(\d+)</td>', html, re.S))
    expected = dict(
        sql.execute(
            "SELECT q.queue_id, count(c.case_id) FROM queues q LEFT JOIN cases c"
            " ON c.queue_id = q.queue_id AND c.completed_at IS NULL GROUP BY 1"
        )
    )
    assert len(shown) == len(expected) >= 20
    assert {k: int(v) for k, v in shown.items()} == expected
    assert sum(expected.values()) > 0
    # Each queue's status follows from its oldest open case and its SLA: over it is breached, over 75% of
    # it at risk; and the planted story has queues in each state.
    sla = {k: float(v) for k, v in sql.execute("SELECT queue_id, sla_hours FROM queues")}
    statuses = {}
    for qid, row in re.findall(r'<tr data-queue-id="([^"]+)">(.*?)</tr>', html, re.S):
        age_text = re.search(r'<td class="oldest-age">([^<]*)</td>', row).group(1).strip()
        status = re.search(r'<td class="sla-status[^"]*">([^<]*)</td>', row).group(1)
        age = float(age_text) if age_text else None
        expected_status = (
            "breached"
            if age is not None and age > sla[qid]
            else "at risk"
            if age is not None and age > 0.75 * sla[qid]
            else "on track"
        )
        assert status == expected_status, (qid, age, sla[qid], status)
        statuses[qid] = status
    assert {"breached", "on track"} <= set(statuses.values())


@pytest.mark.parametrize(
    ("args", "where", "params"),
    [
        ({}, "", ()),
        (WEEK, "WHERE c.created_at >= ? AND c.created_at < ?", ("2026-11-09", "2026-11-16")),
        (
            {"market": "BR", "decision": "remove"},
            "WHERE q.market = ? AND c.decision = ?",
            ("BR", "remove"),
        ),
        (
            {"vendor": "Lumen BPO", "date_from": "2026-10-20", "date_by": "completed"},
            "WHERE m.vendor = ? AND c.completed_at >= ?",
            ("Lumen BPO", "2026-10-20"),
        ),
        (
            {"queue": "account-us-impersonation"},
            "WHERE c.queue_id = ?",
            ("account-us-impersonation",),
        ),
    ],
)
def test_search_total_equals_a_direct_sql_count(console, sql, args, where, params):
    html = sign_in(console).get(console.url + "/cases", params=args).text
    assert _total(html) == len(_sql_cases(sql, where, params)) > 0


def test_pages_together_list_every_matching_case_once(console, sql):
    http = sign_in(console)
    seen, page = [], 1
    while True:
        html = http.get(console.url + "/cases", params={**WEEK, "market": "ID", "per_page": 100, "page": page}).text
        seen += [int(x) for x in re.findall(r'<tr data-case-id="(\d+)">', html)]
        if 'id="page-next"' not in html:
            break
        page += 1
    expected = [
        r[0]
        for r in _sql_cases(
            sql,
            "WHERE c.created_at >= ? AND c.created_at < ? AND q.market = ?",
            ("2026-11-09", "2026-11-16", "ID"),
        )
    ]
    assert page > 1 and seen == expected


def test_user_content_is_escaped_never_rendered_as_markup(console, sql):
    case_id = sql.execute(
        "SELECT min(case_id) FROM cases WHERE content_text = ?", ("<img src=x onerror=alert(1)>",)
    ).fetchone()[0]
    html = sign_in(console).get(console.url + "/cases", params={"per_page": 500, "page": (case_id - 1) // 500 + 1}).text
    assert f'data-case-id="{case_id}"' in html
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def _export(http, url, fmt, args) -> requests.Response:
    token = csrf_of(http.get(url + "/cases", params=args).text)
    return http.post(url + "/export", data={"csrf_token": token, "format": fmt, **args})


def test_csv_export_equals_the_database_rows(console, sql):
    resp = _export(sign_in(console), console.url, "csv", {**WEEK, "market": "US"})
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="cases_2026-11-09_2026-11-15_20261116T0000.csv"'
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8"), newline="")))
    expected = _sql_cases(
        sql,
        "WHERE c.created_at >= ? AND c.created_at < ? AND q.market = ?",
        ("2026-11-09", "2026-11-16", "US"),
    )
    assert rows[0][:3] == ["case_id", "queue_id", "created_at"] and len(rows[0]) == 21
    assert rows[1:] == [["" if v is None else str(v) for v in row] for row in expected]


def test_xlsx_export_equals_the_database_rows_and_has_no_formulas(console, sql, tmp_path):
    resp = _export(sign_in(console), console.url, "xlsx", WEEK)
    assert resp.headers["Content-Disposition"].endswith("cases_2026-11-09_2026-11-15_20261116T0000.xlsx")
    path = tmp_path / "export.xlsx"
    path.write_bytes(resp.content)
    ws = openpyxl.load_workbook(path)["cases"]
    cells = list(ws.iter_rows(min_row=2))
    expected = _sql_cases(sql, "WHERE c.created_at >= ? AND c.created_at < ?", ("2026-11-09", "2026-11-16"))
    # openpyxl shows
    # Excel's escape for a carriage return literally; Excel and calamine read it back as CR
    assert [[c.value for c in row] for row in cells] == [
        [v.replace("\r", "_x000D_") if isinstance(v, str) else v for v in row] for row in expected
    ]
    risky = [c for row in cells for c in row if isinstance(c.value, str) and c.value.startswith(FORMULA_START)]
    assert len(risky) > 0
    assert {c.data_type for c in risky} == {"s"}
    assert not any(c.data_type == "f" for row in cells for c in row)


def test_large_export_is_prepared_in_the_background(make_console, sql):
    server = make_console(export_sync_limit=100)
    http = sign_in(server)
    gate = threading.Event()
    run = server.exports._run
    server.exports._run = lambda job, flt, fmt: (gate.wait(10), run(job, flt, fmt))
    resp = _export(http, server.url, "csv", WEEK)
    assert 'id="export-status"' in resp.text and "Your export is being prepared" in resp.text
    assert 'http-equiv="refresh"' in resp.text and 'id="download-link"' not in resp.text
    job_id = urlparse(resp.url).path.rsplit("/", 1)[1]
    gate.set()
    assert server.exports.wait(job_id, timeout=30).status == "done"
    page = http.get(resp.url).text
    link = re.search(r'id="download-link" data-testid="download-link" href="([^"]+)"', page)
    assert link and "refresh" not in page
    download = http.get(server.url + link.group(1))
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "cases_2026-11-09_2026-11-15_20261116T0000.csv" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8"), newline="")))
    expected = _sql_cases(sql, "WHERE c.created_at >= ? AND c.created_at < ?", ("2026-11-09", "2026-11-16"))
    assert len(expected) > 100
    assert [int(r[0]) for r in rows[1:]] == [r[0] for r in expected]


def test_targets_and_productivity_pages(console, sql):
    http = sign_in(console)
    targets = http.get(console.url + "/targets", params={"period": "2026-W46", "level": "vendor"}).text
    n_targets = sql.execute("SELECT count(*) FROM targets WHERE period = '2026-W46' AND level = 'vendor'").fetchone()[0]
    assert targets.count("<tr><td>2026-W46</td><td>vendor</td>") == n_targets > 0
    prod = http.get(console.url + "/productivity", params={"date_from": "2026-11-15", "date_to": "2026-11-15"}).text
    shifts = sql.execute("SELECT count(*) FROM shifts WHERE date = '2026-11-15'").fetchone()[0]
    assert _total(prod, "prod-total-count") == shifts > 0
    assert 'id="productivity-table"' in prod


def test_alternative_layout_renames_ids_and_buttons_but_still_works(make_console):
    server = make_console(alt_layout=True)
    login = requests.get(server.url + "/login").text
    assert 'id="signin-submit"' in login and 'id="login-button"' not in login
    http = sign_in(server)
    cases = http.get(server.url + "/cases").text
    assert "Download as CSV" in cases and 'id="export-csv"' not in cases
    assert 'id="result-count"' in cases and 'id="total-count"' not in cases
    assert _export(http, server.url, "csv", WEEK).status_code == 200


def test_added_latency_slows_every_request(make_console):
    server = make_console(latency_ms=300)
    started = time.monotonic()
    assert requests.get(server.url + "/login").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_error_rate_answers_with_500s(make_console):
    always = make_console(error_rate=1.0)
    page = requests.get(always.url + "/login")
    assert page.status_code == 500 and 'id="server-error"' in page.text
    api = requests.get(always.url + "/api/v1/queues", headers={"Authorization": f"Bearer {always.api_token}"})
    assert api.status_code == 500 and "error" in api.json()
    half = make_console(error_rate=0.5, error_seed=3)
    codes = [requests.get(half.url + "/login").status_code for _ in range(30)]
    assert set(codes) == {200, 500}


def test_early_expiry_ends_the_session_after_a_few_pages(make_console):
    server = make_console(early_expiry_after=2)
    http = sign_in(server)  # lands on /queues: the first page
    assert http.get(server.url + "/cases").url.endswith("/cases")
    resp = http.get(server.url + "/targets")
    assert "expired=1" in resp.url and "Your session has expired" in resp.text
    sign_in(server, http)  # a task can recover by signing in again


def test_hostile_strings_round_trip_through_the_csv_export(console, sql):
    rows = list(csv.reader(io.StringIO(_export(sign_in(console), console.url, "csv", {}).content.decode(), newline="")))
    texts = {r[14] for r in rows[1:]}
    assert set(content.HOSTILE_TEXTS) <= texts
