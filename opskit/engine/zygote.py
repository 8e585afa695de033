"""The zygote: a warm process that forks a child per scheduled run (``python -m opskit.engine.zygote``).

A plain worker (``python -m opskit.engine.worker``) pays for the interpreter, the imports (pydantic, yaml,
requests), the config and the task discovery on every run: 0.6-0.8 s of CPU, which fifty runs due in the
same minute queue behind. The zygote (``python -m opskit.engine.zygote --config PATH --fds R,W``) pays that
once (from the config the daemon hands over as it holds it in memory, not from the file on disk), then waits
for run ids on a pipe and forks a child per run. The child starts its own session (so a
kill reaches its whole tree, browsers included), opens its own history connection and executes the run
exactly as the worker does (``worker.execute``). The zygote answers with the child's pid, reaps it, and
reports its exit code. This module is the zygote process; the scheduler's end of the pipe is the
pre-forked executor (opskit/engine/executors/forked.py).

The protocol is one JSON object per line (``send_message``). The daemon writes ``{"op": "run", "run_id":
..., "options": ...}``; the zygote writes ``{"event": "ready"}`` once loaded (``{"event": "failed",
"error": ...}`` if it cannot load, then exits), ``{"event": "started", "run_id": ..., "pid": ...}`` or
``{"event": "refused", "run_id": ..., "error": ...}`` per request, and ``{"event": "exit", "pid": ...,
"code": ...}`` per child reaped (a negative code is the signal that killed it, as in ``Popen.returncode``).
The zygote exits when the daemon's end of the pipe closes; runs in flight carry on and record themselves.

Stale code: before each fork the zygote compares the tasks folder's ``*.py`` files (mtime, size, which
exist) with what it loaded, and discovers the tasks again if anything changed, so a fixed task runs without
a restart. A config change restarts the zygote (the scheduler calls ``Executor.reload``).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import os
import select
import signal
import sys
import threading
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from opskit.engine import worker
from opskit.errors import OpskitError
from opskit.tasks import Registry, discover

PRELOAD = (
    "psutil",
    "pydantic",
    "yaml",
    "requests",
    "sqlite3",
    "sqlalchemy",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "psycopg",  # for a history on PostgreSQL
    "sqlalchemy.dialects.postgresql.psycopg",
    "playwright.sync_api",  # browser runs: 0.15 s each (the driver itself starts per run)
    "opskit.browser.hybrid",  # browser runs over HTTP (browser.http: auto)
    "selectolax.lexbor",
)
"""Imported by the zygote so that no run pays for them; missing optional ones are left out."""


class _Tasks:
    """The registry the zygote forks with, discovered again when a file of the tasks folder changed."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.snapshot: dict[str, tuple[int, int]] = {}
        self.registry: Registry | None = None
        self.refresh()

    def current(self) -> Registry:
        if self._stat() != self.snapshot or self.registry is None:
            self.refresh()
        assert self.registry is not None
        return self.registry

    def refresh(self) -> None:
        self.snapshot = self._stat()  # before importing: an edit made meanwhile shows at the next check
        # Helpers the task modules imported from the folder are imported afresh too, as in a new process.
        roots = tuple({os.path.abspath(self.folder) + os.sep, os.path.realpath(self.folder) + os.sep})
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and os.path.abspath(file).startswith(roots):
                del sys.modules[name]
        importlib.invalidate_caches()
        gc.unfreeze()
        self.registry = discover(self.folder)
        for spec in self.registry:  # the parameter models, built once here instead of in every run
            try:
                spec._validator()
            except Exception:  # the run reports it, as a plain worker would
                pass
        # What is loaded now is never collected by the children: their collections leave these pages
        # shared instead of copying them (fewer page faults, less memory per run).
        gc.collect()
        gc.freeze()

    def _stat(self) -> dict[str, tuple[int, int]]:
        files = {}
        for path in self.folder.glob("*.py"):
            try:
                st = path.stat()
            except OSError:
                continue
            files[path.name] = (st.st_mtime_ns, st.st_size)
        return files


def serve(config_path: Path, requests_fd: int, replies_fd: int, config_fd: int | None = None) -> int:
    """Load once, then fork a child per requested run until the requests pipe closes.

    ``config_fd`` holds the daemon's config as it runs it (engine/snapshot.py); without it, the file.
    """
    # The signals a fresh worker would start with, restored in each child.
    inherited: dict[int, Any] = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    # A terminal's Ctrl-C or systemd's SIGTERM is for the daemon, which closes our pipe when it is done
    # (and still needs us to report the exit codes of the runs it waits for meanwhile).
    for signum in inherited:
        signal.signal(signum, signal.SIG_IGN)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        base = worker.load(config_path, config_fd)
        tasks = _Tasks(base.config.tasks_dir)
    except Exception as exc:
        send_message(replies_fd, {"event": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select through the wakeup fd
    signal.set_wakeup_fd(wake_w)
    fds = (requests_fd, replies_fd, wake_r, wake_w)
    send_message(replies_fd, {"event": "ready", "pid": os.getpid()})
    pending = b""
    while True:
        readable, _, _ = select.select([requests_fd, wake_r], [], [])
        if wake_r in readable:
            while _read_some(wake_r):
                pass
        _reap(replies_fd)
        if requests_fd not in readable:
            continue
        chunk = os.read(requests_fd, 65536)
        if not chunk:
            return 0  # the daemon is gone or restarted us; forked runs are on their own
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if line.strip():
                _start(json.loads(line), base, tasks, inherited, fds)


def _start(
    request: dict[str, Any], base: worker.Preloaded, tasks: _Tasks, inherited: dict[int, Any], fds: tuple[int, ...]
) -> None:
    run_id = request["run_id"]
    replies_fd = fds[1]
    try:
        preloaded = replace(base, registry=tasks.current())
    except (Exception, SystemExit) as exc:  # a task module that exits on import, say
        send_message(
            replies_fd, {"event": "refused", "run_id": run_id, "error": f"discovering the tasks failed: {exc!r}"}
        )
        return
    if threading.active_count() > 1:  # a task module started a thread at import: forking now is unsafe
        send_message(
            replies_fd,
            {
                "event": "refused",
                "run_id": run_id,
                "error": f"the zygote has {threading.active_count()} threads; it forks only with one",
            },
        )
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        send_message(replies_fd, {"event": "refused", "run_id": run_id, "error": f"fork failed: {exc}"})
        return
    if pid == 0:
        _child(run_id, request.get("options") or {}, preloaded, inherited, fds)
    send_message(replies_fd, {"event": "started", "run_id": run_id, "pid": pid})


def _child(
    run_id: str, options: dict[str, Any], preloaded: worker.Preloaded, inherited: dict[int, Any], fds: tuple[int, ...]
) -> NoReturn:
    """The forked run: a process of its own, then exactly what ``python -m opskit.engine.worker`` does."""
    code = 1
    try:
        for signum, handler in inherited.items():
            signal.signal(signum, handler)
        worker.install_signal_handlers()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own session and process group: a kill reaches everything it starts
        for fd in fds:
            os.close(fd)
        os.environ["OPSKIT_RUN_OPTIONS"] = json.dumps(options)
        try:
            code = worker.execute(run_id, preloaded)
        except OpskitError as exc:  # the history or the row could not be read, as the worker reports it
            sys.stderr.write(f"error: {exc}\n")
            code = exc.exit_code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            # Never back into the zygote's loop; the zygote's atexit handlers are not this run's.
            os._exit(code)


def _reap(replies_fd: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send_message(replies_fd, {"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def send_message(fd: int, message: dict[str, Any]) -> None:
    """Write one message of the protocol (both ends use it); blocks until all of it is written."""
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opskit.engine.zygote")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--config-fd", type=int, help="a descriptor holding the daemon's config (snapshot.py)")
    parser.add_argument("--fds", required=True, help="REQUESTS,REPLIES: the pipe ends the daemon passed")
    args = parser.parse_args(argv)
    requests_fd, replies_fd = (int(fd) for fd in args.fds.split(","))
    try:
        return serve(args.config, requests_fd, replies_fd, args.config_fd)
    except BrokenPipeError:  # the daemon is gone
        return 0


if __name__ == "__main__":
    sys.exit(main())
