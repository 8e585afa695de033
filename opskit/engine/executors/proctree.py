"""Stopping a local run and everything it started: its process tree, and its session.

A run's worker starts browsers, and a task may start helpers of its own; a timeout or a shutdown has to
stop all of them, not only the worker. Both local executors (process.py, forked.py) stop runs through
here.
"""

from __future__ import annotations

import os

import psutil

KILL_GRACE_S = 3.0
"""How long terminated processes get to exit before they are killed."""


def kill_tree(pid: int, *, grace: float = KILL_GRACE_S) -> None:
    """Terminate a process and all its descendants (browsers included), then kill what is left.

    SIGTERM first, so that a worker still records itself as terminated and removes its temporary files;
    SIGKILL for whatever has not exited ``grace`` seconds later.
    """
    try:
        parent = psutil.Process(pid)
        procs = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:  # it ended on its own meanwhile (its children were its to stop)
        return
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)


def signal_session(pid: int, signum: int) -> None:
    """Send ``signum`` to the process group led by ``pid`` (a run started in its own session).

    This also reaches what left the tree but stayed in the run's session (a helper that daemonised
    itself). A group that is gone already, or not ours to signal, is left alone.
    """
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def is_running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has ended: it only waits for its parent to read its status)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def kill_tree_now(pid: int) -> None:
    """SIGKILL a process and all its descendants at once, with no chance to record anything: for a run whose
    worker died (it must end as if with its worker, not record itself "terminated")."""
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=KILL_GRACE_S)
