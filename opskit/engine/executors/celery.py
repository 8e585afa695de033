"""The Celery executor: the scheduler's runs go to Celery workers (``runner.py worker``) through Redis.

The scheduler keeps every decision it makes with the local executor (which slot runs, overlap, concurrency,
retries, delivery); this executor only sends the run's id to the queue its plan names (``default``,
``browser``, or the job's ``queue``) and watches the run's row in the history, which the worker writes:

- a run whose row is final has ended (``poll`` answers 0: the record says how);
- a run taken by a worker that is gone (its heartbeat older than ``executor.worker_lost_after``, or, on
  this machine, its process dead) has died with it: ``poll`` answers ``EXIT_UNKNOWN`` and the scheduler
  records it failed and retries it per the job's ``retry_killed`` on another worker;
- a run no worker has taken is sent again when Redis restarted since it was sent (the server forgot it)
  or after ``executor.resend_after``: a second copy is harmless, a worker takes a run only once;
- a broker that is down does not stop the scheduler: the run stays in hand, unsent, and is sent when the
  broker answers again (at most one try a second for all runs).

Its timeout counts from when a worker started the run, not while it waits in the queue; the worker enforces
it by killing the run's process tree there, and the scheduler only steps in ``REMOTE_MARGIN`` later.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from opskit.engine.cluster.app import TASK_NAME, broker_epoch, make_app, redis_client
from opskit.engine.executors.adopted import adopt_local
from opskit.engine.executors.base import EXIT_UNKNOWN, Executor, RunHandle
from opskit.engine.executors.proctree import kill_tree_now, signal_session
from opskit.engine.history import HistoryUnavailable, RunStatus, RunStore
from opskit.engine.owners import process_alive
from opskit.engine.records import utcnow

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.history import RunRecord
    from opskit.engine.planning import PlannedRun

log = logging.getLogger(__name__)
_T = TypeVar("_T")

REMOTE_MARGIN = timedelta(seconds=30)
"""The scheduler kills a remote run this long after its worker should have (a worker that cannot)."""
BROKER_RETRY_S = 1.0
"""After a send failed, no run is sent for this long (the loop never waits on a broker that is down)."""
EPOCH_EVERY_S = 1.0
"""How often Redis is asked whether it restarted (only while runs wait untaken)."""
WORKERS_EVERY_S = 0.5
"""How long one read of the workers' heartbeats is used for."""


class CeleryRun(RunHandle):
    """A run sent to a Celery queue, as the scheduler sees it: through its row in the history."""

    remote = True

    def __init__(self, executor: CeleryExecutor, record: RunRecord, queue: str, timeout_s: float, retry_killed: bool):
        self.executor, self.record, self.queue = executor, record, queue
        self.run_id = record.id
        self.timeout_s, self.retry_killed = timeout_s, retry_killed
        self.sent_at: float | None = None
        self.epoch: str | None = None
        self.code: int | None = None
        self.worker: str | None = None

    @property
    def where(self) -> str:
        if self.worker:
            return f"Celery worker {self.worker}"
        return f"Celery queue '{self.queue}'" + ("" if self.sent_at is not None else " (not sent yet: broker down)")

    def send(self) -> bool:
        sent = self.executor.send(self)
        return sent

    def poll(self) -> int | None:
        if self.code is not None:
            return self.code
        state = self.executor.read(lambda: self.executor.store.run_state(self.run_id))
        if state is None:
            self.code = EXIT_UNKNOWN
            return self.code
        status, self.worker = state
        if RunStatus(status).final:
            self.code = 0
        elif self.worker is not None:
            lost = self.executor.worker_lost(self.worker)
            if lost:
                log.warning("run %s: its worker %s is gone (%s)", self.run_id, self.worker, lost)
                self._kill_here()
                self.code = EXIT_UNKNOWN
        elif self.sent_at is None or self.executor.should_resend(self):
            self.send()
        return self.code

    def deadline_start(self, handed_over: datetime) -> datetime | None:
        if self.code is not None:
            return handed_over
        record = self.executor.read(lambda: self.executor.store.get(self.run_id))
        if record.started_at is None:
            return None  # waiting in the queue: its timeout has not begun
        return record.started_at + REMOTE_MARGIN

    def terminate(self) -> None:
        """Record the run stopped; its worker sees that in the history and kills its process tree."""
        self.executor.store.finish(
            self.run_id,
            RunStatus.FAILED,
            only_if_unfinished=True,
            error="terminated: the scheduler shut down before the run ended",
        )

    def kill(self) -> None:
        """Stop the run now: recorded over (its worker kills its tree within a second); here, killed directly."""
        self.terminate()
        self._kill_here()
        self.code = self.code if self.code is not None else EXIT_UNKNOWN

    def _kill_here(self) -> None:
        """A run on this machine whose process is still there (its worker was killed a moment ago) is killed
        now, with SIGKILL as its worker died: a SIGTERM would have it record itself "terminated", which is
        never retried. (It would kill itself within a second anyway: runs die with their worker.)"""
        local = adopt_local(self.executor.store.get(self.run_id))
        if local is not None:
            signal_session(local.pid, signal.SIGKILL)
            kill_tree_now(local.pid)


class CeleryExecutor(Executor):
    """Sends the scheduler's runs to Celery workers; see the module's docstring.

    Args:
        config: The config with ``executor: {kind: celery, broker: ...}``.
    """

    def __init__(self, config: Config):
        self.config = config
        self.settings = config.settings.executor
        self.app = make_app(self.settings)
        self.redis = redis_client(self.settings)
        self.store = RunStore(config.history_target)
        self._down_until = 0.0
        self._epoch: tuple[float, str | None] = (0.0, None)
        self._workers: tuple[float, dict[str, Any]] = (0.0, {})
        self._history_ok_since: float | None = time.monotonic()
        self._connection_seen: float | None = None
        """Since when the history answers (None during an outage): heartbeats it could not take are no sign."""

    def read(self, call: Callable[[], _T]) -> _T:
        """A read of the history, noting outages: a worker's heartbeat is judged only once the history has
        answered for ``worker_lost_after`` (during a PostgreSQL restart no worker can write one)."""
        try:
            value = call()
        except HistoryUnavailable:
            self._history_ok_since = None
            raise
        if self._history_ok_since is None:
            self._history_ok_since = time.monotonic()
        # A store reconnects by itself after an outage it did not see fail: a new connection says when.
        connected = self.store.connected_at
        if self._connection_seen is not None and connected != self._connection_seen:
            self._history_ok_since = connected
        self._connection_seen = connected
        return value

    def start(
        self,
        record: RunRecord,
        config: Config,
        *,
        options: dict[str, Any] | None = None,
        plan: PlannedRun | None = None,
    ) -> CeleryRun:
        defaults = config.settings.defaults
        queue = plan.queue if plan is not None else "default"
        timeout = plan.timeout if plan is not None else defaults.timeout
        retry_killed = plan.retry_killed if plan is not None else defaults.retry_killed
        handle = CeleryRun(self, record, queue, timeout.total_seconds(), retry_killed)
        handle.send()
        return handle

    def send(self, handle: CeleryRun) -> bool:
        """Publish the run's message; False (logged) when the broker does not answer."""
        if time.monotonic() < self._down_until:
            return False
        try:
            epoch = self.epoch(fresh=handle.sent_at is not None)
            self.app.send_task(
                TASK_NAME,
                args=[handle.run_id, handle.timeout_s, handle.retry_killed],
                queue=handle.queue,
                routing_key=handle.queue,
            )
        except Exception as exc:  # kombu's and redis-py's connection errors have no common base
            self._down_until = time.monotonic() + BROKER_RETRY_S
            log.error(
                "run %s: the broker %s does not answer (%s); sent when it does",
                handle.run_id,
                self.settings.shown_broker,
                type(exc).__name__,
            )
            return False
        again = handle.sent_at is not None
        handle.sent_at, handle.epoch = time.monotonic(), epoch
        if again:
            log.warning("run %s: sent again to queue '%s' (no worker had taken it)", handle.run_id, handle.queue)
        return True

    def should_resend(self, handle: CeleryRun) -> bool:
        """Whether an untaken run's message may be lost: Redis restarted since, or it waited ``resend_after``."""
        assert handle.sent_at is not None
        if time.monotonic() - handle.sent_at > self.settings.resend_after.total_seconds():
            return True
        if time.monotonic() < self._down_until:
            return False
        try:
            return self.epoch() != handle.epoch
        except Exception:
            self._down_until = time.monotonic() + BROKER_RETRY_S
            return False

    def epoch(self, *, fresh: bool = False) -> str | None:
        """The Redis server's run id (asked at most every ``EPOCH_EVERY_S``)."""
        at, value = self._epoch
        if fresh or value is None or time.monotonic() - at > EPOCH_EVERY_S:
            value = broker_epoch(self.redis)
            self._epoch = (time.monotonic(), value)
        return value

    def worker_lost(self, name: str) -> str | None:
        """Why the worker ``name`` is gone, or None while it lives."""
        at, rows = self._workers
        if time.monotonic() - at > WORKERS_EVERY_S:
            rows = {w.name: w for w in self.read(lambda: self.store.workers(include_stopped=True))}
            self._workers = (time.monotonic(), rows)
        row = rows.get(name)
        if row is None:
            row = self.read(lambda: self.store.worker(name))
            if row is None:
                return "it never wrote a heartbeat"
        if row.stopped_at is not None:
            return "it stopped"
        if row.host == socket.gethostname() and not process_alive(row.pid, row.pid_started):
            return f"its process (pid {row.pid}) on this machine is dead"
        age = utcnow() - row.heartbeat_at
        answering = time.monotonic() - (self._history_ok_since or time.monotonic())
        if age > self.settings.worker_lost_after and answering > self.settings.worker_lost_after.total_seconds():
            return f"no heartbeat for {age.total_seconds():.0f}s"
        return None

    def adopt(self, record: RunRecord) -> RunHandle | None:
        """A run a previous scheduler sent: watched through the history like one sent now."""
        if record.worker is None and record.status == RunStatus.RUNNING:
            return adopt_local(record)
        plan_queue = "default"
        handle = CeleryRun(self, record, plan_queue, self.config.settings.defaults.timeout.total_seconds(), True)
        handle.sent_at, handle.epoch = time.monotonic(), self._epoch[1]
        return handle

    def reload(self, config: Config) -> None:
        self.config = config
        changed = config.settings.executor.broker != self.settings.broker
        self.settings = config.settings.executor
        if changed:
            self.app, self.redis = make_app(self.settings), redis_client(self.settings)

    def close(self) -> None:
        self.store.close()
        try:
            self.redis.close()
        except Exception:
            pass
