"""The pre-forked executor: the scheduler's runs are forked by a warm zygote, in milliseconds.

Each run still gets a process (and a session) of its own, forked by the zygote (opskit/engine/zygote.py),
which has the interpreter, the imports, the config and the tasks loaded already: fifty runs due in the same
minute start within a second instead of queueing behind 0.6-0.8 s of start-up each. This module is the
scheduler's end of the zygote's pipe (``Zygote``), the handle of a forked run (``ForkedRun``) and the
executor (``ForkedExecutor``).

Whenever the zygote cannot start a run (it died, refused, or did not answer), the run starts through the
fallback executor instead (a plain ``ProcessExecutor``, handed over by ``make_executor``); a zygote that died
is replaced at the next start.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from opskit.engine.executors.adopted import adopt_local
from opskit.engine.executors.base import EXIT_UNKNOWN, Executor, RunHandle
from opskit.engine.executors.process import child_env
from opskit.engine.executors.proctree import is_running, kill_tree, signal_session
from opskit.engine.snapshot import config_fd
from opskit.engine.zygote import send_message

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.history import RunRecord
    from opskit.engine.planning import PlannedRun

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 30.0
"""How long a start waits for the zygote's answer (a zygote just started loads first, about a second)."""
RESPAWN_BACKOFF_S = 60.0
"""A zygote that died before it was ready is not started again for this long: plain workers meanwhile."""
UNKNOWN_EXIT = EXIT_UNKNOWN
"""What ``poll()`` returns for a run whose zygote died before reporting its exit: the run's own record
stands if it wrote one (the scheduler only fills in a run left unfinished)."""
KILL_REPORT_S = 5.0
"""How long ``ForkedRun.kill`` waits for the zygote to report the killed run's exit."""


class ZygoteError(Exception):
    """The zygote could not start a run: it is gone, it refused, or it did not answer in time."""


class Zygote:
    """The daemon's end of one zygote process: send run ids, read pids and exit codes.

    The zygote loads ``config`` as the daemon holds it in memory (handed over by descriptor, snapshot.py),
    never config.yaml as it is on disk now: one started again while the file is invalid still works.
    """

    def __init__(self, config: Config):
        self.config = config
        self.config_path = config.path
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        snapshot = config_fd(config)
        env = child_env()
        try:
            # Its own session: Ctrl-C in the daemon's terminal is the daemon's to handle.
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "opskit.engine.zygote",
                    "--config",
                    str(config.path),
                    "--config-fd",
                    str(snapshot),
                    "--fds",
                    f"{requests_r},{replies_w}",
                ],
                env=env,
                pass_fds=(requests_r, replies_w, snapshot),
                start_new_session=True,
            )
        except BaseException:
            os.close(requests_w)
            os.close(replies_r)
            raise
        finally:
            os.close(requests_r)
            os.close(replies_w)
            os.close(snapshot)
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
            send_message(self._requests, {"op": "run", "run_id": run_id, "options": options or {}})
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


class ForkedRun(RunHandle):
    """A run handed to a zygote, as the scheduler sees it.

    The start does not wait for the fork: the child's pid is read when the handle is first used. If the
    zygote refuses or dies before answering, the run starts then through the fallback executor, whose
    handle this one stands for from then on.
    """

    def __init__(
        self, zygote: Zygote, record: RunRecord, config: Config, fallback: Executor, options: dict[str, Any] | None
    ):
        self.zygote, self.record, self.config = zygote, record, config
        self.run_id = record.id
        self._fallback_executor, self._options = fallback, options
        self.pid: int | None = None
        self.code: int | None = None
        self.fallback: RunHandle | None = None
        """The fallback executor's handle, once the zygote could not start the run."""

    @property
    def where(self) -> str:
        self.resolve()
        if self.fallback is not None:
            return f"{self.fallback.where} (the zygote could not fork it)"
        if self.pid is None:
            return f"zygote pid {self.zygote.proc.pid} (forking)"
        return f"local pid {self.pid}, forked by zygote pid {self.zygote.proc.pid}"

    def resolve(self, timeout: float = 0.0) -> bool:
        """Learn the child's pid, or start the run through the fallback; False while the zygote has not answered."""
        if self.pid is not None or self.fallback is not None:
            return True
        try:
            self.pid = self.zygote.answer(self.record.id, timeout)
        except ZygoteError as exc:
            log.warning("run %s: the zygote could not start it (%s); starting a plain worker", self.record.id, exc)
            self.fallback = self._fallback_executor.start(self.record, self.config, options=self._options)
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
        elif self.zygote.gone and not is_running(self.pid):
            self.code = UNKNOWN_EXIT  # an orphan that ended, reaped by init: its code is lost
        return self.code

    def kill(self) -> None:
        """Kill the run's whole tree, then wait (a few seconds at most) for its exit to be reported."""
        self.resolve(REPLY_TIMEOUT_S)
        if self.fallback is not None:
            self.fallback.kill()
            return
        if self.pid is None:
            return
        if self.poll() is None:
            kill_tree(self.pid)
            signal_session(self.pid, signal.SIGKILL)  # what left the tree but stayed in the run's session
        deadline = time.monotonic() + KILL_REPORT_S
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
            signal_session(self.pid, signal.SIGTERM)


class ForkedExecutor(Executor):
    """The scheduler's executor: runs forked by a zygote, started through ``fallback`` when it cannot.

    The zygote starts with ``reload(config)`` (the scheduler calls it when it applies a config) or at the
    first start, and is replaced when it died. ``close()`` ends it (and closes the fallback).

    Args:
        fallback: Starts the runs the zygote cannot (``make_executor`` gives a ``ProcessExecutor``).
        hook: Adds options to every run (``run_options()``) and is closed with the executor: the
            scheduler's warm browser (executors/warm.py).
    """

    def __init__(self, fallback: Executor, *, hook: Any = None) -> None:
        self.fallback = fallback
        self.hook = hook
        self.zygote: Zygote | None = None
        self._retired: list[Zygote] = []
        self._no_zygote_until = 0.0

    def start(
        self,
        record: RunRecord,
        config: Config,
        *,
        options: dict[str, Any] | None = None,
        plan: PlannedRun | None = None,
    ) -> RunHandle:
        if self.hook is not None:
            options = {**self.hook.run_options(), **(options or {})}
        zygote = self._current(config)
        if zygote is not None:
            try:
                zygote.request(record.id, options)
                return ForkedRun(zygote, record, config, self.fallback, options)
            except ZygoteError as exc:
                log.warning("run %s: the zygote could not start it (%s); starting a plain worker", record.id, exc)
        return self.fallback.start(record, config, options=options)

    def adopt(self, record: RunRecord) -> RunHandle | None:
        return adopt_local(record)

    def reload(self, config: Config) -> None:
        """A zygote for ``config``; the previous one still reports its runs' exits, then exits."""
        self._retire()
        self._no_zygote_until = 0.0
        self._spawn(config)

    def close(self) -> None:
        for zygote in [*self._retired, *([self.zygote] if self.zygote else [])]:
            zygote.close()
        self.zygote, self._retired = None, []
        self.fallback.close()
        if self.hook is not None:
            self.hook.close()

    def _current(self, config: Config) -> Zygote | None:
        zygote = self.zygote
        if zygote is not None and (zygote.config_path != config.path or not zygote.alive()):
            if zygote.gone and not zygote.ready:  # it could not load: not again at every start
                self._no_zygote_until = time.monotonic() + RESPAWN_BACKOFF_S
            self._retire()
        if self.zygote is None and time.monotonic() >= self._no_zygote_until:
            self._spawn(config)
        return self.zygote

    def _spawn(self, config: Config) -> None:
        try:
            self.zygote = Zygote(config)
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
