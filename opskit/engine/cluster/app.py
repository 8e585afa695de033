"""The Celery app both sides share: the broker, the one task's name, and the settings that keep runs safe.

- ``task_acks_late`` and ``task_reject_on_worker_lost``: a message is acknowledged only once its run ended,
  and one whose worker died is handed back to the broker. A second delivery is harmless: the worker finds
  the run taken or finished in the history and does nothing.
- ``worker_prefetch_multiplier=1``: a worker holds only the messages it runs; the rest wait in Redis for
  whichever worker is free (and ``runner.py status`` counts them as the queue's depth).
- No result backend: the run history holds each run's outcome.
- Publishing does not retry for long: the scheduler's loop never waits on a broker that is down; an unsent
  run stays in hand and is sent again on the next rounds (executors/celery.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

    from opskit.config.executor import ExecutorSettings

TASK_NAME = "opskit.run"
"""The one Celery task: execute a run of the history by its id (runs.py)."""
DEFAULT_QUEUE = "default"
BROWSER_QUEUE = "browser"
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
"""The Redis lists kombu keeps per queue (one per priority step): a queue's depth is their lengths' sum."""


def make_app(settings: ExecutorSettings) -> Celery:
    """A Celery app on the broker of ``settings`` (``executor: {kind: celery, broker: ...}``)."""
    from celery import Celery

    app = Celery("opskit", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=DEFAULT_QUEUE,
        task_create_missing_queues=True,
        task_publish_retry=False,
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # A long run outlives this before its message would be handed out again; the history stops a second
        # copy from running anyway.
        broker_transport_options={"visibility_timeout": 6 * 3600, "socket_timeout": 5, "socket_connect_timeout": 2},
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app


def redis_client(settings: ExecutorSettings) -> Any:
    """A plain Redis client on the broker, for what Celery does not say: queue depths, the server's identity."""
    import redis

    return redis.Redis.from_url(settings.broker_url or "", socket_timeout=2, socket_connect_timeout=2)


def queue_depth(client: Any, queue: str) -> int:
    """Messages waiting in ``queue`` (taken ones are not counted): Redis LLEN of its lists."""
    return int(sum(client.llen(queue + suffix) for suffix in PRIORITY_SUFFIXES))


def known_queues(client: Any) -> list[str]:
    """The queues the broker knows of (kombu's bindings), ``default`` and ``browser`` always."""
    names = {DEFAULT_QUEUE, BROWSER_QUEUE}
    for key in client.keys("_kombu.binding.*"):
        for member in client.smembers(key) or ():
            text = member.decode() if isinstance(member, bytes) else str(member)
            names.add(text.split("\x06\x16")[-1])
    return sorted(n for n in names if n and not n.endswith(".pidbox"))  # pidbox: Celery's remote control


def broker_epoch(client: Any) -> str:
    """Which Redis server answers: its run id changes when it restarts (and forgets what it held)."""
    return str(client.info("server")["run_id"])
