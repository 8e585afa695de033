"""Runs asked for from the web go through the scheduler's queue: planned by plan_run, recorded with trigger
``web`` and the requester, under the same concurrency and overlap rules. Fake clock, fake executor."""

from __future__ import annotations

from datetime import timedelta

from opskit.engine.requests_table import RequestStatus
from tests.test_daemon import at, make

JOBS = """
nightly:
  task: kitchen_sink
  schedule: "30 2 * * *"
  params: {period: last_week, count: 7}
manual:
  task: kitchen_sink
  overlap: queue
"""


def test_a_request_becomes_one_queued_run_with_the_users_name_and_its_overrides(tmp_project):
    s, ex = make(tmp_project.root, JOBS)
    now = at(2026, 11, 16, 9, 0)
    s.start(now, lock=False)
    request = s.store.add_run_request(
        "nightly", overrides={"count": "9", "period": "2026-W45"}, trigger="web", requested_by="alice", now=now
    )
    s.tick(now)
    [(record, _)] = ex.started
    assert record.trigger == "web" and record.params["count"] == 9 and record.params["period"] == "2026-W45"
    stored = s.store.get(record.id)
    assert stored.requested_by == "alice" and stored.scheduled_for == request.scheduled_for
    taken = s.store.get_run_request(request.id)
    assert (taken.status, taken.run_id) == (RequestStatus.STARTED, record.id)
    s.tick(now + timedelta(seconds=1))  # taken once: never a second run
    assert len(ex.started) == 1


def test_a_parameter_that_no_longer_validates_rejects_the_request_with_the_same_message_as_param(tmp_project):
    s, ex = make(tmp_project.root, JOBS)
    now = at(2026, 11, 16, 9, 0)
    s.start(now, lock=False)
    request = s.store.add_run_request("nightly", overrides={"count": "many"}, trigger="web", requested_by="bob")
    gone = s.store.add_run_request("vanished", overrides={}, trigger="web", requested_by="bob")
    s.tick(now)
    assert ex.started == []
    rejected = s.store.get_run_request(request.id)
    assert rejected.status == "rejected"
    expected = "job 'nightly', parameter 'count': 'many' is not valid: input should be a valid integer, "
    assert rejected.error == expected + "unable to parse string as an integer"
    assert s.store.get_run_request(gone.id).error == "job 'vanished' is no longer in the config"


def test_overlap_skip_records_a_skipped_run_and_overlap_queue_waits(tmp_project):
    s, ex = make(tmp_project.root, JOBS)
    now = at(2026, 11, 16, 9, 0)
    s.start(now, lock=False)
    for job in ("nightly", "manual"):
        s.store.add_run_request(job, overrides={}, trigger="web", requested_by="a")
    s.tick(now)
    assert len(ex.started) == 2
    first = s.store.add_run_request("nightly", overrides={}, trigger="web", requested_by="b")
    second = s.store.add_run_request("manual", overrides={}, trigger="web", requested_by="b")
    s.tick(now + timedelta(seconds=1))
    skipped = s.store.get(s.store.get_run_request(first.id).run_id)
    assert skipped.status == "skipped" and "was still going (overlap: skip)" in skipped.error
    queued = s.store.get(s.store.get_run_request(second.id).run_id)
    assert queued.status == "queued" and len(ex.started) == 2
    first_manual = next(i for i, (r, _) in enumerate(ex.started) if r.job == "manual")
    ex.finish(s.store, first_manual)  # the first 'manual' run ends: the queued one starts
    s.tick(now + timedelta(seconds=2))
    assert [r.id for r, _ in ex.started][-1] == queued.id


def test_max_concurrent_runs_holds_web_runs_back_until_a_place_is_free(tmp_project):
    s, ex = make(tmp_project.root, JOBS, scheduler="scheduler: {max_concurrent_runs: 1}\n")
    now = at(2026, 11, 16, 9, 0)
    s.start(now, lock=False)
    s.store.add_run_request("nightly", overrides={}, trigger="web", requested_by="a")
    s.store.add_run_request("manual", overrides={}, trigger="web", requested_by="a")
    s.tick(now)
    assert len(ex.started) == 1 and len(s.queue) == 1
    ex.finish(s.store, 0)
    s.tick(now + timedelta(seconds=1))
    assert len(ex.started) == 2


def test_backfill_requests_queue_behind_each_other_and_skip_slots_that_ran(tmp_project):
    s, ex = make(tmp_project.root, JOBS)
    now = at(2026, 11, 16, 9, 0)
    s.start(now, lock=False)
    slots = [at(2026, 11, d, 2, 30) for d in (10, 11)]
    for slot in slots:
        s.store.add_run_request("nightly", overrides={}, trigger="backfill", requested_by="a", scheduled_for=slot)
    s.tick(now)
    assert len(ex.started) == 1 and len(s.queue) == 1  # one job never runs twice at once
    assert ex.started[0][0].trigger == "backfill" and ex.started[0][0].params["period"] == "2026-W45"
    ex.finish(s.store, 0)
    s.tick(now + timedelta(seconds=1))
    assert len(ex.started) == 2
    again = s.store.add_run_request(
        "nightly", overrides={}, trigger="backfill", requested_by="a", scheduled_for=slots[0]
    )
    s.tick(now + timedelta(seconds=2))
    assert (
        s.store.get_run_request(again.id).error
        == "slot 2026-11-10 02:30 already ran (ask again with 'also slots that already ran')"
    )


def test_a_cancelled_request_is_never_run(tmp_project):
    s, ex = make(tmp_project.root, JOBS)
    now = at(2026, 11, 16, 9, 0)
    s.start(now, lock=False)
    request = s.store.add_run_request("nightly", overrides={}, trigger="web", requested_by="a")
    assert s.store.close_run_request(request.id, RequestStatus.CANCELLED)
    assert not s.store.close_run_request(request.id, RequestStatus.STARTED, run_id="x")  # only pending ones change
    s.tick(now)
    assert ex.started == []
