"""One scheduler per run history: an exclusive lock file beside the history, holding the owner's pid.

Two schedulers on one history would both fire every slot. The lock is an ``flock`` on
``<var>/scheduler.lock``, so it is released by the kernel when the process dies, however it dies: a crashed
scheduler never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from opskit.errors import UsageError
from opskit.files import PRIVATE_FILE


class SchedulerLock:
    """One scheduler per history database: an exclusive lock on ``<var>/scheduler.lock`` holding our pid."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or say which scheduler holds it.

        Raises:
            UsageError: another scheduler (its pid in the message) holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UsageError(
                f"another scheduler (pid {other}) is already running on this history "
                f"({self.path.parent / 'history.sqlite'})",
                hint="Stop it first, or give this one its own paths.var",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.fsync(fd)
        self._fd = fd

    def held_elsewhere(self) -> bool:
        """Whether a scheduler (another process, or another lock object here) holds the lock now.

        The command line asks before it acts on the runs a scheduler answers for: a live scheduler
        handles its own runs; a dead one's runs are anyone's to settle.
        """
        if self._fd is not None:
            return False
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
