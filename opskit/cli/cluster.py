"""``runner.py worker``, and the cluster's lines of ``runner.py status``: leader, workers, queue depths."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.cli.values import whole_number
from opskit.errors import UsageError

BROWSER_QUEUE = "browser"

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.history import RunStore


def add_worker_parser(worker: argparse.ArgumentParser) -> None:
    worker.add_argument(
        "--queues",
        default="default",
        help="comma-separated queues to take runs from (default: default; add browser where Chromium is)",
    )
    worker.add_argument("--concurrency", type=whole_number(1, 256), default=2, help="runs at once (default 2)")
    worker.add_argument("--pool", choices=("threads", "prefork"), default="threads", help="Celery pool (threads)")


def cmd_worker(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.config.executor import QUEUE_NAME  # pydantic only for this command: runner.py list starts light
    from opskit.config.model import load_config  # the same
    from opskit.engine.cluster.worker import run_worker  # Celery and the engine only for this command

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    bad = [q for q in queues if not QUEUE_NAME.match(q)]
    if not queues or bad:
        raise UsageError(f"--queues: '{(bad or [''])[0]}' is not a queue name", hint="e.g. --queues default,browser")
    if not 1 <= args.concurrency <= 256:
        raise UsageError(f"--concurrency: {args.concurrency} is not between 1 and 256")
    config = load_config(config_path)
    if BROWSER_QUEUE in queues:
        from opskit.cli.bootstrap import find_browser  # Playwright only for a browser worker's check

        if find_browser() is None:
            raise UsageError(
                "--queues browser: there is no Chromium on this machine, and only machines with one take browser runs",
                hint="Install one (make bootstrap), or start this worker without the browser queue",
            )
    return run_worker(config, queues=queues, concurrency=args.concurrency, pool=args.pool)


def cluster_lines(config: Config, store: RunStore, now: datetime) -> tuple[list[str], list[str]]:
    """What ``status`` prints about Celery workers, and the problems among it (empty for ``executor: local``)."""
    settings = config.settings.executor
    if not settings.celery:
        return [], []
    lines, problems = [f"executor: celery, broker {settings.shown_broker}"], []
    taken = store.runs_on_workers()
    workers = store.workers()
    if not workers:
        lines.append("workers: none (start one with runner.py worker)")
        problems.append("no Celery worker is up")
    for w in workers:
        age = (now - w.heartbeat_at).total_seconds()
        state = "alive" if age <= settings.worker_lost_after.total_seconds() else "NOT RESPONDING"
        running = taken.get(w.name, [])
        lines.append(
            f"worker {w.name}: {state} (pid {w.pid} on {w.host}, queues {','.join(w.queues)}, "
            f"{len(running)}/{w.concurrency} running{': ' + ', '.join(running) if running else ''}, "
            f"last heartbeat {age:.0f}s ago)"
        )
        if state != "alive":
            problems.append(f"worker {w.name} is not responding")
    try:
        from opskit.engine.cluster.app import known_queues, queue_depth, redis_client  # redis-py only for Celery

        client = redis_client(settings)
        try:
            depths = {q: queue_depth(client, q) for q in known_queues(client)}
        finally:
            client.close()
        lines.append("queued in Redis: " + ", ".join(f"{q} {n}" for q, n in depths.items()))
    except Exception as exc:  # redis-py's errors: the broker is down or unreachable
        line = f"broker {settings.shown_broker} does not answer ({type(exc).__name__})"
        lines.append(line)
        problems.append(line)
    return lines, problems
