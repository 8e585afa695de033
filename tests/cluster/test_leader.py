"""Leader election on a PostgreSQL history, in process: who leads, what status reads, and a leader that
lost its session to another scheduler steps down instead of firing slots beside it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg

from opskit.engine.daemon import Scheduler
from opskit.engine.history import RunStore
from opskit.engine.leader import LeaderLock, current_leader
from tests.conftest import wait_for
from tests.test_daemon import FakeExecutor

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=BERLIN)


def scheduler(tmp_project, pg_url) -> Scheduler:
    tmp_project.write_config(f"""\
        timezone: Europe/Berlin
        history: {pg_url}
        jobs:
          daily:
            task: kitchen_sink
            schedule: "30 8 * * *"
        """)
    return Scheduler(tmp_project.config, executor=FakeExecutor())


def test_the_leader_is_recorded_and_a_leader_that_lost_its_session_to_another_steps_down(tmp_project, pg_url):
    leader = scheduler(tmp_project, pg_url)
    leader.start(NOW)
    other = RunStore(pg_url)
    try:
        led = current_leader(other)
        assert led is not None and led.alive and led.holder == leader.owner
        assert led.host and led.pid > 0 and led.since is not None
        # Its session ends (the server restarted it, a network cut) and another scheduler takes the lock.
        backend = leader._leader._db.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            # with a timeout it returns once the backend has exited, its advisory lock freed (PostgreSQL 14+)
            ended = admin.execute("SELECT pg_terminate_backend(%s, 10000) AS ended", (backend,)).fetchone()
            assert ended[0] is True
        standby = LeaderLock(other, owner="scheduler:standby")
        assert standby.try_acquire()
        delays = [leader.step(NOW) for _ in range(2)]  # the lost session is noticed, then who leads now
        assert leader.lost_leadership and leader.stopping.is_set() and delays[-1] == 0.0
        assert current_leader(other).holder == "scheduler:standby"
        standby.release()
        # nobody holds the lock once the server has ended that session: a status shows no live leader
        wait_for(lambda: not current_leader(other).alive, timeout=10, what="the released lock")
    finally:
        leader.stop(NOW)
        other.close()


def test_with_sqlite_the_lock_file_stays_and_the_leader_is_recorded(tmp_project):
    s = Scheduler(tmp_project.config, executor=FakeExecutor())
    s.start(NOW)
    try:
        led = current_leader(s.store, now=NOW)
        assert led is not None and led.alive and led.holder == s.owner and s._lock is not None
    finally:
        s.stop(NOW)
