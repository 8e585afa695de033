"""The history's database: a file written before Alembic is adopted, upgraded, and copied into PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo.postgres_server import PASSWORD
from opskit.engine.history import HistoryUnavailable, RunStore, SlotTaken
from opskit.engine.migrate import current_revision, heads
from opskit.engine.migrations import HEAD
from tests.conftest import REPO

OLD_FILE = REPO / "tests" / "fixtures" / "history" / "main-f9f3c5b.sqlite"


@pytest.fixture
def old_history(tmp_path: Path) -> Path:
    """A copy of a history file written by opskit before the migrations (tests/fixtures/history/README.md)."""
    path = tmp_path / "var" / "history.sqlite"
    path.parent.mkdir()
    shutil.copy(OLD_FILE, path)
    return path


def check_old_rows(store: RunStore) -> None:
    """Every row of the old file, as today's code reads it."""
    runs = store.list(limit=100)
    assert len(runs) == 6
    assert [r.status for r in reversed(runs)] == ["succeeded"] * 3 + ["failed"] + ["succeeded"] * 2
    assert runs[-1].delivery == {"emails": [{"to": ["ops@example.com"]}], "blocked": False}
    assert runs[0].result == {"rows": 50} and runs[0].artifacts == ["report.xlsx"]
    assert store.last_runs_brief(["daily"])["daily"].rows == 40
    assert store.job_state("weekly")["paused"] is True
    assert store.job_state("daily")["last_slot"] == "2026-11-20T07:00:00+00:00"
    assert store.scheduler_info()["pid"] == 4242
    user = store.user_for_token("deadbeef" * 8)
    assert user is not None and user.name == "ana" and user.groups == ("ops",)
    assert store.get_session("cafe" * 16).user == "ana"
    assert [(e.action, e.user, e.detail) for e in store.audit_entries()] == [("run", "ana", {"x": 1})]
    (request,) = store.pending_run_requests()
    assert request.overrides == {"period": "2026-11-01"} and request.requested_by == "ana"


def test_the_shipped_migrations_end_at_head():
    assert heads() == [HEAD]


def test_a_history_file_written_before_the_migrations_is_adopted_with_every_row(old_history):
    with RunStore(old_history, upgrade=False) as store:
        assert current_revision(store._db) is None
    with RunStore(old_history) as store:
        assert current_revision(store._db) == HEAD
        check_old_rows(store)
        # and the unique (job, slot) index now guards it
        first = store.list(limit=100)[-1]
        with pytest.raises(SlotTaken, match="daily: slot 2026-11-16T07:00:00.000"):
            store.create(
                job="daily",
                task="t",
                params={},
                trigger="schedule",
                scheduled_for=first.scheduled_for,
                folder_root=old_history.parent,
            )
        audit_id = store.audit_entries()[0].id
        store.audit("login", user="ana")
        assert store.audit_entries()[0].id == audit_id + 1


def test_db_upgrade_says_what_it_did_then_that_nothing_was_left(run_cli, tmp_project, old_history):
    assert old_history == tmp_project.root / "var" / "history.sqlite"  # the project's own history
    first = run_cli("db", "upgrade")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip().endswith(f"upgraded from none (a new or pre-Alembic history) to {HEAD}")
    again = run_cli("db", "upgrade")
    assert again.stdout.strip().endswith(f"schema already at revision {HEAD}")


def test_db_copy_moves_a_sqlite_history_into_postgresql_once_however_often_it_runs(
    run_cli, tmp_project, old_history, pg_url
):
    assert old_history == tmp_project.root / "var" / "history.sqlite"  # the project's own history
    first = run_cli("db", "copy", "--to", pg_url)
    assert first.exit_code == 0, first.stderr
    assert "copied 14 row(s)" in first.stdout  # 6 runs, 2 job states, 1 of each other table
    assert PASSWORD not in first.stdout + first.stderr and "opskit:***@" in first.stdout
    with RunStore(pg_url) as store:
        check_old_rows(store)
        with RunStore(old_history) as old:
            assert [r.id for r in store.list(limit=100)] == [r.id for r in old.list(limit=100)]
        store.audit("login", user="ana")  # the audit log's ids go on after the copied ones
        assert [e.action for e in store.audit_entries()] == ["login", "run"]
    again = run_cli("db", "copy", "--to", pg_url)
    assert again.exit_code == 0 and "copied 0 row(s)" in again.stdout
    assert "       6 row(s),        0 copied,        6 already there" in again.stdout


def test_the_config_names_a_postgresql_history_and_commands_use_it(run_cli, tmp_project, pg_url, monkeypatch):
    user_and_password, rest = pg_url.removeprefix("postgresql://").split("@", 1)
    monkeypatch.setenv("OPSKIT_PG_PASSWORD", user_and_password.split(":", 1)[1])
    url = f"postgresql://{user_and_password.split(':')[0]}:${{OPSKIT_PG_PASSWORD}}@{rest}"
    tmp_project.config.write_text(f"history: {url}\n" + tmp_project.config.read_text())
    result = run_cli("run", "nightly")
    assert result.exit_code == 0, result.stderr
    history = run_cli("history")
    assert "nightly" in history.stdout and "succeeded" in history.stdout
    assert not (tmp_project.root / "var" / "history.sqlite").exists()
    with RunStore(pg_url) as store:
        assert [r.job for r in store.list()] == ["nightly"]


def test_an_unreachable_server_is_one_line_without_the_password(run_cli, tmp_project, postgres_server):
    from tests.conftest import free_port

    url = postgres_server.url("nowhere").replace(str(postgres_server.port), str(free_port()))
    tmp_project.config.write_text(f"history: {url}\n" + tmp_project.config.read_text())
    result = run_cli("history")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: the run history postgresql://opskit:***@127.0.0.1:")
    assert "cannot be reached" in result.stderr and PASSWORD not in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_bad_history_scheme_is_a_config_error(run_cli, tmp_project):
    tmp_project.config.write_text("history: mysql://x@y/z\n" + tmp_project.config.read_text())
    result = run_cli("history")
    assert result.exit_code == 2
    assert "postgresql:// URL, not mysql://" in result.stderr and result.stderr.count("\n") == 1


def test_history_unavailable_is_what_a_stopped_server_raises_and_the_store_recovers(postgres_server, pg_url):
    store = RunStore(pg_url)
    try:
        store.list()
        postgres_server.stop()
        with pytest.raises(HistoryUnavailable, match="cannot be reached"):
            store.list()
        postgres_server.start()
        run = store.create(
            job="j",
            task="t",
            params={},
            trigger="manual",
            scheduled_for=datetime(2026, 1, 1, tzinfo=UTC),
            folder_root=Path("/tmp"),
        )
        assert store.get(run.id).status == "queued"
    finally:
        store.close()
