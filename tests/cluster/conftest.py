"""The cluster tests' real parts: a PostgreSQL per session (tests/pg_fixtures.py), and a real Redis, real
``runner.py worker`` processes and a real scheduler on 127.0.0.1; every test here is ``cluster``.

Redis is Debian's ``redis-server`` (the bootstrap installs it), started on a free port in a temporary
folder with nothing saved to disk (``--save ''``), so a restart forgets every queued message, as a Redis
that lost its data would. Workers are ``runner.py worker`` processes, stopped at teardown; the scheduler is
a ``Scheduler`` in the test's process, ticked with the real clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo.redis_server import LocalRedis, RedisMissing
from opskit.engine.daemon import Scheduler
from opskit.engine.history import RunRecord, RunStore, Trigger
from opskit.engine.planning import plan_run
from tests.conftest import REPO, Project, wait_for
from tests.pg_fixtures import pg_url, postgres_server  # noqa: F401 (fixtures)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.cluster)


COUNTING_TASK = '''
import os
import time
from pathlib import Path

from opskit import Result, RunContext, task


@task
def counted(ctx: RunContext, *, log: str, seconds: float = 0.0, hang_once: str = "") -> Result:
    """Append this run's id and pid to ``log`` (one line per execution), then sleep ``seconds``.

    With ``hang_once``: the first execution that finds no such file creates it and hangs for a minute.
    """
    with open(log, "a") as f:
        f.write(f"{ctx.run_id} {os.getpid()}\\n")
    if hang_once and not Path(hang_once).exists():
        Path(hang_once).write_text(str(os.getpid()))
        time.sleep(60)
    time.sleep(seconds)
    return Result()
'''


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path / "redis")
    try:
        server.start()
    except RedisMissing as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Cluster:
    """The project, its Redis, the workers started and the scheduler, for one test."""

    project: Project
    redis: LocalRedis
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    scheduler: Scheduler | None = None

    @property
    def ran(self) -> Path:
        return self.project.root / "ran.txt"

    def executions(self) -> list[str]:
        """The run ids of every execution of the counting task, in order (one line per execution)."""
        return [line.split()[0] for line in self.ran.read_text().splitlines()] if self.ran.exists() else []

    history: str | None = None
    """A PostgreSQL URL for the history (else the SQLite file)."""

    def configure(self, jobs: str, *, max_concurrent: int = 4) -> None:
        self.project.add_task("counted", COUNTING_TASK)
        self.project.write_config(
            "timezone: Europe/Berlin\n"
            + (f"history: {self.history}\n" if self.history else "")
            + f"executor:\n  kind: celery\n  broker: {self.redis.url}\n  heartbeat: 1s\n  worker_lost_after: 5s\n"
            f"scheduler:\n  max_concurrent_runs: {max_concurrent}\n"
            f"defaults:\n  retries: 0\n  retry_backoff: 0s\n"
            f"jobs:\n" + textwrap.indent(textwrap.dedent(jobs), "  ")
        )

    def start_worker(self, queues: str = "default", concurrency: int = 1) -> subprocess.Popen[bytes]:
        log = (self.project.root / f"worker-{len(self.workers)}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "runner.py"), "--config", str(self.project.config), "worker"]
            + ["--queues", queues, "--concurrency", str(concurrency)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.project.root,
        )
        self.workers.append(proc)
        with self.store() as store:
            wait_for(lambda: any(w.pid == proc.pid for w in store.workers()), timeout=30, what="the worker's heartbeat")
        return proc

    def store(self) -> RunStore:
        return RunStore(self.history or self.project.root / "var" / "history.sqlite")

    def start_scheduler(self) -> Scheduler:
        self.scheduler = Scheduler(self.project.config)
        self.scheduler.start(datetime.now(UTC))
        return self.scheduler

    def enqueue(self, job: str) -> None:
        assert self.scheduler is not None
        now = datetime.now(UTC)
        plan = plan_run(self.scheduler.config, self.scheduler.registry, job, scheduled_for=now)
        self.scheduler.runs.enqueue(plan, Trigger.MANUAL, now)

    def drive(self, done: Callable[[], object], *, timeout: float = 30.0, what: str = "the runs") -> object:
        """Tick the scheduler with the real clock until ``done()``."""
        scheduler = self.scheduler
        assert scheduler is not None
        return wait_for(lambda: (scheduler.step(datetime.now(UTC)), done())[1], timeout=timeout, what=what)

    def runs(self, job: str) -> list[RunRecord]:
        with self.store() as store:
            return sorted(store.list(job=job, limit=100), key=lambda r: (r.queued_at, r.attempt))

    def close(self) -> None:
        try:
            if self.scheduler is not None:
                self.scheduler.stop(datetime.now(UTC))
        finally:
            for proc in self.workers:
                _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def history_url(request: pytest.FixtureRequest) -> str | None:
    """The history a cluster test runs on: the SQLite file, or (``indirect`` param "postgresql") a fresh
    PostgreSQL database, set up before the cluster and so dropped only after it stopped."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return None


@pytest.fixture
def cluster(tmp_project: Project, redis_server: LocalRedis, history_url: str | None) -> Iterator[Cluster]:
    made = Cluster(tmp_project, redis_server, history=history_url)
    try:
        yield made
    finally:
        made.close()


def gone(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds
