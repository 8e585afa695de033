"""Adopting a local run this process did not start: the run of a scheduler that was killed, or of a
``runner.py run`` whose terminal went away.

The run's worker keeps executing when the process that started it dies: the scheduler's runs are in
sessions of their own, and a worker never depends on its parent to record its outcome. A scheduler that
starts again finds such runs in the history (``running``, with the pid and the start time of their
process) and adopts them through ``Executor.adopt``: the handle below watches the process by its pid and
start time (a reused pid is never mistaken for the run), and stops it through its session like any other
run. Not being the process's parent, it cannot read its exit code: ``poll()`` answers ``EXIT_UNKNOWN`` once
the process has ended, and the run's own record in the history says how it went.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import TYPE_CHECKING

from opskit.engine.executors.base import EXIT_UNKNOWN, RunHandle
from opskit.engine.executors.proctree import kill_tree, signal_session
from opskit.engine.owners import process_alive

if TYPE_CHECKING:
    from opskit.engine.history import RunRecord

GONE_WAIT_S = 5.0
"""How long ``kill`` waits for the killed process to disappear."""


class AdoptedRun(RunHandle):
    """A run executing in a local process that is not our child, known by its pid and start time."""

    def __init__(self, run_id: str, pid: int, pid_started: float | None):
        self.run_id, self.pid, self.pid_started = run_id, pid, pid_started
        self.code: int | None = None

    @property
    def where(self) -> str:
        return f"local pid {self.pid} (adopted)"

    def poll(self) -> int | None:
        if self.code is None and not process_alive(self.pid, self.pid_started):
            self.code = EXIT_UNKNOWN
        return self.code

    def terminate(self) -> None:
        """SIGTERM to the run's session (the scheduler's runs lead one), else to its process."""
        if self.poll() is not None:
            return
        if self._leads_its_group():
            signal_session(self.pid, signal.SIGTERM)
        else:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Kill the run's tree and what stayed in its session; returns once the process is gone (5 s at most)."""
        if self.poll() is not None:
            return
        leader = self._leads_its_group()
        kill_tree(self.pid)
        if leader:
            signal_session(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + GONE_WAIT_S
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)

    def _leads_its_group(self) -> bool:
        try:
            return os.getpgid(self.pid) == self.pid
        except ProcessLookupError:
            return False


def adopt_local(record: RunRecord) -> AdoptedRun | None:
    """A handle on ``record``'s process when it runs on this machine and is still the run's; else None.

    Only a process known by its pid *and* its start time is adopted: a handle may kill what it holds, and a
    pid alone may have been reused by an unrelated process since (a row written by hand, or by an old
    version, has no start time).
    """
    if record.host != socket.gethostname() or not record.pid or record.pid_started is None:
        return None
    if record.pid <= 1 or record.pid == os.getpid():  # never init, never ourselves, whatever a row says
        return None
    if not process_alive(record.pid, record.pid_started):
        return None
    return AdoptedRun(record.id, record.pid, record.pid_started)
