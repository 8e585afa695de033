"""Handing the config a process runs under to the child it starts, as it is in memory, not as it is on disk.

A scheduler runs the config it validated; config.yaml on disk may since have been edited into something
invalid (the scheduler logs that and keeps its config). Workers and the zygote must start from the
scheduler's config, not from the file: otherwise a zygote that dies while the file is broken, or a worker
started meanwhile, would fail every run. The loaded ``Config`` is pickled into an anonymous in-memory file
(``memfd_create``; an unlinked temporary file where that does not exist) whose descriptor the child
inherits (``--config-fd N``). Nothing is written to disk: the config holds resolved secrets.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import TYPE_CHECKING

from opskit.config.model import Config

if TYPE_CHECKING:
    from opskit.config.model import Config


def config_fd(config: Config) -> int:
    """A readable descriptor, at offset 0, holding ``config``; pass it to the child, then close it here."""
    data = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("opskit-config", os.MFD_CLOEXEC)
    else:  # pragma: no cover - not Linux
        with tempfile.TemporaryFile() as tmp:
            fd = os.dup(tmp.fileno())
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def read_config(fd: int) -> Config:
    """The config a parent handed over with ``config_fd`` (the descriptor is closed)."""
    with os.fdopen(fd, "rb") as handed:
        config = pickle.load(handed)

    if not isinstance(config, Config):
        raise TypeError(f"descriptor {fd} does not hold a config")
    return config
