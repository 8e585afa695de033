from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opskit.engine.history import RunStatus, RunStore, Trigger
from opskit.errors import UsageError
from tests.pg_fixtures import pg_url, postgres_server  # noqa: F401 (fixtures)

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.cluster)])
def history(request: pytest.FixtureRequest, tmp_path: Path):
    """The same history tests on the default SQLite file and on a real PostgreSQL."""
    target = tmp_path / "history.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with RunStore(target) as store:
        yield store


def create(store: RunStore, tmp_path: Path, **kw):
    args = dict(
        job="daily",
        task="t",
        params={"period": "2026-11-15"},
        trigger=Trigger.SCHEDULE,
        folder_root=tmp_path / "runs",
        now=T0,
    )
    args.update(kw)
    args.setdefault("scheduled_for", args["now"])  # each scheduled slot is in the history once
    return store.create(**args)


def test_a_run_goes_from_queued_to_succeeded_with_timings(history, tmp_path):
    run = create(history, tmp_path)
    assert run.status == "queued" and run.started_at is None
    assert run.id.startswith("20261116T070000Z-daily-")
    history.mark_running(run.id, pid=os.getpid(), now=T0 + timedelta(seconds=2))
    history.finish(
        run.id, RunStatus.SUCCEEDED, result={"rows": 3}, artifacts=["run.log"], now=T0 + timedelta(seconds=7)
    )
    done = history.get(run.id)
    assert done.status == "succeeded" and done.duration_s == 5.0
    assert done.result == {"rows": 3} and done.artifacts == ["run.log"]
    assert done.scheduled_for == T0 and done.params == {"period": "2026-11-15"}


def test_get_accepts_a_unique_part_of_the_id(history, tmp_path):
    run = create(history, tmp_path)
    assert history.get(run.id[-4:]).id == run.id
    with pytest.raises(UsageError, match="no run 'nothing' in the history"):
        history.get("nothing")


def test_filters_and_newest_first(history, tmp_path):
    a = create(history, tmp_path, now=T0)
    b = create(history, tmp_path, job="weekly", now=T0 + timedelta(minutes=1))
    c = create(history, tmp_path, now=T0 + timedelta(minutes=2))
    history.finish(c.id, RunStatus.FAILED, error="boom")
    assert [r.id for r in history.list()] == [c.id, b.id, a.id]
    assert [r.id for r in history.list(job="daily")] == [c.id, a.id]
    assert [r.id for r in history.list(status="failed")] == [c.id]
    assert [r.id for r in history.list(limit=1)] == [c.id]
    assert history.last_by_job()["daily"].id == c.id


def test_finish_only_if_unfinished_keeps_the_first_outcome(history, tmp_path):
    run = create(history, tmp_path)
    history.finish(run.id, RunStatus.SUCCEEDED)
    assert not history.finish(run.id, RunStatus.FAILED, error="late", only_if_unfinished=True)
    assert history.get(run.id).status == "succeeded"


def test_a_run_whose_process_died_is_marked_abandoned(history, tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    run = create(history, tmp_path)
    history.mark_running(run.id, pid=int(dead.stdout))
    alive = create(history, tmp_path, now=T0 + timedelta(minutes=1))
    history.mark_running(alive.id, pid=os.getpid())
    assert history.mark_dead_runs_abandoned() == [run.id]
    record = history.get(run.id)
    assert record.status == "abandoned"
    assert "ended without recording a result" in record.error
    assert history.get(alive.id).status == "running"


def test_pid_reuse_is_not_mistaken_for_the_run(history, tmp_path):
    run = create(history, tmp_path)
    history.mark_running(run.id, pid=os.getpid(), pid_started=12345.0)  # our pid, another start time
    assert history.mark_dead_runs_abandoned() == [run.id]


def test_two_writers_at_once_lose_nothing(tmp_path):
    db = tmp_path / "history.sqlite"
    RunStore(db).close()
    script = (
        "import sys; from datetime import datetime, UTC; from pathlib import Path\n"
        "from opskit.engine.history import RunStore, RunStatus\n"
        "s = RunStore(Path(sys.argv[1]))\n"
        "for i in range(150):\n"
        "    r = s.create(job=sys.argv[2], task='t', params={}, trigger='manual',"
        " scheduled_for=datetime.now(UTC), folder_root=Path(sys.argv[1]).parent)\n"
        "    s.mark_running(r.id, pid=1)\n"
        "    s.finish(r.id, RunStatus.SUCCEEDED)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(db), name], cwd=Path(__file__).parent.parent)
        for name in ("scheduler", "manual")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with RunStore(db) as store:
        runs = store.list(limit=1000)
    assert len(runs) == 300
    assert {r.status for r in runs} == {"succeeded"}
    assert len({r.id for r in runs}) == 300


def test_pruning_removes_old_run_folders_but_keeps_the_rows(history, tmp_path):
    old = create(history, tmp_path, now=T0 - timedelta(days=40))
    new = create(history, tmp_path, now=T0)
    for run in (old, new):
        Path(run.folder).mkdir(parents=True)
        (Path(run.folder) / "run.log").write_text("x")
    history.finish(old.id, RunStatus.SUCCEEDED, now=T0 - timedelta(days=40))
    history.finish(new.id, RunStatus.SUCCEEDED, now=T0)
    removed = history.prune_run_folders(timedelta(days=30), now=T0)
    assert removed == [Path(old.folder)]
    assert not Path(old.folder).exists() and Path(new.folder).exists()
    assert history.get(old.id).status == "succeeded"


def test_pause_state_persists(tmp_path):
    with RunStore(tmp_path / "h.sqlite") as store:
        assert store.job_state("daily")["paused"] is False
        store.set_paused("daily", True)
    with RunStore(tmp_path / "h.sqlite") as store:
        assert store.job_state("daily")["paused"] is True


def test_rows_unpack_their_values_as_sqlite3_rows_do(tmp_path):
    """Code written against sqlite3.Row unpacks rows (``for (id_,) in rows``): the SQLAlchemy rows must too."""
    with RunStore(tmp_path / "history.sqlite") as store:
        store.add_user("vic", role="viewer", groups=(), password_hash="x")
        [(name, role)] = list(store._db.execute("SELECT name, role FROM web_users"))
        assert (name, role) == ("vic", "viewer")
        row = store._db.execute("SELECT name, role FROM web_users").fetchone()
        assert row["role"] == "viewer" and row[1] == "viewer" and dict(row) == {"name": "vic", "role": "viewer"}


def test_a_run_that_timed_out_before_its_process_started_stays_timed_out(history, tmp_path):
    """The parent records ``timed_out`` first; a worker that starts late must not turn it back into running
    (its SIGTERM handler would then record "failed: terminated" over the timeout)."""
    run = create(history, tmp_path)
    assert history.finish(run.id, RunStatus.TIMED_OUT, error="timed out after 1s", only_if_unfinished=True)
    assert history.mark_running(run.id, pid=os.getpid()) is False
    assert history.get(run.id).status == "timed_out" and history.get(run.id).pid is None
    second = create(history, tmp_path, now=T0 + timedelta(minutes=1))
    assert history.mark_running(second.id, pid=os.getpid()) is True
    assert history.get(second.id).status == "running"


def test_a_history_written_by_a_newer_opskit_is_one_line_and_left_alone(tmp_path):
    path = tmp_path / "history.sqlite"
    with RunStore(path) as store:
        store._db.execute("UPDATE alembic_version SET version_num='0099'")
    with pytest.raises(UsageError, match=r"is at schema 0099, newer than this opskit knows \(up to 0004\)"):
        RunStore(path)
    with RunStore(path, upgrade=False) as store:  # nothing was changed
        assert store._db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0099"
