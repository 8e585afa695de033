"""PostgreSQL unavailable for 20 s under a real ``runner.py schedule``: it keeps running, then loses nothing.

The scheduler's clock runs 20 times faster (``OPSKIT_TEST_CLOCK``): an ``every minute`` job has about seven
slots come due while the database is down. They are late, not missed (the scheduler was up all along), so
each runs once when the database is back (one after the other: ``overlap: queue``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from opskit.engine.history import RunStore
from tests.cluster.test_failover import START, slots, start_scheduler
from tests.conftest import REPO, wait_for

pytestmark = [pytest.mark.process, pytest.mark.slow]  # a real scheduler, and a 20 s outage

OUTAGE_S = 20.0
FACTOR = 20.0


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
            overlap: queue
            params:
              count: 1
        """)
    return tmp_project


def test_postgresql_down_for_20s_the_scheduler_keeps_running_and_loses_no_slot(
    cluster_project, pg_url, postgres_server, tmp_path
):
    clock = f"{START.isoformat()},{time.time()},{FACTOR}"
    log = tmp_path / "scheduler.log"
    scheduler = start_scheduler(cluster_project.root, clock, log)
    try:
        with RunStore(pg_url) as store:
            wait_for(lambda: len(slots(store)) >= 2, timeout=30, what="two slots before the outage")
        postgres_server.stop("fast")  # every connection is cut
        down = time.monotonic()
        while time.monotonic() - down < OUTAGE_S:  # the outage itself; meanwhile the scheduler must live
            assert scheduler.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        postgres_server.start()
        up = time.monotonic()
        with RunStore(pg_url) as store:
            # the slots that came due meanwhile (~7 fake minutes) run once the database is back
            expected = int(OUTAGE_S * FACTOR / 60)
            wait_for(
                lambda: len([s for s in slots(store) if s[2] == "succeeded"]) >= expected + 3,
                timeout=40,
                what="the slots of the outage to run",
            )
            recovered = time.monotonic() - up
            scheduler.send_signal(signal.SIGTERM)
            assert scheduler.wait(timeout=30) == 0
            fired = slots(store)
        times = [at for _, at, _ in fired]
        assert len(times) == len(set(times)), f"a slot ran twice: {fired}"
        minutes = int((times[-1] - times[0]).total_seconds() // 60) + 1
        assert times == [times[0] + timedelta(minutes=i) for i in range(minutes)], fired  # none lost
        # every run succeeded, but maybe the newest, which the stop may have cut short (shutdown_grace: 1s)
        assert {status for _, _, status in fired[:-1]} == {"succeeded"}, fired
        text = log.read_text()
        assert text.count("ALERT scheduler: the run history postgresql://opskit:***@") == 1  # alerted once
        assert "the run history can be written again after" in text
        assert "Traceback" not in text and postgres_server.url(pg_url.rsplit("/", 1)[1]) not in text
        assert recovered < 40
    finally:
        if not postgres_server.running():
            postgres_server.start()
        if scheduler.poll() is None:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait(timeout=10)


def test_a_run_that_ends_while_postgresql_is_down_is_recorded_once_it_is_back(
    tmp_project, pg_url, postgres_server, tmp_path
):
    marker, release = tmp_path / "started", tmp_path / "release"
    tmp_project.write_config(f"""\
        timezone: Europe/Berlin
        history: {pg_url}
        jobs:
          slowjob:
            task: slow
            params:
              seconds: 60
              marker: {marker}
              until: {release}
        """)
    run = subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "--config", str(tmp_project.config), "run", "slowjob"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_project.root,
    )
    try:
        wait_for(lambda: marker.exists() or run.poll() is not None, timeout=30, what="the run to start")
        assert run.poll() is None, run.communicate()
        postgres_server.stop("fast")
        release.touch()  # the task ends while the database is down
        wait_for(lambda: (tmp_project.root / "var" / "runs").exists(), what="the run folder")
        log = next((tmp_project.root / "var" / "runs").glob("*/run.log"))
        wait_for(lambda: "trying again every second" in log.read_text(), timeout=30, what="the worker to wait")
        postgres_server.start()
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
    finally:
        if not postgres_server.running():
            postgres_server.start()
        if run.poll() is None:
            run.kill()
            run.wait(timeout=10)
    with RunStore(pg_url) as store:
        (record,) = store.list(job="slowjob")
    assert record.status == "succeeded" and record.result is not None
