"""The web app's tables and reads on both databases: the SQL that differs between them (a column named
``user``, JSON fields, insertion order for keyset pages, upserts) gives the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opskit.engine.history import RunStatus, RunStore
from opskit.engine.requests_table import RequestStatus
from opskit.errors import UsageError

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    target = tmp_path / "history.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with RunStore(target) as store:
        yield store


def test_users_tokens_sessions_and_the_audit_log(store):
    store.add_user("ana", role="admin", groups=("ops", "ops", "qa"), password_hash="h1", now=T0)
    with pytest.raises(UsageError, match="user 'ana' already exists"):
        store.add_user("ana", role="viewer", groups=(), password_hash=None)
    token = store.add_token("ana", "digest-1", label="ci", now=T0)
    assert store.user_for_token("digest-1", now=T0 + timedelta(minutes=5)).groups == ("ops", "qa")
    assert [t["id"] for t in store.list_tokens("ana")] == [token] and store.list_tokens("ana")[0]["user"] == "ana"
    store.create_session("sess-1", "ana", csrf="c1", ip="10.0.0.1", now=T0)
    assert store.get_session("sess-1").csrf == "c1"
    store.update_user("ana", password_hash="h2", now=T0 + timedelta(minutes=1))  # ends her sessions
    assert store.get_session("sess-1") is None
    store.create_session("sess-2", "ana", csrf="c2", ip=None, now=T0)
    assert store.prune_sessions(idle_before=T0 + timedelta(hours=1), created_before=T0) == 1
    for minute in range(3):
        store.audit("login_failed", user="ana", ip="10.0.0.9", detail={"n": minute}, now=T0 + timedelta(minutes=minute))
    assert store.count_audit("login_failed", since=T0 + timedelta(minutes=1), user="ana", ip="10.0.0.9") == 2
    assert [e.detail["n"] for e in store.audit_entries(user="ana", action="login_failed", limit=2)] == [2, 1]
    assert store.revoke_token(token) and not store.revoke_token(token)
    assert store.user_for_token("digest-1") is None
    store.remove_user("ana")
    assert store.get_user("ana") is None


def test_run_requests_and_the_pages_reads(store, tmp_path):
    runs = []
    for i in range(5):
        record = store.create(
            job="daily",
            task="t",
            params={},
            trigger="schedule",
            scheduled_for=T0 + timedelta(days=i),
            folder_root=tmp_path,
            now=T0,  # the same queued_at: insertion order breaks the tie
        )
        store.mark_running(record.id, pid=1, now=T0 + timedelta(days=i))
        store.finish(record.id, RunStatus.SUCCEEDED, result={"rows": i * 10}, now=T0 + timedelta(days=i, seconds=3))
        runs.append(record.id)
    store.record_delivery(runs[-1], {"blocked": True})
    brief = store.last_runs_brief(["daily", "nothing"])
    assert list(brief) == ["daily"] and brief["daily"].id == runs[-1]
    assert brief["daily"].rows == 40 and brief["daily"].blocked is True
    assert store.last_runs(["daily"], final=True)["daily"].id == runs[-1]
    first = store.runs_page(jobs=["daily"], limit=2)
    assert [r.id for r in first] == runs[::-1][:2]
    rest = store.runs_page(jobs=["daily"], before=first[-1].id, limit=10)
    assert [r.id for r in rest] == runs[::-1][2:]
    assert [p["rows"] for p in store.job_trend("daily")] == [0, 10, 20, 30, 40]
    assert store.start_lags(limit=2) == [0.0, 0.0]
    store.set_paused("daily", True)
    assert store.paused_jobs() == {"daily"}
    store.set_last_slots({"daily": T0, "weekly": T0})
    store.set_last_slots({"daily": T0 + timedelta(days=1)})
    assert store.job_state("daily") == {"paused": True, "last_slot": (T0 + timedelta(days=1)).isoformat()}
    request = store.add_run_request("daily", overrides={"period": "x"}, trigger="web", requested_by="ana", now=T0)
    assert [r.id for r in store.pending_run_requests()] == [request.id]
    assert store.close_run_request(request.id, RequestStatus.STARTED, run_id=runs[0])
    assert not store.close_run_request(request.id, RequestStatus.CANCELLED)  # a request turns into one run
    assert store.get(runs[0]).requested_by == "ana"
    assert store.run_requests(status="started")[0].run_id == runs[0]
