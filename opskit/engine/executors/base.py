"""The executor seam: what starting a run, watching it and stopping it look like to the engine.

The scheduler and ``runner.py run`` never start a process themselves: they hand a run's history row to an
``Executor`` and get a ``RunHandle`` back, which they poll, wait on, terminate or kill. Where the run
actually executes (a child process, a child forked by a warm zygote, later a Celery worker on another
machine) is the executor's business, chosen in one place (``make_executor`` in ``__init__.py``).

The worker records the run's outcome in the history itself, wherever it runs; an executor only reports
how the run's process ended (its exit code), so the engine can fill in what a worker that died without a
word could not record.
"""

from __future__ import annotations

import abc
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from opskit.config.model import Config
    from opskit.engine.history import RunRecord
    from opskit.engine.planning import PlannedRun

WAIT_POLL_S = 0.1
"""How often the default ``RunHandle.wait`` asks a handle that cannot block (a remote run) for its end."""
EXIT_UNKNOWN = 256
"""What ``poll()`` returns for a run that ended without its exit code being seen (its parent was another
process: a zygote that died, a scheduler that adopted it). Outside 0-255 and not a signal, so never
mistaken for either; the run's own record stands if it wrote one."""


class RunHandle(abc.ABC):
    """One run started by an executor: ask whether it ended, wait for it, stop it.

    The handle may stand for something that is not a local process (a task on a remote queue): nothing
    here promises a pid, only an exit code once the run's process has ended.
    """

    run_id: str
    remote: bool = False
    """Whether the run executes on another machine's worker, which enforces its timeout and outlives this
    scheduler (a scheduler that lost the lead leaves such runs to the new leader)."""

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """Where the run executes, for people reading logs: "local pid 1234", a Celery worker's name."""

    @abc.abstractmethod
    def poll(self) -> int | None:
        """The exit code once the run's process has ended, else None; never blocks.

        0 means the worker recorded the outcome (succeeded or failed); 130 an interrupted or terminated
        run (also recorded); anything else, including a negative code (the signal that killed it) and
        ``EXIT_UNKNOWN``, means the worker may have died without recording anything.
        """

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the run to end; its exit code, or None if it still runs.

        This default asks ``poll`` every WAIT_POLL_S; a local process blocks on its exit instead.
        """
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(WAIT_POLL_S, left))
        return code

    def deadline_start(self, handed_over: datetime) -> datetime | None:
        """From when the run's timeout counts: for a local run, the moment it was handed over.

        A remote run may wait in a queue first; its handle says None while it waits (no deadline yet), and
        when it started once it has.
        """
        return handed_over

    @abc.abstractmethod
    def terminate(self) -> None:
        """Ask the run to stop (SIGTERM for a local run): it records itself as terminated. Returns at once."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop the run and everything it started now; returns once its end is known (or cannot be)."""


class Executor(abc.ABC):
    """Starts runs somewhere. Implementations: process.py, forked.py, celery.py; chosen by ``make_executor``."""

    @abc.abstractmethod
    def start(
        self,
        record: RunRecord,
        config: Config,
        *,
        options: dict[str, Any] | None = None,
        plan: PlannedRun | None = None,
    ) -> RunHandle:
        """Start executing the history row ``record`` under ``config``; returns at once.

        Args:
            record: The run's row, already in the history (queued); the worker reads it by its id.
            config: The config the run executes under (its path is what a worker loads).
            options: Run options for the task's context (``--headed``, ``--slowmo``), as JSON values.
            plan: The run as planned (its queue and timeout), when the caller has it: a remote executor
                routes and limits the run with it; local ones need nothing from it.
        """

    def adopt(self, record: RunRecord) -> RunHandle | None:
        """A handle on a run that is still executing but was started by someone else (a scheduler that
        died, a ``runner.py run`` that was killed), so that it can be watched, stopped and delivered.

        Returns:
            The handle, or None when this executor cannot reach the run (another machine, another kind).
        """
        return None

    def reload(self, config: Config) -> None:  # noqa: B027  (a hook: most executors keep nothing warm)
        """The scheduler applied a new config: drop whatever was loaded for the previous one."""

    def close(self) -> None:  # noqa: B027  (a hook: most executors hold nothing open)
        """Release what the executor holds (a zygote, a broker connection); runs in flight carry on."""
