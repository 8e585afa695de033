"""Writing files so that no reader ever finds half of one, and nobody else can read run data.

One rule for every file opskit writes: it is written to a temporary name in the target's folder, flushed
to disk, and renamed into place only when complete, so a crash, an exception or Ctrl-C leaves either the
old file or the new one, never a torn one. Files that can hold run data (workbooks, emails, logs, state,
saved sign-ins, artifacts, the history) are owner-only: files ``0600``, folders ``0700``. T&S data is
sensitive, and a report folder is shared on purpose (a share, a mail link), never by accident.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PRIVATE_FILE = 0o600
"""The mode of every file opskit writes that can hold run data."""
PRIVATE_DIR = 0o700
"""The mode of every folder opskit creates for run data."""
SHARED_FILE = 0o644
"""The one exception: a file copied into ``email.shared_folder`` is there to be read through its link."""


def private_umask() -> None:
    """Make every file this process creates from now on owner-only, even one a task or a library writes with
    a plain ``open`` (a run's process: whatever it writes in its run folder is run data)."""
    os.umask(0o077)


def private_file(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` empty if missing, owner-only from its first byte; an existing file of ours becomes 0600.

    For files that are appended to rather than replaced (a run's log, a database): created with
    ``O_CREAT`` and mode 0600, so there is no moment at which another user could open it.
    """
    target = Path(path)
    private_dir(target.parent)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE)
    try:
        with contextlib.suppress(PermissionError):  # a file we do not own keeps its mode
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return target


def private_database(path: str | os.PathLike[str]) -> Path:
    """Make an SQLite file owner-only before it is opened: the file, its folder, and its ``-wal``/``-shm``.

    SQLite creates the ``-wal`` and ``-shm`` files with the mode of the database file, so a database created
    0600 keeps all three 0600; files left by an older version (0644) are narrowed here.
    """
    target = private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(f"{target}{suffix}", PRIVATE_FILE)
    return target


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and its missing parents, each owner-only) if needed, and make it owner-only."""
    folder = Path(path)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for parent in reversed(missing):  # every folder created here is owner-only, not only the last
        with contextlib.suppress(FileExistsError):
            parent.mkdir(mode=PRIVATE_DIR)
    with contextlib.suppress(PermissionError):  # a folder we do not own (e.g. /tmp) keeps its mode
        os.chmod(folder, PRIVATE_DIR)
    return folder


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, mode: int = PRIVATE_FILE, suffix: str = ".part") -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it only if the block succeeds.

    Whatever writes the temporary path (``open``, openpyxl's ``save``, Playwright's ``storage_state``)
    may replace it; the final file gets ``mode`` either way. When the block raises, the temporary file
    is removed and ``target`` is untouched.
    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:  # on disk before it has the final name
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(target: str | os.PathLike[str], data: bytes | str, *, mode: int = PRIVATE_FILE) -> Path:
    """Write ``data`` (text is UTF-8) to ``target`` atomically; returns the target's path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(target, mode=mode) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(payload)
    return Path(target)
