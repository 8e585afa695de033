"""The JSON API: bearer auth, cursor pagination, rate limiting."""

from __future__ import annotations

import requests

from tests.demo.conftest import FakeClock


def _get(server, path, token=None, **params):
    headers = {"Authorization": f"Bearer {token or server.api_token}"}
    return requests.get(server.url + "/api/v1" + path, headers=headers, params=params)


def test_missing_or_wrong_token_is_a_401_json(console):
    bare = requests.get(console.url + "/api/v1/cases")
    assert bare.status_code == 401 and bare.json() == {"error": "missing or invalid bearer token"}
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    assert _get(console, "/cases", token="wrong").status_code == 401
    assert _get(console, "/cases", limit=1).status_code == 200


def test_case_cursor_pagination_covers_every_row_exactly_once(console, sql):
    ids, cursor, pages = [], None, 0
    while True:
        params = {
            "date_from": "2026-11-01",
            "date_to": "2026-11-15",
            "vendor": "Atlas CX",
            "limit": 200,
        }
        if cursor:
            params["cursor"] = cursor
        body = _get(console, "/cases", **params).json()
        ids += [row["case_id"] for row in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = [
        r[0]
        for r in sql.execute(
            "SELECT c.case_id FROM cases c JOIN moderators m ON m.moderator_id = c.moderator_id"
            " WHERE c.created_at >= '2026-11-01' AND c.created_at < '2026-11-16'"
            " AND m.vendor = 'Atlas CX'"
            " ORDER BY 1"
        )
    ]
    assert pages > 1 and ids == expected


def test_case_rows_carry_the_export_fields(console, sql):
    row = _get(console, "/cases", limit=1).json()["data"][0]
    assert row["case_id"] == 1
    db = sql.execute("SELECT content_text, username, queue_id FROM cases WHERE case_id = 1").fetchone()
    assert (row["content_text"], row["username"], row["queue_id"]) == db
    assert {"queue_name", "channel", "market", "vendor", "site"} <= set(row)


def test_bad_filter_or_cursor_is_a_400(console):
    assert _get(console, "/cases", decision="maybe").status_code == 400
    resp = _get(console, "/cases", cursor="not-a-cursor")
    assert resp.status_code == 400 and "invalid cursor" in resp.json()["error"]


def test_shifts_and_targets_and_queues(console, sql):
    shifts, cursor = [], None
    while True:
        body = _get(
            console,
            "/shifts",
            date_from="2026-11-09",
            limit=150,
            **({"cursor": cursor} if cursor else {}),
        ).json()
        shifts += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(shifts) == sql.execute("SELECT count(*) FROM shifts WHERE date >= '2026-11-09'").fetchone()[0]
    assert len({(s["moderator_id"], s["date"]) for s in shifts}) == len(shifts)
    targets = _get(console, "/targets", period="2026-W46", metric="aht").json()["data"]
    assert targets and all(t["direction"] == "lower_is_better" for t in targets)
    queues = _get(console, "/queues").json()
    assert queues["as_of"] == "2026-11-16T00:00:00Z" and len(queues["data"]) == 30


def test_rate_limit_answers_429_with_retry_after(make_console):
    clock = FakeClock()
    server = make_console(api_rate_per_second=1, api_burst=2, clock=clock)
    assert [_get(server, "/targets", period="x").status_code for _ in range(2)] == [200, 200]
    limited = _get(server, "/targets", period="x")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1" and limited.json()["error"] == "rate limit exceeded"
    clock.advance(1.0)
    assert _get(server, "/targets", period="x").status_code == 200
