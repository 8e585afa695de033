"""The plain executor: each run in a fresh child process, ``python -m opskit.engine.worker``.

A task that crashes, hangs or eats memory takes down only its own process, and stopping a run stops its
whole process tree (browsers included). It pays the interpreter and the imports on every run (0.6-0.8 s of
CPU), which is nothing for a run a person waits for; the scheduler uses the pre-forked executor
(forked.py), which falls back to this one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.engine.executors.adopted import adopt_local
from opskit.engine.executors.base import Executor, RunHandle
from opskit.engine.executors.proctree import kill_tree, signal_session
from opskit.engine.snapshot import config_fd
from opskit.files import private_dir

if TYPE_CHECKING:
    from opskit.config.model import Config
    from opskit.engine.history import RunRecord
    from opskit.engine.planning import PlannedRun

PACKAGE_ROOT = Path(__file__).resolve().parents[3]
"""The folder that holds ``opskit/``: child processes import opskit from wherever this process did."""


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child Python, with opskit importable whatever its current folder."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    return env


class ProcessRun(RunHandle):
    """A run executing in a child process of this one."""

    def __init__(self, run_id: str, proc: subprocess.Popen[bytes], *, own_session: bool):
        self.run_id, self.proc, self.own_session = run_id, proc, own_session

    @property
    def where(self) -> str:
        return f"local pid {self.proc.pid}"

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def terminate(self) -> None:
        """SIGTERM to the run (to its whole session when it has one): the worker records "terminated"."""
        if self.own_session:
            signal_session(self.proc.pid, signal.SIGTERM)
        elif self.proc.poll() is None:
            self.proc.terminate()

    def kill(self) -> None:
        kill_tree(self.proc.pid)
        self.proc.wait()


class ProcessExecutor(Executor):
    """Starts each run as ``python -m opskit.engine.worker --config PATH --config-fd N RUN_ID``.

    The worker runs under the config given to ``start`` as it is in memory (snapshot.py), never as the file
    is on disk now: a config.yaml edited into something invalid cannot fail a run the scheduler starts.

    Args:
        own_session: Start the worker in a session of its own, so that signals meant for this process
            (Ctrl-C in the scheduler's terminal) are not its, and stopping it reaches its whole session.
            False in the foreground (``runner.py run``): there the worker stays in the terminal's process
            group, so Ctrl-C reaches it (and the browsers it started) together with runner.py, and the
            worker records "interrupted" itself.
    """

    def __init__(self, *, own_session: bool = True):
        self.own_session = own_session

    def start(
        self,
        record: RunRecord,
        config: Config,
        *,
        options: dict[str, Any] | None = None,
        plan: PlannedRun | None = None,
    ) -> ProcessRun:
        private_dir(record.folder)
        env = child_env(OPSKIT_RUN_OPTIONS=json.dumps(options or {}))
        fd = config_fd(config)
        try:
            cmd = [sys.executable, "-m", "opskit.engine.worker", "--config", str(config.path)]
            cmd += ["--config-fd", str(fd), record.id]
            proc = subprocess.Popen(cmd, env=env, start_new_session=self.own_session, pass_fds=(fd,))
        finally:
            os.close(fd)
        return ProcessRun(record.id, proc, own_session=self.own_session)

    def adopt(self, record: RunRecord) -> RunHandle | None:
        return adopt_local(record)
