"""The scheduler with real processes: the single-daemon lock, SIGTERM, crash recovery, status, and the
scheduling commands (next, pause, resume, backfill)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest

from opskit.engine.daemon import Scheduler
from opskit.engine.history import RunStore
from tests.conftest import REPO, wait_for

pytestmark = pytest.mark.process  # starts runner.py, workers, the daemon or the zygote

BERLIN = ZoneInfo("Europe/Berlin")


def start_daemon(project) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "--config", str(project.config), "schedule"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def history(project) -> RunStore:
    return RunStore(project.root / "var" / "history.sqlite")


def heartbeat_seen(project) -> bool:
    db = project.root / "var" / "history.sqlite"
    if not db.exists():
        return False
    with RunStore(db) as store:
        info = store.scheduler_info()
    return bool(info and info["stopped_at"] is None and info["pid"] > 0)


@pytest.fixture
def daemon_config(tmp_project):
    tmp_project.write_config("""\
        timezone: Europe/Berlin
        scheduler:
          shutdown_grace: 1s
        jobs:
          yearly:
            task: kitchen_sink
            schedule: "0 3 1 1 *"
            max_age: 400d
        """)
    return tmp_project


def next_new_year_3am() -> datetime:
    """When the yearly job ("0 3 1 1 *") fires next, from today: the status line shows it."""
    now = datetime.now(BERLIN)
    this_year = datetime(now.year, 1, 1, 3, 0, tzinfo=BERLIN)
    return this_year if now < this_year else this_year.replace(year=now.year + 1)


def test_a_second_daemon_exits_naming_the_first_and_sigterm_stops_cleanly(daemon_config, run_cli):
    first = start_daemon(daemon_config)
    try:
        wait_for(lambda: heartbeat_seen(daemon_config), what="the first daemon's heartbeat")
        second = subprocess.run(
            [sys.executable, str(REPO / "runner.py"), "--config", str(daemon_config.config), "schedule"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 2
        assert second.stderr.startswith(
            f"error: another scheduler (pid {first.pid}) is already running on this history"
        )
        status = run_cli("status")
        assert f"scheduler: alive (pid {first.pid}" in status.stdout
        assert "yearly" in status.stdout and f"{next_new_year_3am():%Y-%m-%d %H:%M} CET" in status.stdout
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert "scheduler stopped" in err
    assert err.count("scheduler started") == 1 and err.count("scheduler stopped") == 1  # each line once
    assert run_cli("status").stdout.startswith("scheduler: stopped at ")
    check = run_cli("status", "--check")
    assert check.exit_code == 1 and "check failed: scheduler: stopped" in check.stderr


def test_sigterm_gives_running_runs_the_grace_then_terminates_and_records_them(daemon_config, tmp_path):
    marker = tmp_path / "started"
    store = history(daemon_config)
    queued = store.create(
        job=None,
        task="slow",
        params={"seconds": 600, "marker": str(marker)},
        trigger="manual",
        scheduled_for=datetime.now(UTC),
        folder_root=daemon_config.root / "var" / "runs",
    )
    daemon = start_daemon(daemon_config)
    try:
        wait_for(marker.exists, what="the queued run to be started by the daemon")
        worker = int(marker.read_text())
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0
    assert "waiting up to 0:00:01 for 1 running run(s)" in err
    record = store.get(queued.id)
    assert record.status == "failed" and record.error.startswith("terminated")
    wait_for(
        lambda: not psutil.pid_exists(worker) or psutil.Process(worker).status() == "zombie",
        what="the run's process to be gone",
    )
    assert not list(Path(record.folder).glob("*.part"))


def test_crash_recovery_abandons_the_dead_run_and_catches_up_without_running_anything_twice(tmp_project, tmp_path):
    marker = tmp_path / "pid"
    tmp_project.write_config(
        textwrap.dedent(f"""\
        timezone: Europe/Berlin
        jobs:
          daily:
            task: slow
            schedule: "30 8 * * *"
            catch_up: latest
            params:
              seconds: 600
              marker: {marker}
        """)
    )
    t0 = datetime(2026, 11, 16, 9, 0, tzinfo=BERLIN)
    first = Scheduler(tmp_project.config)
    first.start(t0)
    first.tick(datetime(2026, 11, 17, 8, 30, tzinfo=BERLIN))
    wait_for(marker.exists, what="the 17 Nov run to start")
    crashed_run = next(iter(first.running))
    # The whole service dies (kill -9 of the daemon and its run, as a reboot would):
    os.kill(int(marker.read_text()), signal.SIGKILL)
    first._lock.release()
    first.store.close()
    marker.unlink()

    second = Scheduler(tmp_project.config)
    second.start(datetime(2026, 11, 19, 9, 0, tzinfo=BERLIN))
    try:
        second.tick(datetime(2026, 11, 19, 9, 0, tzinfo=BERLIN))
        wait_for(marker.exists, what="the catch-up run to start")
        store = second.store
        assert store.get(crashed_run).status == "abandoned"
        rows = list(reversed(store.list(job="daily", limit=100)))
        by_slot = {}
        for r in rows:
            by_slot.setdefault(r.scheduled_for.astimezone(BERLIN).date().isoformat(), []).append((r.trigger, r.status))
        assert by_slot == {
            "2026-11-17": [("schedule", "abandoned")],  # never re-run by itself: nothing runs twice
            "2026-11-18": [("catch-up", "skipped")],
            "2026-11-19": [("catch-up", "running")],  # the latest missed slot, caught up
        }
        assert len(second.running) == 1
    finally:
        second.stop(datetime(2026, 11, 19, 9, 1, tzinfo=BERLIN))


def test_next_shows_dst_notes_and_calendar_skips(run_cli, tmp_project):
    tmp_project.write_config("""\
        timezone: Europe/Berlin
        jobs:
          night:
            task: kitchen_sink
            schedule: "30 2 * * *"
          weekday:
            task: kitchen_sink
            schedule: "every weekday at 07:00"
            calendar:
              market: DE
              holidays: [2026-12-28]
        """)
    result = run_cli("next", "weekday", "--count", "40", "--json")
    slots = json.loads(result.stdout)["weekday"]
    skipped = {s["at"][:10]: s["skipped"] for s in slots if s["skipped"]}
    assert skipped.get("2026-12-25") == "Christmas Day (DE holiday)"
    assert "2026-12-28" in skipped
    text = run_cli("next", "weekday", "--count", "3").stdout
    assert text.startswith("weekday: at 07:00 on Monday through Friday, skipping DE holidays (Europe/Berlin)")


def test_pause_and_resume_persist(run_cli, tmp_project):
    assert run_cli("pause", "nightly").stdout.startswith("nightly: paused")
    with history(tmp_project) as store:
        assert store.job_state("nightly")["paused"] is True
    assert run_cli("resume", "nightly").stdout == "nightly: resumed\n"
    with history(tmp_project) as store:
        assert store.job_state("nightly")["paused"] is False
    bad = run_cli("pause", "nighty")
    assert bad.exit_code == 2 and "unknown job 'nighty'. Did you mean 'nightly'?" in bad.stderr


def test_backfill_runs_one_run_per_slot_each_for_its_own_day(run_cli, tmp_project):
    dry = run_cli("backfill", "nightly", "--from", "2026-11-02", "--to", "2026-11-04", "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout.splitlines() == [
        "nightly: 3 slot(s) would run, one after another:",
        "  Mon 2026-11-02 02:30 CET",
        "  Tue 2026-11-03 02:30 CET",
        "  Wed 2026-11-04 02:30 CET",
    ]
    real = run_cli("backfill", "nightly", "--from", "2026-11-02", "--to", "2026-11-03")
    assert real.exit_code == 0, real.stdout
    with history(tmp_project) as store:
        rows = list(reversed(store.list(job="nightly")))
    assert [(r.trigger, r.status, r.scheduled_for.astimezone(BERLIN).day) for r in rows] == [
        ("backfill", "succeeded", 2),
        ("backfill", "succeeded", 3),
    ]
    # nightly's period is last_week: each run resolved it against its own slot
    assert {r.params["period"] for r in rows} == {"2026-W44"}
    again = run_cli("backfill", "nightly", "--from", "2026-11-02", "--to", "2026-11-02")
    assert "already run for this slot" in again.stdout


def test_status_check_flags_a_job_with_no_good_run_within_max_age(run_cli, tmp_project):
    tmp_project.write_config("""\
        jobs:
          daily:
            task: kitchen_sink
            schedule: "@daily"
            max_age: 26h
        """)
    result = run_cli("status", "--check")
    assert result.exit_code == 1
    assert "check failed: daily: no good run within max_age 1 day, 2:00:00" in result.stderr


def test_backfill_fills_a_slot_that_was_skipped(run_cli, tmp_project):
    from opskit.engine.history import RunStatus

    with history(tmp_project) as store:
        slot = datetime(2026, 11, 2, 2, 30, tzinfo=BERLIN)
        store.create(
            job="nightly",
            task="kitchen_sink",
            params={},
            trigger="catch-up",
            scheduled_for=slot,
            folder_root=tmp_project.root / "var" / "runs",
            status=RunStatus.SKIPPED,
            error="missed while the scheduler was not running (catch_up: none)",
        )
    result = run_cli("backfill", "nightly", "--from", "2026-11-02", "--to", "2026-11-02")
    assert result.exit_code == 0 and "succeeded" in result.stdout


def test_next_count_must_be_positive(run_cli):
    result = run_cli("next", "nightly", "--count", "0")
    assert result.exit_code == 2 and "argument --count: 0 is out of range 1-" in result.stderr
