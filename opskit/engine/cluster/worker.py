"""``runner.py worker``: a Celery worker, started in this process, that runs opskit's runs from its queues.

The worker consumes the queues it is given (``default``; add ``browser`` on machines with a Chromium) with a
pool of ``concurrency`` threads: each thread only watches a run, which executes in a child process group
forked by the worker's warm zygote (runs.py), so threads cost nothing and the GIL is never in the way (a
prefork pool is available with ``--pool prefork``; bench/bench_cluster.py measures both). Beside Celery, a
thread writes the worker's heartbeat row to the history every ``executor.heartbeat``: the scheduler tells a
dead worker by it, and ``runner.py status`` lists the workers from it.

SIGTERM or Ctrl-C is Celery's warm shutdown: no new runs are taken, the runs in hand finish, then the worker
records that it stopped. ``kill -9`` leaves its runs to die with it (runs.py) and the scheduler to retry them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opskit.engine.cluster.app import TASK_NAME, make_app
from opskit.engine.cluster.runs import WorkerState, execute_run, install
from opskit.engine.database import redact_url
from opskit.engine.history import HistoryUnavailable, RunStore
from opskit.errors import UsageError

if TYPE_CHECKING:
    from opskit.config.model import Config

log = logging.getLogger(__name__)

POOLS = ("threads", "prefork")


def worker_name(pid: int | None = None, host: str | None = None) -> str:
    """How a worker is known in the history and to Celery: ``opskit-PID@HOST``."""
    return f"opskit-{pid or os.getpid()}@{host or socket.gethostname()}"


def run_worker(config: Config, *, queues: list[str], concurrency: int, pool: str = "threads") -> int:
    """Consume ``queues`` until a stop signal; returns the process's exit code.

    Raises:
        UsageError: the config has no ``executor: {kind: celery, ...}`` section, or a bad pool.
    """
    settings = config.settings.executor
    if not settings.celery:
        raise UsageError(
            "runner.py worker needs Celery in config.yaml: executor: {kind: celery, broker: redis://HOST:6379/0}",
            hint="See docs/deploy.md, 'Workers on Celery'",
        )
    if pool not in POOLS:
        raise UsageError(f"unknown pool '{pool}'", hint=f"Pools: {', '.join(POOLS)}")
    import warnings

    import psutil
    from celery.exceptions import SecurityWarning

    # Celery warns about root because of pickle; this app accepts JSON only (app.py), so the warning is noise.
    warnings.filterwarnings("ignore", category=SecurityWarning)
    logging.getLogger("opskit").propagate = False  # runner.py's handler prints it; Celery's root handler too
    state = WorkerState(config, name=worker_name())
    state.pid_started = psutil.Process().create_time()
    install(state)
    app = make_app(settings)
    app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(execute_run)
    heart = _Heartbeat(state, queues, concurrency)
    heart.beat()  # before the first run is taken: the scheduler knows this worker from its first claim
    heart.start()
    if pool == "threads":
        state.executor()  # the zygote warms up while Celery connects
    else:  # each pool process forks runs from a zygote of its own, warmed when the process starts
        from celery.signals import worker_process_init

        worker_process_init.connect(lambda **_: state.executor(), weak=False)
    log.info(
        "worker %s: queues %s, %d %s, broker %s, history %s",
        state.name,
        ",".join(queues),
        concurrency,
        pool,
        settings.shown_broker,
        redact_url(config.history_target),
    )
    try:
        worker = app.Worker(
            hostname=state.name,
            queues=queues,
            concurrency=concurrency,
            pool=pool,
            loglevel="WARNING",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            quiet=True,
            optimization="fair",
        )
        worker.start()
        return int(getattr(worker, "exitcode", 0) or 0)
    finally:
        heart.stop()
        state.close()
        log.info("worker %s stopped", state.name)


class _Heartbeat(threading.Thread):
    """Writes the worker's row every ``executor.heartbeat``; a history that cannot be written is logged."""

    def __init__(self, state: WorkerState, queues: list[str], concurrency: int):
        super().__init__(name="opskit-heartbeat", daemon=True)
        self.state, self.queues, self.concurrency = state, queues, concurrency
        self.every = state.config.settings.executor.heartbeat.total_seconds()
        self.started_at = datetime.now(UTC)
        self.stopping = threading.Event()
        self.store = RunStore(state.config.history_target)

    def beat(self) -> None:
        self.store.worker_heartbeat(
            name=self.state.name,
            host=self.state.host,
            pid=self.state.pid,
            pid_started=self.state.pid_started,
            queues=self.queues,
            concurrency=self.concurrency,
            started_at=self.started_at,
            now=datetime.now(UTC),
        )

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self.beat()
            except HistoryUnavailable as exc:
                log.error("worker %s: heartbeat not written: %s", self.state.name, exc)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=10)
        try:
            self.store.worker_stopped(self.state.name, now=datetime.now(UTC))
        except HistoryUnavailable as exc:
            log.error("worker %s: could not record the stop: %s", self.state.name, exc)
        self.store.close()
