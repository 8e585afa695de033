"""Pre-forked workers: a scheduled run starts in milliseconds, still in a process of its own.

A plain worker (``python -m opskit.engine.worker``) pays for the interpreter, the imports (pydantic, yaml,
requests), the config and the task discovery on every run: 0.6-0.8 s of CPU, which fifty runs due in the
same minute queue behind. The zygote (``python -m opskit.engine.zygote --config PATH --fds R,W``) pays that once,
then waits for run ids on a pipe and forks a child per run. The child starts its own session (so a kill
reaches its whole tree, browsers included), opens its own history connection and executes the run exactly
as the worker does (``worker.execute``). The zygote answers with the child's pid, reaps it, and reports its
exit code, so ``Handle.poll()`` returns the real one.

The protocol is one JSON object per line. The daemon writes ``{"op": "run", "run_id": ..., "options": ...}``;
the zygote writes ``{"event": "ready"}`` once loaded (``{"event": "failed", "error": ...}`` if it cannot
load, then exits), ``{"event": "started", "run_id": ..., "pid": ...}`` or ``{"event": "refused",
"run_id": ..., "error": ...}`` per request, and ``{"event": "exit", "pid": ..., "code": ...}`` per child
reaped (a negative code is the signal that killed it, as in ``Popen.returncode``). The zygote exits when
the daemon's end of the pipe closes; runs in flight carry on and record themselves.

Stale code: before each fork the zygote compares the tasks folder's ``*.py`` files (mtime, size, which
exist) with what it loaded, and discovers the tasks again if anything changed, so a fixed task runs without
a restart. A config change restarts the zygote (the scheduler calls ``ZygoteLauncher.restart``).

Whenever the zygote cannot start a run (it died, refused, or did not answer), the run starts as a plain
worker instead; a zygote that died is replaced at the next launch.
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
import subprocess
import sys
import threading
import time
import traceback
import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.daemon import Handle
    from opskit.engine.history import RunRecord
    from opskit.engine.worker import Preloaded
    from opskit.tasks import Registry

log = logging.getLogger(__name__)

PRELOAD = ("psutil", "pydantic", "yaml", "requests", "sqlite3", "opskit.context", "opskit.engine.worker")
"""Imported by the zygote so that no run pays for them; missing optional ones are left out."""
REPLY_TIMEOUT_S = 30.0
"""How long a launch waits for the zygote's answer (a zygote just started loads first, about a second)."""
RESPAWN_BACKOFF_S = 60.0
"""A zygote that died before it was ready is not started again for this long: plain workers meanwhile."""
UNKNOWN_EXIT = 255
"""What ``poll()`` returns for a run whose zygote died before reporting its exit: the run's own record
stands if it wrote one (the scheduler only fills in a run left unfinished)."""


# -- the zygote process --


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
        from opskit.tasks import discover

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


def serve(config_path: Path, requests_fd: int, replies_fd: int) -> int:
    """Load once, then fork a child per requested run until the requests pipe closes."""
    # The signals a fresh worker would start with, restored in each child.
    inherited = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    # A terminal's Ctrl-C or systemd's SIGTERM is for the daemon, which closes our pipe when it is done
    # (and still needs us to report the exit codes of the runs it waits for meanwhile).
    for signum in inherited:
        signal.signal(signum, signal.SIG_IGN)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from opskit.engine import worker

    try:
        base = worker.load(config_path)
        tasks = _Tasks(base.config.tasks_dir)
    except Exception as exc:
        _send(replies_fd, {"event": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select through the wakeup fd
    signal.set_wakeup_fd(wake_w)
    fds = (requests_fd, replies_fd, wake_r, wake_w)
    _send(replies_fd, {"event": "ready", "pid": os.getpid()})
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
    request: dict[str, Any], base: Preloaded, tasks: _Tasks, inherited: dict[int, Any], fds: tuple[int, ...]
) -> None:
    run_id = request["run_id"]
    replies_fd = fds[1]
    try:
        preloaded = replace(base, registry=tasks.current())
    except (Exception, SystemExit) as exc:  # a task module that exits on import, say
        _send(replies_fd, {"event": "refused", "run_id": run_id, "error": f"discovering the tasks failed: {exc!r}"})
        return
    if threading.active_count() > 1:  # a task module started a thread at import: forking now is unsafe
        _send(
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
        _send(replies_fd, {"event": "refused", "run_id": run_id, "error": f"fork failed: {exc}"})
        return
    if pid == 0:
        _child(run_id, request.get("options") or {}, preloaded, inherited, fds)
    _send(replies_fd, {"event": "started", "run_id": run_id, "pid": pid})


def _child(
    run_id: str, options: dict[str, Any], preloaded: Preloaded, inherited: dict[int, Any], fds: tuple[int, ...]
) -> NoReturn:
    """The forked run: a process of its own, then exactly what ``python -m opskit.engine.worker`` does."""
    code = 1
    try:
        from opskit.engine import worker
        from opskit.errors import OpskitError

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
        _send(replies_fd, {"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _send(fd: int, message: dict[str, Any]) -> None:
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
    parser.add_argument("--fds", required=True, help="REQUESTS,REPLIES: the pipe ends the daemon passed")
    args = parser.parse_args(argv)
    requests_fd, replies_fd = (int(fd) for fd in args.fds.split(","))
    try:
        return serve(args.config, requests_fd, replies_fd)
    except BrokenPipeError:  # the daemon is gone
        return 0


# -- the daemon's side --


class ZygoteError(Exception):
    """The zygote could not start a run: it is gone, it refused, or it did not answer in time."""


class Zygote:
    """The daemon's end of one zygote process: send run ids, read pids and exit codes."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # as start_attempt does for the worker
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            # Its own session: Ctrl-C in the daemon's terminal is the daemon's to handle.
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "opskit.engine.zygote",
                    "--config",
                    str(config_path),
                    "--fds",
                    f"{requests_r},{replies_w}",
                ],
                env=env,
                pass_fds=(requests_r, replies_w),
                start_new_session=True,
            )
        except BaseException:
            os.close(requests_w)
            os.close(replies_r)
            raise
        finally:
            os.close(requests_r)
            os.close(replies_w)
        os.set_blocking(replies_r, False)
        self._requests, self._replies = requests_w, replies_r
        self._pending = b""
        self._answers: dict[str, dict[str, Any]] = {}
        self._asked: dict[str, float] = {}
        """Requests not answered yet, with when they were sent."""
        self.exits: dict[int, int] = {}
        self.outstanding: set[int] = set()
        """Children started and not yet reported ended."""
        self.ready = False
        self.gone = False
        self.retired = False
        """Replaced after a config change: it is closed once its runs have all been reported."""
        # Closed when closed by hand, collected, or at exit: the process never outlives the daemon's end.
        self._closer = weakref.finalize(self, _shut, self.proc, requests_w, replies_r)

    def request(self, run_id: str, options: dict[str, Any] | None = None) -> None:
        """Ask for a child executing ``run_id``; ``answer`` tells its pid. Returns without waiting.

        Raises:
            ZygoteError: the zygote is gone.
        """
        if self.gone:
            raise ZygoteError(f"the zygote (pid {self.proc.pid}) is gone")
        try:
            _send(self._requests, {"op": "run", "run_id": run_id, "options": options or {}})
        except BrokenPipeError:
            self._lost()
            raise ZygoteError(f"the zygote (pid {self.proc.pid}) is gone") from None
        self._asked[run_id] = time.monotonic()

    def answer(self, run_id: str, timeout: float = 0.0) -> int | None:
        """The pid of the child started for ``run_id``, or None if the zygote has not answered yet.

        Raises:
            ZygoteError: the zygote refused (its reason), exited without answering, or gave no answer
                within REPLY_TIMEOUT_S of the request (it is killed then).
        """
        deadline = time.monotonic() + timeout
        self.pump()
        while True:
            if run_id in self._answers:
                answer = self._answers.pop(run_id)
                if answer["event"] != "started":
                    raise ZygoteError(answer.get("error", "refused"))
                return int(answer["pid"])
            if self.gone:
                self._asked.pop(run_id, None)
                raise ZygoteError(f"the zygote (pid {self.proc.pid}) exited with code {self.proc.returncode}")
            if time.monotonic() - self._asked.get(run_id, time.monotonic()) > REPLY_TIMEOUT_S:
                # Killed, then read to the end: a child forked just before is still seen and used.
                self.proc.kill()
                self.proc.wait()
                for _ in range(5):
                    self.pump(1.0)
                self.close()
                if run_id not in self._answers:
                    self._asked.pop(run_id, None)
                    raise ZygoteError(f"the zygote gave no answer within {REPLY_TIMEOUT_S:.0f}s; it was killed")
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.pump(min(left, 1.0))

    def pump(self, timeout: float = 0.0) -> None:
        """Read what the zygote wrote, waiting up to ``timeout`` seconds for something."""
        if self.gone:
            return
        poller = select.poll()  # not select(): the daemon may hold more than 1,024 descriptors
        poller.register(self._replies, select.POLLIN)
        if not poller.poll(timeout * 1000):
            return
        ended = False
        while True:
            try:
                chunk = os.read(self._replies, 65536)
            except BlockingIOError:
                break
            if not chunk:
                ended = True
                break
            self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._on(json.loads(line))
        if ended:
            self._lost()
        elif self.retired and not self.busy:
            self.close()

    def alive(self) -> bool:
        self.pump()
        if not self.gone and self.proc.poll() is not None:
            self.pump(1.0)  # its last words, then the end of the pipe
        return not self.gone

    def close(self) -> None:
        """Close our end: the zygote exits; runs it forked carry on and record themselves."""
        self.gone = True
        self._closer()

    def _on(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "ready":
            self.ready = True
        elif kind == "failed":
            log.error("the zygote could not load %s: %s", self.config_path, event["error"])
        elif kind == "exit":
            self.exits[event["pid"]] = event["code"]
            self.outstanding.discard(event["pid"])
        else:  # started or refused
            if kind == "started":
                self.outstanding.add(event["pid"])
            self._asked.pop(event["run_id"], None)
            self._answers[event["run_id"]] = event

    @property
    def busy(self) -> bool:
        """Whether it still owes answers or exit codes (a retired zygote is closed once it does not)."""
        return bool(self.outstanding or self._asked)

    def _lost(self) -> None:
        if not self.gone:
            log.warning(
                "the zygote (pid %d) exited; %d run(s) it started carry on", self.proc.pid, len(self.outstanding)
            )
        self.close()


def _shut(proc: subprocess.Popen[bytes], requests_fd: int, replies_fd: int) -> None:
    os.close(requests_fd)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    os.close(replies_fd)


class ForkedRun:
    """A run handed to a zygote, as the scheduler sees it (a ``Handle``).

    The launch does not wait for the fork: the child's pid is read when the handle is first used. If the
    zygote refuses or dies before answering, the run starts then as a plain worker, which the handle
    stands for from then on.
    """

    def __init__(self, zygote: Zygote, record: RunRecord, config: Config):
        self.zygote, self.record, self.config = zygote, record, config
        self.pid: int | None = None
        self.code: int | None = None
        self.fallback: Handle | None = None

    def resolve(self, timeout: float = 0.0) -> bool:
        """Learn the child's pid, or start the plain worker; False while the zygote has not answered."""
        if self.pid is not None or self.fallback is not None:
            return True
        try:
            self.pid = self.zygote.answer(self.record.id, timeout)
        except ZygoteError as exc:
            log.warning("run %s: the zygote could not start it (%s); starting a plain worker", self.record.id, exc)
            from opskit.engine.daemon import process_launcher

            self.fallback = process_launcher(self.record, self.config)
        return self.pid is not None or self.fallback is not None

    def poll(self) -> int | None:
        if self.code is not None or not self.resolve():
            return self.code
        if self.fallback is not None:
            return self.fallback.poll()
        assert self.pid is not None
        self.zygote.pump()
        if self.pid in self.zygote.exits:
            self.code = self.zygote.exits.pop(self.pid)
        elif self.zygote.gone and not _running(self.pid):
            self.code = UNKNOWN_EXIT  # an orphan that ended, reaped by init: its code is lost
        return self.code

    def kill(self) -> None:
        """Kill the run's whole tree, then wait (a few seconds at most) for its exit to be reported."""
        from opskit.engine.executor import kill_tree

        self.resolve(REPLY_TIMEOUT_S)
        if self.fallback is not None:
            self.fallback.kill()
            return
        if self.pid is None:
            return
        if self.poll() is None:
            kill_tree(self.pid)
            try:  # what left the tree but stayed in the run's session (a daemonised helper)
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + 5.0
        while self.poll() is None and time.monotonic() < deadline:
            if self.zygote.gone:
                threading.Event().wait(0.05)
            else:
                self.zygote.pump(0.05)

    def terminate(self) -> None:
        """SIGTERM to the run's process group: the run records itself as terminated."""
        self.resolve(REPLY_TIMEOUT_S)
        if self.fallback is not None:
            self.fallback.terminate()
        elif self.pid is not None and self.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass


def _running(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


class ZygoteLauncher:
    """The scheduler's default launcher: runs forked by a zygote, a plain worker process as the fallback.

    The zygote starts with ``restart(config)`` (the scheduler calls it when it applies a config) or at
    the first launch, and is replaced when it died. ``close()`` ends it.
    """

    def __init__(self) -> None:
        self.zygote: Zygote | None = None
        self._retired: list[Zygote] = []
        self._no_zygote_until = 0.0

    def __call__(self, record: RunRecord, config: Config) -> Handle:
        zygote = self._current(config.path)
        if zygote is not None:
            try:
                zygote.request(record.id)
                return ForkedRun(zygote, record, config)
            except ZygoteError as exc:
                log.warning("run %s: the zygote could not start it (%s); starting a plain worker", record.id, exc)
        from opskit.engine.daemon import process_launcher

        return process_launcher(record, config)

    def restart(self, config: Config) -> None:
        """A zygote for ``config``; the previous one still reports its runs' exits, then exits."""
        self._retire()
        self._no_zygote_until = 0.0
        self._spawn(config.path)

    def close(self) -> None:
        for zygote in [*self._retired, *([self.zygote] if self.zygote else [])]:
            zygote.close()
        self.zygote, self._retired = None, []

    def _current(self, config_path: Path) -> Zygote | None:
        zygote = self.zygote
        if zygote is not None and (zygote.config_path != config_path or not zygote.alive()):
            if zygote.gone and not zygote.ready:  # it could not load: not again at every launch
                self._no_zygote_until = time.monotonic() + RESPAWN_BACKOFF_S
            self._retire()
        if self.zygote is None and time.monotonic() >= self._no_zygote_until:
            self._spawn(config_path)
        return self.zygote

    def _spawn(self, config_path: Path) -> None:
        try:
            self.zygote = Zygote(config_path)
        except OSError as exc:
            log.error("could not start the zygote (%s); runs start as plain workers", exc)
            self._no_zygote_until = time.monotonic() + RESPAWN_BACKOFF_S

    def _retire(self) -> None:
        self._retired = [z for z in self._retired if not z.gone]
        if self.zygote is not None:
            self.zygote.retired = True
            if self.zygote.busy and not self.zygote.gone:
                self._retired.append(self.zygote)
            else:
                self.zygote.close()
        self.zygote = None


if __name__ == "__main__":
    sys.exit(main())
