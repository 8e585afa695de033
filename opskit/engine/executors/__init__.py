"""Executors: where and how a run executes, chosen in exactly one place, ``make_executor``.

The engine hands a run to an ``Executor`` and watches the ``RunHandle`` it returns (base.py). Two
implementations today, both local:

- ``ProcessExecutor`` (process.py): a fresh ``python -m opskit.engine.worker`` per run.
- ``ForkedExecutor`` (forked.py): runs forked by a warm zygote (zygote.py), for the scheduler; when the
  zygote cannot start a run it goes to the ``ProcessExecutor`` it was given, through the same seam.

- ``CeleryExecutor`` (celery.py): with ``executor: {kind: celery, ...}`` in config.yaml, the scheduler's runs
  go to Celery workers (``runner.py worker``) through Redis, routed by queue. ``runner.py run`` still runs
  in the foreground here: a person waits for it at this terminal, and Ctrl-C must reach it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from opskit.engine.executors.base import EXIT_UNKNOWN, Executor, RunHandle
from opskit.engine.executors.forked import ForkedExecutor
from opskit.engine.executors.process import ProcessExecutor
from opskit.engine.executors.warm import warm_browser_hook

if TYPE_CHECKING:
    from opskit.config.model import Config

__all__ = ["EXIT_UNKNOWN", "Executor", "Purpose", "RunHandle", "make_executor"]


class Purpose(enum.StrEnum):
    """Who asks for an executor, which decides the kind it gets."""

    SCHEDULER = "scheduler"
    """The daemon: many runs, in the background, started on time; start-up cost matters."""
    FOREGROUND = "foreground"
    """``runner.py run`` and ``backfill``: one run at a time that a person waits for at a terminal."""
    WORKER = "worker"
    """A Celery worker (``runner.py worker``) executing the runs it takes: on its own machine, always."""


def make_executor(config: Config, *, purpose: Purpose) -> Executor:
    """The executor for ``purpose`` under ``config``: the only place where that choice is made.

    Args:
        config: The loaded config: its ``executor:`` section says local or Celery.
        purpose: Who will start runs with it.

    Returns:
        A new executor; the caller closes it when done.
    """
    if purpose is Purpose.WORKER:
        # Runs forked by the worker's own zygote, in sessions of their own (a timeout kills the whole tree).
        return ForkedExecutor(fallback=ProcessExecutor(own_session=True))
    if purpose is Purpose.SCHEDULER and config.settings.executor.celery:
        from opskit.engine.executors.celery import CeleryExecutor  # Celery's imports only when it is used

        return CeleryExecutor(config)
    if purpose is Purpose.SCHEDULER:
        # Runs forked by a zygote in sessions of their own; the plain worker when the zygote cannot. Browser
        # runs share the scheduler's warm browser (scheduler.warm_browser).
        return ForkedExecutor(fallback=ProcessExecutor(own_session=True), hook=warm_browser_hook(config))
    # In the terminal's process group, so that Ctrl-C reaches the run as it reaches runner.py.
    return ProcessExecutor(own_session=False)
