"""Two real ``runner.py schedule`` processes on one PostgreSQL history: one leads, kill -9 it, the other leads.

The clock of both processes runs 20 times faster from the same start (``OPSKIT_TEST_CLOCK``), so an
``every minute`` job fires every 3 real seconds and the test sees several slots before and after the
failover in a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opskit.engine.history import RunStore
from opskit.engine.leader import current_leader
from tests.conftest import REPO, wait_for

pytestmark = pytest.mark.process  # real schedulers

BERLIN = ZoneInfo("Europe/Berlin")
FACTOR = 20.0
START = datetime(2026, 11, 16, 9, 0, 30, tzinfo=BERLIN)


def start_scheduler(project: Path, clock: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "--config", str(project / "config.yaml"), "schedule"],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPSKIT_TEST_CLOCK": clock},
        start_new_session=True,
        cwd=project,
    )


def slots(store: RunStore) -> list[tuple[str, datetime, str]]:
    runs = store.list(job="tick", limit=1000)
    return sorted((r.trigger, r.scheduled_for, r.status) for r in runs)


@pytest.fixture
def cluster_project(tmp_project, pg_url):
    tmp_project.write_config(f"""\
        timezone: Europe/Berlin
        history: {pg_url}
        scheduler:
          shutdown_grace: 1s
        jobs:
          tick:
            task: kitchen_sink
            schedule: "every minute"
            catch_up: all
            params:
              count: 1
        """)
    return tmp_project


def test_kill_9_of_the_leader_lets_the_standby_lead_within_30s_and_no_slot_runs_twice(
    cluster_project, pg_url, tmp_path
):
    clock = f"{START.isoformat()},{time.time()},{FACTOR}"
    root = cluster_project.root
    leader = start_scheduler(root, clock, tmp_path / "a.log")
    standby = None
    store = RunStore(pg_url)
    try:
        first = wait_for(lambda: current_leader(store), timeout=30, what="a leader")
        assert first.pid == leader.pid and first.alive
        standby = start_scheduler(root, clock, tmp_path / "b.log")
        wait_for(lambda: b"standby:" in (tmp_path / "b.log").read_bytes(), timeout=30, what="the standby to wait")
        wait_for(lambda: len(slots(store)) >= 2, timeout=30, what="two slots fired by the leader")
        os.killpg(leader.pid, signal.SIGKILL)  # the leader and whatever it started, as a dead machine
        leader.wait(timeout=10)
        killed = time.monotonic()
        took_over = wait_for(
            lambda: (lead := current_leader(store)) and lead.pid == standby.pid and lead.alive,
            timeout=30,
            what="the standby to lead",
        )
        assert took_over and time.monotonic() - killed < 30
        before = len(slots(store))
        wait_for(lambda: len(slots(store)) >= before + 2, timeout=30, what="two slots fired by the new leader")
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=30) == 0
        standby = None
        fired = slots(store)
        times = [at for _, at, _ in fired]
        assert len(times) == len(set(times)), f"a slot ran twice: {fired}"
        # none missed: every minute from the first slot to the last is there (caught up when late)
        minutes = int((times[-1] - times[0]).total_seconds() // 60) + 1
        assert times == [times[0] + timedelta(minutes=i) for i in range(minutes)], fired
        log_b = (tmp_path / "b.log").read_text()
        assert "this scheduler leads the history postgresql://opskit:***@" in log_b
        # (a run cut short by the final SIGTERM may print its own traceback: the scheduler's lines are checked)
        assert " ERROR " not in log_b and "IntegrityError" not in log_b and "UniqueViolation" not in log_b
    finally:
        store.close()
        for process in (leader, standby):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
