"""The scheduler daemon, driven with a fake clock: decisions, catch-up, overlap, retries, DST, reload.

Runs are handed to a fake executor here (the decision logic is the subject); test_daemon_processes.py runs
real child processes for timeouts, signals, the lock and crash recovery.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opskit.engine.daemon import Scheduler
from opskit.engine.executors import Executor, RunHandle
from opskit.engine.history import RunStore
from opskit.errors import UsageError

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class FakeHandle(RunHandle):
    run_id: str = ""
    code: int | None = None
    killed: bool = False
    calls: list = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"fake {self.run_id}"

    def poll(self) -> int | None:
        return self.code

    def kill(self) -> None:
        self.calls.append("kill")
        self.killed = True
        self.code = -9

    def terminate(self) -> None:
        self.calls.append("terminate")
        self.code = -15


@dataclass
class FakeExecutor(Executor):
    """Hands out handles the test finishes by writing the outcome into the history, as a worker does."""

    started: list = field(default_factory=list)
    reloaded: list = field(default_factory=list)
    closed: bool = False

    def start(self, record, config, *, options=None, plan=None):
        handle = FakeHandle(record.id)
        self.started.append((record, handle))
        return handle

    def reload(self, config):
        self.reloaded.append(config)

    def close(self):
        self.closed = True

    def finish(
        self,
        store: RunStore,
        index: int,
        status: str = "succeeded",
        error: str | None = None,
        result: dict | None = None,
        at: datetime | None = None,
    ) -> None:
        record, handle = self.started[index]
        store.mark_running(record.id, pid=1, now=at)
        store.finish(record.id, status, error=error, result=result, now=at)
        handle.code = 0


def make(project_root: Path, jobs: str, *, scheduler: str = "") -> tuple[Scheduler, FakeExecutor]:
    config = project_root / "config.yaml"
    config.write_text(
        "timezone: Europe/Berlin\n"
        + textwrap.dedent(scheduler)
        + "jobs:\n"
        + textwrap.indent(textwrap.dedent(jobs), "  ")
    )
    executor = FakeExecutor()
    return Scheduler(config, executor=executor), executor


def at(*args: int, tz=BERLIN) -> datetime:
    return datetime(*args, tzinfo=tz)


def runs(s: Scheduler, job: str | None = None):
    return list(reversed(s.store.list(job=job, limit=1000)))


@pytest.fixture
def project(tmp_project):
    return tmp_project.root


def test_first_start_runs_nothing_from_the_past_then_fires_on_time(project):
    s, ex = make(
        project,
        """
        daily:
          task: kitchen_sink
          schedule: "every day at 08:30"
    """,
    )
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    s.tick(at(2026, 11, 16, 9, 0))
    assert ex.started == [] and runs(s) == []
    assert s.next_due["daily"] == at(2026, 11, 17, 8, 30)
    s.tick(at(2026, 11, 17, 8, 30, 0))
    assert len(ex.started) == 1
    record = ex.started[0][0]
    assert record.trigger == "schedule" and record.scheduled_for == at(2026, 11, 17, 8, 30)
    assert record.params["period"] == "2026-11-16"  # "yesterday" of the slot, not of the wall clock


def test_sleep_until_the_next_slot_is_bounded_and_exact(project):
    s, _ = make(
        project,
        """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
    """,
    )
    s.start(at(2026, 11, 16, 8, 29, 59, 500000), lock=False)
    assert s.sleep_seconds(at(2026, 11, 16, 8, 29, 59, 500000)) == pytest.approx(0.5)
    assert s.sleep_seconds(at(2026, 11, 16, 7, 0)) == 1.0  # never more than a second: signals, reloads


def test_overlap_skip_records_the_slot_with_the_reason(project):
    s, ex = make(
        project,
        """
        watch:
          task: kitchen_sink
          schedule: "every 15 minutes"
    """,
    )
    s.start(at(2026, 11, 16, 9, 0, 30), lock=False)
    s.tick(at(2026, 11, 16, 9, 15))
    first = ex.started[0][0]
    s.tick(at(2026, 11, 16, 9, 30))  # the 09:15 run is still going
    assert len(ex.started) == 1
    skipped = [r for r in runs(s) if r.status == "skipped"]
    assert len(skipped) == 1 and skipped[0].scheduled_for == at(2026, 11, 16, 9, 30)
    assert skipped[0].error == f"the previous run ({first.id}) was still going (overlap: skip)"


def test_overlap_queue_waits_for_the_previous_run(project):
    s, ex = make(
        project,
        """
        watch:
          task: kitchen_sink
          schedule: "every 15 minutes"
          overlap: queue
    """,
    )
    s.start(at(2026, 11, 16, 9, 0, 30), lock=False)
    s.tick(at(2026, 11, 16, 9, 15))
    s.tick(at(2026, 11, 16, 9, 30))
    assert len(ex.started) == 1 and len(s.queue) == 1
    ex.finish(s.store, 0)
    s.tick(at(2026, 11, 16, 9, 31))
    assert len(ex.started) == 2
    assert ex.started[1][0].scheduled_for == at(2026, 11, 16, 9, 30)


def test_max_concurrent_runs_queues_the_rest(project):
    s, ex = make(
        project,
        """
        a: {task: kitchen_sink, schedule: "0 9 * * *"}
        b: {task: kitchen_sink, schedule: "0 9 * * *"}
        c: {task: kitchen_sink, schedule: "0 9 * * *"}
    """,
        scheduler="scheduler:\n  max_concurrent_runs: 2\n",
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 9, 0))
    assert [r.job for r, _ in ex.started] == ["a", "b"]
    assert [q.record.job for q in s.queue] == ["c"]
    assert s.store.get(s.queue[0].record.id).status == "queued"
    ex.finish(s.store, 0)
    s.tick(at(2026, 11, 16, 9, 0, 5))
    assert [r.job for r, _ in ex.started] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # down from Mon 09:00 to Thu 10:00: the Tue, Wed and Thu 08:30 slots were missed
        ("latest", [("skipped", 17), ("skipped", 18), ("queued", 19)]),
        ("all", [("queued", 17), ("queued", 18), ("queued", 19)]),
        ("none", [("skipped", 17), ("skipped", 18), ("skipped", 19)]),
    ],
)
def test_catch_up_policies_after_downtime(project, policy, expected):
    jobs = f"""
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
          catch_up: {policy}
    """
    s, ex = make(project, jobs)
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    s.store.set_job_data("daily", last_slot=at(2026, 11, 16, 8, 30).isoformat())
    s.store.close()
    s2, ex2 = make(project, jobs)  # the scheduler comes back three days later
    s2.start(at(2026, 11, 19, 10, 0), lock=False)
    s2.tick(at(2026, 11, 19, 10, 0))
    got = [(r.status, r.scheduled_for.astimezone(BERLIN).day) for r in runs(s2)]
    assert [(status if status == "skipped" else "queued", day) for status, day in got] == expected
    assert all(r.trigger == "catch-up" for r in runs(s2))
    # each caught-up run reports its own day: "yesterday" of its own slot
    assert [r.params["period"] for r in runs(s2) if r.status != "skipped"] == [
        f"2026-11-{day - 1}" for status, day in expected if status == "queued"
    ]
    # one at a time: a job never overlaps itself
    assert len(ex2.started) == min(1, sum(status == "queued" for status, _ in expected))
    if policy == "latest":
        assert runs(s2)[0].error == "missed; a later slot (2026-11-19T08:30+01:00) runs instead (catch_up: latest)"


def test_misfire_grace_skips_slots_missed_by_too_much(project):
    jobs = """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
          catch_up: all
          misfire_grace: 2h
    """
    s, ex = make(project, jobs)
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    s.tick(at(2026, 11, 17, 9, 45))  # 1h15m late: within grace
    ex.finish(s.store, 0)
    s.tick(at(2026, 11, 18, 11, 0))  # 2h30m late: beyond grace
    got = runs(s)
    assert [(r.status, r.trigger) for r in got] == [("succeeded", "catch-up"), ("skipped", "catch-up")]
    assert got[1].error == "missed by 2h30m, more than misfire_grace 2h"


def test_a_paused_job_skips_its_slots_and_resume_brings_it_back(project):
    s, ex = make(
        project,
        """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
    """,
    )
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    s.store.set_paused("daily", True)
    s.tick(at(2026, 11, 17, 8, 30))
    assert ex.started == [] and runs(s)[0].error == "the job is paused (runner.py resume)"
    s.store.set_paused("daily", False)
    s.tick(at(2026, 11, 18, 8, 30))
    assert len(ex.started) == 1


def test_dst_spring_forward_fires_once_at_the_first_valid_minute(project):
    # Berlin, Sun 2026-03-29: clocks jump from 02:00 to 03:00, so 02:30 does not exist that day.
    s, ex = make(
        project,
        """
        night:
          task: kitchen_sink
          schedule: "30 2 * * *"
    """,
    )
    s.start(at(2026, 3, 28, 12, 0), lock=False)
    for hour in range(24 * 2 * 2):  # every 30 minutes across two days
        s.tick(at(2026, 3, 28, 12, 0, tz=BERLIN).astimezone(UTC) + timedelta(minutes=30 * hour))
        for i, (_, handle) in enumerate(ex.started):
            if handle.code is None:
                ex.finish(s.store, i)
    fired = [r.scheduled_for.astimezone(BERLIN) for r, _ in ex.started]
    assert fired == [at(2026, 3, 29, 3, 0), at(2026, 3, 30, 2, 30)]


def test_dst_fall_back_fires_a_fixed_hour_once(project):
    # Berlin, Sun 2026-10-25: 02:00-03:00 happens twice (CEST, then CET); a 02:30 job runs once.
    s, ex = make(
        project,
        """
        night:
          task: kitchen_sink
          schedule: "30 2 * * *"
    """,
    )
    start = at(2026, 10, 24, 12, 0).astimezone(UTC)
    s.start(start, lock=False)
    for step in range(2 * 24 * 4):  # every 15 minutes for two days, in UTC
        s.tick(start + timedelta(minutes=15 * step))
        for i, (_, handle) in enumerate(ex.started):
            if handle.code is None:
                ex.finish(s.store, i)
    fired = [r.scheduled_for.astimezone(UTC) for r, _ in ex.started]
    assert fired == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]


def test_a_retryable_failure_is_retried_after_backoff_as_a_new_row(project):
    s, ex = make(
        project,
        """
        flaky:
          task: kitchen_sink
          schedule: "0 9 * * *"
          retries: 2
          retry_backoff: 1m
    """,
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 9, 0))
    ex.finish(s.store, 0, status="failed", error="SourceUnavailable: down", result={"retryable": True})
    s.tick(at(2026, 11, 16, 9, 0, 1))
    assert len(s.retries) == 1 and len(ex.started) == 1
    s.tick(at(2026, 11, 16, 9, 2, 1))  # backoff is at most 1 minute for the first retry
    assert len(ex.started) == 2
    retry = ex.started[1][0]
    assert (retry.trigger, retry.attempt, retry.scheduled_for) == ("retry", 2, at(2026, 11, 16, 9, 0))


def test_bad_data_is_not_retried(project):
    s, ex = make(
        project,
        """
        strict:
          task: kitchen_sink
          schedule: "0 9 * * *"
          retries: 3
    """,
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 9, 0))
    ex.finish(s.store, 0, status="failed", error="DataError", result={"retryable": False})
    s.tick(at(2026, 11, 16, 9, 0, 1))
    assert s.retries == [] and len(ex.started) == 1


def test_timeout_kills_and_records_timed_out(project):
    s, ex = make(
        project,
        """
        slowjob:
          task: kitchen_sink
          schedule: "0 9 * * *"
          timeout: 10m
    """,
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 9, 0))
    s.tick(at(2026, 11, 16, 9, 5))
    assert ex.started[0][1].killed is False
    s.tick(at(2026, 11, 16, 9, 10, 1))
    assert ex.started[0][1].killed is True
    record = s.store.get(ex.started[0][0].id)
    assert record.status == "timed_out" and "timed out after 0:10:00" in record.error


def test_a_slot_already_in_the_history_never_runs_twice(project):
    jobs = """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
          catch_up: all
    """
    s, ex = make(project, jobs)
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    s.tick(at(2026, 11, 17, 8, 30))
    # A crash right after the run was recorded but before last_slot was saved:
    s.store.set_job_data("daily", last_slot=at(2026, 11, 16, 8, 30).isoformat())
    s.store.close()
    s2, ex2 = make(project, jobs)
    s2.start(at(2026, 11, 17, 9, 0), lock=False)
    s2.tick(at(2026, 11, 17, 9, 0))
    # The row left queued by the crashed scheduler is started (the same run), never a second one.
    assert [r.id for r, _ in ex2.started] == [r.id for r, _ in ex.started]
    slots = [r.scheduled_for for r in runs(s2) if r.trigger in ("schedule", "catch-up")]
    assert slots.count(at(2026, 11, 17, 8, 30)) == 1


def test_config_reload_applies_a_valid_change_and_keeps_running_on_a_bad_one(project, caplog):
    s, ex = make(
        project,
        """
        a:
          task: kitchen_sink
          schedule: "0 9 * * *"
    """,
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    config = project / "config.yaml"
    config.write_text(config.read_text() + "  b:\n    task: kitchen_sink\n    schedule: '0 10 * * *'\n")
    import os

    os.utime(config, (1, 1))  # a new mtime whatever the clock's resolution
    s.tick(at(2026, 11, 16, 8, 1))
    assert set(s.timetables) == {"a", "b"}
    config.write_text(config.read_text() + "  c:\n    task: kitchen_sink\n    schedule: '99 * * * *'\n")
    os.utime(config, (2, 2))
    s.tick(at(2026, 11, 16, 8, 2))
    assert set(s.timetables) == {"a", "b"}
    assert "config changed but is not valid; still running the previous one" in caplog.text
    assert "minute 99 is out of range" in caplog.text


def test_a_bad_schedule_stops_the_start_with_the_job_and_line(project):
    s, _ = make(
        project,
        """
        a:
          task: kitchen_sink
          schedule: "every 7 minutes"
    """,
    )
    with pytest.raises(UsageError) as caught:
        s.start(at(2026, 11, 16, 8, 0), lock=False)
    assert str(caught.value).startswith("config.yaml:6: job 'a': 'every 7 minutes': 7 minutes does not divide the hour")


def test_a_run_that_waits_too_long_to_start_is_alerted(project, caplog):
    s, ex = make(
        project,
        """
        a: {task: kitchen_sink, schedule: "0 9 * * *"}
        b: {task: kitchen_sink, schedule: "0 9 * * *"}
    """,
        scheduler="scheduler:\n  max_concurrent_runs: 1\n  start_deadline: 5m\n",
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 9, 0))
    s.tick(at(2026, 11, 16, 9, 6))
    assert "ALERT b: run" in caplog.text and "to start (max_concurrent_runs 1 busy)" in caplog.text


def test_a_slot_is_prepared_ahead_and_fired_by_handing_it_over(project):
    s, ex = make(
        project,
        """
        watch:
          task: kitchen_sink
          schedule: "every 15 minutes"
    """,
    )
    s.start(at(2026, 11, 16, 9, 0, 30), lock=False)
    s.tick(at(2026, 11, 16, 9, 14, 58))
    prepared = runs(s)
    assert [(r.status, r.scheduled_for) for r in prepared] == [("queued", at(2026, 11, 16, 9, 15))]
    assert ex.started == []  # not before its time
    s.tick(at(2026, 11, 16, 9, 15))
    assert [r.id for r, _ in ex.started] == [prepared[0].id]
    # the next slot, while this run still runs, is prepared and then skipped (overlap: skip)
    s.tick(at(2026, 11, 16, 9, 29, 58))
    s.tick(at(2026, 11, 16, 9, 30))
    assert runs(s)[-1].status == "skipped" and "was still going" in runs(s)[-1].error


def test_a_prepared_run_is_discarded_by_a_stop_and_its_slot_caught_up_later(project):
    jobs = """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
          catch_up: none
    """
    s, _ = make(project, jobs)
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    s.tick(at(2026, 11, 17, 8, 29, 58))
    assert [r.status for r in runs(s)] == ["queued"]
    s.store.close()  # a crash: the prepared row stays in the history
    s2, ex2 = make(project, jobs)
    s2.start(at(2026, 11, 17, 10, 0), lock=False)
    s2.tick(at(2026, 11, 17, 10, 0))
    assert ex2.started == []
    assert [(r.status, r.error) for r in runs(s2)] == [
        ("skipped", "missed while the scheduler was not running (catch_up: none)")
    ]
    s2.tick(at(2026, 11, 18, 8, 29, 58))
    s2.stop(at(2026, 11, 18, 8, 29, 59))
    with RunStore(project / "var" / "history.sqlite") as store:
        assert [r.status for r in store.list(job="daily")] == ["skipped"]  # the prepared row is gone


def test_jitter_delays_the_start_within_the_window_but_keeps_the_slot(project, monkeypatch):
    import random

    monkeypatch.setattr(random, "random", lambda: 0.5)  # the middle of the window
    s, ex = make(
        project,
        """
        spread:
          task: kitchen_sink
          schedule: "0 9 * * *"
          jitter: 10m
    """,
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 8, 59, 58))
    s.tick(at(2026, 11, 16, 9, 0))
    assert ex.started == [] and len(s.queue) == 1
    s.tick(at(2026, 11, 16, 9, 4, 59))
    assert ex.started == []
    s.tick(at(2026, 11, 16, 9, 5))
    assert len(ex.started) == 1 and ex.started[0][0].scheduled_for == at(2026, 11, 16, 9, 0)


def test_a_fired_slot_still_waiting_for_a_place_survives_a_restart(project):
    jobs = """
        a: {task: kitchen_sink, schedule: "0 9 * * *"}
        b: {task: kitchen_sink, schedule: "0 9 * * *"}
    """
    s, ex = make(project, jobs, scheduler="scheduler:\n  max_concurrent_runs: 1\n")
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 8, 59, 58))  # both prepared
    s.tick(at(2026, 11, 16, 9, 0))  # a starts, b waits for a place
    waiting = s.queue[0].record
    s.store.close()  # the scheduler dies here
    s2, ex2 = make(project, jobs, scheduler="scheduler:\n  max_concurrent_runs: 1\n")
    s2.start(at(2026, 11, 16, 9, 5), lock=False)
    s2.tick(at(2026, 11, 16, 9, 5))
    assert waiting.id in [r.id for r, _ in ex2.started] + [q.record.id for q in s2.queue]
    assert s2.store.get(waiting.id).status == "queued"


def test_a_job_enabled_again_starts_from_now_instead_of_catching_up(project):
    import os

    s, ex = make(
        project,
        """
        watch:
          task: kitchen_sink
          schedule: "every 15 minutes"
    """,
    )
    s.start(at(2026, 11, 16, 9, 0, 30), lock=False)
    config = project / "config.yaml"
    config.write_text(config.read_text().replace('every 15 minutes"', 'every 15 minutes"\n    enabled: false'))
    os.utime(config, (1, 1))
    s.tick(at(2026, 11, 16, 9, 1))
    assert "watch" not in s.timetables
    config.write_text(config.read_text().replace("\n    enabled: false", ""))
    os.utime(config, (2, 2))
    s.tick(at(2026, 11, 17, 9, 1))  # a day later
    assert runs(s) == []  # no flood of 96 skipped slots
    s.tick(at(2026, 11, 17, 9, 15))
    assert [r.scheduled_for for r, _ in ex.started] == [at(2026, 11, 17, 9, 15)]


def test_a_slot_that_came_due_while_the_loop_was_busy_runs_late_instead_of_being_skipped(project):
    s, ex = make(
        project,
        """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
          catch_up: none
    """,
    )
    s.start(at(2026, 11, 16, 8, 0), lock=False)
    s.tick(at(2026, 11, 16, 8, 29, 50))
    s.tick(at(2026, 11, 16, 8, 33))  # the loop was stuck for three minutes (a slow mail server)
    assert [(r.trigger, r.scheduled_for) for r, _ in ex.started] == [("schedule", at(2026, 11, 16, 8, 30))]


def test_the_scheduler_drives_its_executor_start_reload_and_stop(project, caplog):
    s, ex = make(
        project,
        """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
    """,
    )
    caplog.set_level("INFO", logger="opskit.engine")
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    assert s.executor is ex and [c.path for c in ex.reloaded] == [project / "config.yaml"]
    s.tick(at(2026, 11, 17, 8, 30))
    ((record, handle),) = ex.started
    assert f"daily: run {record.id} started on fake {record.id} (1 running)" in caplog.text
    config = project / "config.yaml"
    config.write_text(config.read_text().replace('"30 8 * * *"', '"45 8 * * *"'))
    os.utime(config, (1, 1))  # a new mtime whatever the clock's resolution
    s.tick(at(2026, 11, 17, 8, 31))
    assert len(ex.reloaded) == 2 and ex.reloaded[1] is s.config  # the executor hears of the new config
    s.stop(at(2026, 11, 17, 8, 32))
    assert handle.calls == ["terminate", "kill"] and ex.closed
    with RunStore(project / "var" / "history.sqlite") as store:
        assert store.get(record.id).error == "terminated: the scheduler shut down before the run ended"


def test_catch_up_all_queues_the_on_time_slot_behind_the_missed_ones(project):
    jobs = """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
          catch_up: all
    """
    s, _ = make(project, jobs)
    s.start(at(2026, 11, 16, 9, 0), lock=False)
    s.store.set_job_data("daily", last_slot=at(2026, 11, 16, 8, 30).isoformat())
    s.store.close()
    s2, ex2 = make(project, jobs)  # back on Thursday just before 08:30: Tuesday and Wednesday were missed
    s2.start(at(2026, 11, 19, 8, 29, 50), lock=False)
    s2.tick(at(2026, 11, 19, 8, 29, 50))
    assert [r.scheduled_for.day for r, _ in ex2.started] == [17]  # the backlog, one at a time
    s2.tick(at(2026, 11, 19, 8, 29, 58))  # Thursday's slot is prepared ahead
    s2.tick(at(2026, 11, 19, 8, 30))  # and comes due while the backlog still runs
    assert [r for r in runs(s2) if r.status == "skipped"] == []
    for i in range(3):  # each run ends; the next one of the backlog, then the on-time one, starts
        ex2.finish(s2.store, i)
        s2.tick(at(2026, 11, 19, 8, 31 + i))
    assert [(r.trigger, r.scheduled_for.astimezone(BERLIN).day) for r, _ in ex2.started] == [
        ("catch-up", 17),
        ("catch-up", 18),
        ("schedule", 19),
    ]


def test_an_overlap_with_a_caught_up_run_of_another_slot_still_skips_on_time_runs_of_a_running_job(project):
    # The backlog rule does not weaken overlap: skip. A slot that fires while the job's previous
    # on-time run still runs is skipped as before.
    s, ex = make(
        project,
        """
        watch:
          task: kitchen_sink
          schedule: "every 15 minutes"
          catch_up: all
    """,
    )
    s.start(at(2026, 11, 16, 9, 0, 30), lock=False)
    s.tick(at(2026, 11, 16, 9, 15))
    s.tick(at(2026, 11, 16, 9, 30))
    assert len(ex.started) == 1 and runs(s)[-1].status == "skipped"


def fill_up(store: RunStore) -> None:
    """Make the history file full, as a full disk does (SQLite's own page limit, on this connection)."""
    from opskit.engine.history import HistoryUnavailable

    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    for size in (2000, 200, 20, 0):  # big rows first, then smaller ones into what space is left
        with pytest.raises(HistoryUnavailable, match="the disk is full"):
            for _ in range(10_000):
                store.create(
                    job="filler",
                    task="kitchen_sink",
                    params={"x": "y" * size} if size else {},
                    trigger="manual",
                    scheduled_for=at(2026, 1, 1, 0, 0),
                    folder_root=Path("/f"),
                )


def test_a_locked_history_keeps_the_scheduler_running_alerts_once_and_keeps_the_slot(project, monkeypatch, caplog):
    import sqlite3

    from opskit.engine import history

    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 0.2)
    s, ex = make(
        project,
        """
        daily:
          task: kitchen_sink
          schedule: "30 8 * * *"
          catch_up: none
    """,
    )
    s.start(at(2026, 11, 17, 8, 0), lock=False)
    other = sqlite3.connect(project / "var" / "history.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a backup, an open sqlite3 shell: it holds the write lock
    try:
        # The slot comes due and the history cannot be written for more than ten minutes.
        delays = [s.step(at(2026, 11, 17, 8, 30) + timedelta(minutes=4 * i)) for i in range(4)]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert delays == [1.0, 2.0, 5.0, 10.0]  # backing off, never raising
    assert ex.started == []
    locked = f"the run history {project / 'var' / 'history.sqlite'} is locked: another process has held it for more"
    assert caplog.text.count(f"ALERT scheduler: {locked} than 0.2s") == 1  # alerted once, then logged
    assert s.step(at(2026, 11, 17, 8, 45)) is None
    # The slot was neither lost nor skipped as missed (catch_up: none): the scheduler was up all along.
    assert [(r.trigger, r.scheduled_for) for r, _ in ex.started] == [("schedule", at(2026, 11, 17, 8, 30))]
    assert [r.status for r in runs(s)] == ["queued"]  # the fake executor's run: started, one row
    assert "the run history can be written again after 4 failed tries" in caplog.text


def test_a_full_disk_keeps_the_scheduler_running_and_the_slot(project, caplog):
    s, ex = make(
        project,
        """
        watch:
          task: kitchen_sink
          schedule: "every 15 minutes"
    """,
    )
    s.start(at(2026, 11, 16, 9, 0, 30), lock=False)
    fill_up(s.store)
    assert s.step(at(2026, 11, 16, 9, 15)) == 1.0
    full = f"the run history {project / 'var' / 'history.sqlite'} cannot be written: the disk is full"
    assert f"ALERT scheduler: {full}" in caplog.text
    assert ex.started == [] and s.next_due["watch"] == at(2026, 11, 16, 9, 15)  # nothing moved on
    s.store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    assert s.step(at(2026, 11, 16, 9, 15, 2)) is None
    assert [r.scheduled_for for r, _ in ex.started] == [at(2026, 11, 16, 9, 15)]
    assert s.next_due["watch"] == at(2026, 11, 16, 9, 30)
