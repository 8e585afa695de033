"""Runs on Celery workers with real processes: routing, kill -9 of a worker, a Redis restart, timeouts.

Each test starts its own redis-server and ``runner.py worker`` processes, and ticks a real ``Scheduler``
with the real clock; the counting task writes one line per execution, so a run that ran twice shows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.conftest import Cluster, gone
from tests.conftest import REPO, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.process, pytest.mark.slow]


def _final(cluster: Cluster, job: str, count: int) -> bool:
    runs = cluster.runs(job)
    return len(runs) >= count and all(r.status not in ("queued", "running") for r in runs)


def runner(cluster: Cluster, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--config", str(cluster.project.config), *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runs_go_to_the_workers_of_their_queue_and_the_history_names_the_worker(cluster: Cluster) -> None:
    log = cluster.ran
    cluster.configure(
        f"""\
        plain:
          task: counted
          params: {{log: {log}}}
        shots:
          task: counted
          queue: browser
          params: {{log: {log}}}
        """
    )
    plain_worker = cluster.start_worker("default", concurrency=2)
    browser_worker = cluster.start_worker("default,browser", concurrency=1)
    cluster.start_scheduler()
    for _ in range(3):
        cluster.enqueue("plain")
    cluster.enqueue("shots")
    cluster.drive(lambda: _final(cluster, "plain", 3) and _final(cluster, "shots", 1))
    shots = cluster.runs("shots")
    assert [r.status for r in shots] == ["succeeded"]
    assert shots[0].worker == f"opskit-{browser_worker.pid}@{os.uname().nodename}"  # only it takes browser runs
    plain = cluster.runs("plain")
    assert [r.status for r in plain] == ["succeeded"] * 3
    assert {r.worker for r in plain} <= {
        f"opskit-{p.pid}@{os.uname().nodename}" for p in (plain_worker, browser_worker)
    }
    assert sorted(cluster.executions()) == sorted(r.id for r in [*plain, *shots])  # each ran once

    history = runner(cluster, "history")
    assert history.returncode == 0, history.stderr
    assert "WORKER" in history.stdout.splitlines()[0]
    (line,) = [x for x in history.stdout.splitlines() if x.startswith(shots[0].id)]
    assert line.split()[1] == "succeeded" and f"opskit-{browser_worker.pid}@" in line
    status = runner(cluster, "status")
    assert f"worker opskit-{plain_worker.pid}@" in status.stdout and "queues default," in status.stdout
    assert f"worker opskit-{browser_worker.pid}@" in status.stdout and "queues default,browser" in status.stdout
    assert "queued in Redis: browser 0, default 0" in status.stdout
    assert f"leader: pid {os.getpid()} on" in status.stdout  # this test's scheduler leads


@pytest.mark.parametrize("history_url", ["sqlite", "postgresql"], indirect=True)
def test_a_worker_killed_with_kill_9_mid_run_is_retried_on_another_worker_and_mailed_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    hang = tmp_path / "hang.pid"
    cluster.configure(
        f"""\
        flaky:
          task: counted
          retries: 1
          params: {{log: {cluster.ran}, hang_once: {hang}}}
          email: {{to: [ops@example.com], "on": [success, failure]}}
        """
    )
    first = cluster.start_worker("default")
    cluster.start_scheduler()
    cluster.enqueue("flaky")
    cluster.drive(lambda: hang.exists() and hang.read_text(), what="the run to hang on the first worker")
    run_pid = int(hang.read_text())
    second = cluster.start_worker("default")
    os.kill(first.pid, signal.SIGKILL)  # the worker, mid-run
    first.wait()
    cluster.drive(lambda: _final(cluster, "flaky", 2), what="the retry to end")
    wait_for(lambda: gone(run_pid), what="the killed worker's run to die with it")
    killed, retry = cluster.runs("flaky")
    assert killed.status == "failed" and killed.worker == f"opskit-{first.pid}@{os.uname().nodename}"
    assert (killed.result or {}).get("error_type") == "WorkerKilled"
    assert retry.status == "succeeded" and retry.attempt == 2 and retry.trigger == "retry"
    assert retry.worker == f"opskit-{second.pid}@{os.uname().nodename}"
    assert cluster.executions() == [killed.id, retry.id]  # no run twice
    assert (killed.delivery or {}).get("action") == "retried"
    cluster.drive(lambda: (cluster.runs("flaky")[1].delivery or {}).get("action"), what="the retry's delivery")
    mails = list((cluster.project.root / "outbox").glob("*.eml"))
    assert len(mails) == 1 and retry.id in mails[0].read_text()  # one email, the last attempt's


def test_a_redis_restart_while_runs_are_queued_loses_none_and_runs_none_twice(cluster: Cluster) -> None:
    jobs = ("b1", "b2", "b3")
    cluster.configure("".join(f"{job}:\n  task: counted\n  params: {{log: {cluster.ran}}}\n" for job in jobs))
    scheduler = cluster.start_scheduler()
    for job in jobs[:2]:
        cluster.enqueue(job)
    client = cluster.redis.client()
    cluster.drive(lambda: client.llen("default") == 2, what="two runs in Redis")  # type: ignore[attr-defined]
    cluster.redis.restart()  # no workers yet: everything queued is in Redis, and lost with it
    assert client.llen("default") == 0  # type: ignore[attr-defined]
    cluster.redis.stop()
    cluster.enqueue("b3")
    cluster.drive(lambda: len(scheduler.running) == 3, what="a run handed over while Redis is down")
    cluster.redis.start()
    cluster.start_worker("default", concurrency=2)
    cluster.drive(lambda: all(_final(cluster, job, 1) for job in jobs), timeout=40)
    runs = [r for job in jobs for r in cluster.runs(job)]
    assert [r.status for r in runs] == ["succeeded"] * 3
    assert sorted(cluster.executions()) == sorted(r.id for r in runs)  # every run once, none lost


def test_a_timeout_kills_the_runs_whole_tree_on_the_worker(cluster: Cluster, tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    cluster.configure(
        f"""\
        stuck:
          task: spawn_child
          timeout: 5s
          params: {{marker: {marker}}}
        """
    )
    cluster.start_worker("default")
    cluster.start_scheduler()
    cluster.enqueue("stuck")
    cluster.drive(lambda: marker.exists() and marker.read_text(), what="the grandchild to start")
    grandchild = int(marker.read_text())
    cluster.drive(lambda: _final(cluster, "stuck", 1), what="the timeout")
    (run,) = cluster.runs("stuck")
    assert run.status == "timed_out"
    assert run.error is not None and "killed on worker opskit-" in run.error  # the worker killed it, not us
    wait_for(lambda: gone(grandchild), timeout=10, what="the grandchild to be killed")
    assert run.pid is not None
    wait_for(lambda: gone(run.pid), timeout=10, what="the run's process to be killed")


def test_the_brokers_password_comes_from_the_environment_and_is_never_logged(
    tmp_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demo.redis_server import LocalRedis

    password = "pw-" + os.urandom(8).hex()
    with LocalRedis(tmp_path / "redis-pw", password=password) as redis:
        cluster = Cluster(tmp_project, redis)
        try:
            monkeypatch.setenv("REDIS_PASSWORD", password)  # the workers inherit it, as from .env
            cluster.configure(f"job:\n  task: counted\n  params: {{log: {cluster.ran}}}\n")
            text = cluster.project.config.read_text().replace(f":{password}@", ":${REDIS_PASSWORD}@")
            assert password not in text
            cluster.project.config.write_text(text)
            cluster.start_worker("default")
            cluster.start_scheduler()
            cluster.enqueue("job")
            cluster.drive(lambda: _final(cluster, "job", 1))
            (run,) = cluster.runs("job")
            assert run.status == "succeeded"
            status = runner(cluster, "status")
            assert "broker redis://***@127.0.0.1:" in status.stdout
        finally:
            cluster.close()
    seen = [status.stdout, status.stderr, (Path(run.folder) / "run.log").read_text()]
    seen += [p.read_text() for p in cluster.project.root.glob("worker-*.log")]
    assert all(password not in text for text in seen)


@pytest.mark.parametrize("history_url", ["postgresql"], indirect=True)
def test_workers_ride_out_a_postgresql_outage_and_lose_nothing(
    cluster: Cluster, request: pytest.FixtureRequest
) -> None:
    postgres = request.getfixturevalue("postgres_server")
    jobs = ("during", "after")
    cluster.configure(
        "".join(f"{job}:\n  task: counted\n  params: {{log: {cluster.ran}, seconds: 3}}\n" for job in jobs)
    )
    worker = cluster.start_worker("default", concurrency=2)
    cluster.start_scheduler()
    cluster.enqueue("during")
    cluster.drive(lambda: cluster.executions(), what="the first run to start")
    postgres.stop("fast")  # every connection is cut, mid-run
    try:
        assert worker.poll() is None
        with pytest.raises(AssertionError):  # nothing can be read meanwhile; the worker keeps its run
            wait_for(lambda: False, timeout=4, what="the outage")
        assert worker.poll() is None
    finally:
        postgres.start()
    cluster.drive(lambda: _final(cluster, "during", 1), timeout=60)  # its steps back off, then reconnect
    cluster.enqueue("after")
    cluster.drive(lambda: all(_final(cluster, job, 1) for job in jobs), timeout=60)
    runs = [r for job in jobs for r in cluster.runs(job)]
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert sorted(cluster.executions()) == sorted(r.id for r in runs)  # each once
    assert worker.poll() is None  # the worker never crashed
