"""Who answers for a run: the process that watches it, enforces its timeout and delivers it when it ends.

Every run a scheduler or ``runner.py run`` creates carries an owner in the history:

- ``scheduler:<session>``: the scheduler daemon that started it (a new session per start). Only one
  scheduler runs per history (the lock file, lock.py), so the lock's holder answers for every run a
  scheduler owned; a run of an earlier session is an orphan of a scheduler that died.
- ``pid:<pid>:<start time>``: a ``runner.py run`` or ``backfill`` in a terminal. It is gone when that
  process is (the start time guards against a reused pid).
- no owner (rows written by an earlier version, or by hand): anyone who notices may act on it.

A run whose owner is gone is an orphan: a live one is adopted by the scheduler (counted busy, its deadline
enforced, delivered when it ends), a dead one is marked ``abandoned`` and alerted by whoever notices first
(recovery.py). This module only names and checks owners; the history stores them.
"""

from __future__ import annotations

import os
import secrets

SCHEDULER_PREFIX = "scheduler:"
PROCESS_PREFIX = "pid:"

_process_owner: tuple[int, str] | None = None


def new_scheduler_owner() -> str:
    """The owner of the runs of one scheduler start (a restart, even in the same process, is a new one)."""
    return f"{SCHEDULER_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"


def this_process() -> str:
    """The owner string of the current process: ``pid:<pid>:<start time>``."""
    global _process_owner
    pid = os.getpid()
    if _process_owner is None or _process_owner[0] != pid:  # recomputed in a forked child
        import psutil

        _process_owner = (pid, f"{PROCESS_PREFIX}{pid}:{psutil.Process(pid).create_time():.3f}")
    return _process_owner[1]


def is_scheduler(owner: str | None) -> bool:
    return bool(owner and owner.startswith(SCHEDULER_PREFIX))


def owner_alive(owner: str | None, *, me: str | None = None, scheduler_alive: bool = False) -> bool:
    """Whether ``owner`` still answers for its runs.

    Args:
        owner: The run's owner as stored (None: nobody).
        me: The caller's own owner string: its own runs are alive by definition.
        scheduler_alive: Whether a scheduler that is not ``me`` holds the lock. For the scheduler itself
            this is False: holding the lock, it answers for every earlier scheduler's runs.
    """
    if owner is None:
        return False
    if owner == me:
        return True
    if owner.startswith(SCHEDULER_PREFIX):
        return scheduler_alive
    if owner.startswith(PROCESS_PREFIX):
        try:
            pid_text, started_text = owner[len(PROCESS_PREFIX) :].split(":", 1)
            return process_alive(int(pid_text), float(started_text))
        except ValueError:
            return False
    return False


def process_alive(pid: int | None, started: float | None) -> bool:
    """Whether ``pid`` is the same process that started the run (guards against pid reuse)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if started is None:
        return True
    import psutil

    try:
        process = psutil.Process(pid)
        # A zombie has ended; it only waits for its parent to read its exit status.
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False
