"""The child process that executes one run: ``python -m opskit.engine.worker --config PATH RUN_ID``.

It reads the run's row, validates the parameters again (the row holds explicit values, so the result is the
same as at planning time), runs the task with a RunContext, and records the outcome. A traceback goes to
the run's log file; the console shows the one-line cause.

``main`` is ``load`` (the config) then ``execute`` (the run). The scheduler's zygote (opskit/engine/zygote.py) calls
the halves apart: ``load`` once, then ``execute`` in a forked child per run, with the tasks already found.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.config.model import Config, load_config
from opskit.context import LOG_FORMAT, RunContext
from opskit.engine.history import RunStatus, RunStore, patiently
from opskit.engine.owners import process_alive
from opskit.engine.snapshot import read_config
from opskit.errors import OpskitError
from opskit.files import private_dir, private_file, private_umask
from opskit.redact import Redactor
from opskit.result import Result, as_result, merge_results
from opskit.tasks import Registry, discover
from opskit.terminal import PrintableFormatter


class Terminated(BaseException):
    """SIGTERM arrived (the scheduler is stopping or the run timed out): end like Ctrl-C does."""


class _OneLine(PrintableFormatter):
    """Console lines without tracebacks (the full traceback is in the run's log file), nor control characters."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def install_signal_handlers() -> None:
    """SIGTERM ends the run the way Ctrl-C does: recorded as terminated, temporary files removed."""
    signal.signal(signal.SIGTERM, _on_sigterm)


@dataclass(frozen=True)
class Preloaded:
    """What executing a run needs before its row is read: the config, and the tasks if already found."""

    config: Config
    registry: Registry | None = None
    """None: the tasks folder is discovered when the run starts (a plain worker does)."""


def load(config_path: Path, config_fd: int | None = None) -> Preloaded:
    """The config the run executes under (the zygote loads it once for many runs).

    Args:
        config_path: config.yaml, read and validated when no descriptor is given.
        config_fd: A descriptor holding the config its parent runs under (engine/snapshot.py): what the
            scheduler and ``runner.py run`` pass, so the file on disk (edited meanwhile) does not matter.
    """
    if config_fd is not None:
        return Preloaded(read_config(config_fd))
    return Preloaded(load_config(config_path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opskit.engine.worker")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--config-fd", type=int, help="a descriptor holding the parent's config (snapshot.py)")
    parser.add_argument("run_id")
    args = parser.parse_args(argv)
    install_signal_handlers()
    return execute(args.run_id, load(args.config, args.config_fd))


def execute(run_id: str, preloaded: Preloaded) -> int:
    """Run one history row in this process and record its outcome; returns the process's exit code.

    Raises:
        OpskitError: the history or the row cannot be read (before anything is recorded).
    """
    private_umask()  # a file the task writes by hand is owner-only too
    config = preloaded.config
    redactor = Redactor(config.secrets)
    store = RunStore(config.history_target, redactor=redactor)  # knows every ctx.secret value as it is read
    record = store.get(run_id)
    folder = private_dir(record.folder)

    logger = _setup_logging(folder / "run.log", redactor)
    import psutil

    options = json.loads(os.environ.get("OPSKIT_RUN_OPTIONS") or "{}")
    global _patience_s
    # Patient on a Celery worker, and whenever the history is on PostgreSQL (a restart of the server must
    # not lose the result of a run that ended meanwhile); a local run on SQLite gives up at once.
    _patience_s = RECORD_PATIENCE_S if options.get("worker_pid") or store.postgres else 0.0
    started = _patiently(store.mark_running, record.id, pid=os.getpid(), pid_started=psutil.Process().create_time())
    if not started:
        logger.warning(
            "run %s ended before its process started (%s): the task is not run", record.id, store.get(record.id).status
        )
        return 0
    _die_with_celery_worker(options)
    job = config.jobs.get(record.job) if record.job else None
    tz = config.job_timezone(job)
    runner = _StepRunner(config, record, tz, folder, redactor, preloaded.registry)
    try:
        result = runner.run(job, logger)
    except (KeyboardInterrupt, Terminated) as exc:
        reason = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else "terminated (SIGTERM)"
        logger.warning("run %s %s%s", record.id, reason, runner.where)
        runner.cleanup()
        _patiently(
            store.finish,
            record.id,
            RunStatus.FAILED,
            error=reason + runner.where,
            artifacts=_artifacts(folder),
            result={"retryable": False, **runner.partial()},
            only_if_unfinished=True,
        )
        return 130
    except OpskitError as exc:
        message = runner.prefix + redactor.redact(str(exc))
        logger.error("run %s failed: %s", record.id, message, exc_info=exc.__cause__ is not None)
        runner.cleanup()
        _patiently(
            store.finish,
            record.id,
            RunStatus.FAILED,
            error=message,
            artifacts=_artifacts(folder),
            result={"retryable": exc.retryable, "error_type": type(exc).__name__, **runner.partial()},
            only_if_unfinished=True,
        )
        return 0
    except Exception as exc:
        message = runner.prefix + redactor.redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
        logger.exception("run %s failed: %s (traceback in %s)", record.id, message, folder / "run.log")
        runner.cleanup()
        _patiently(
            store.finish,
            record.id,
            RunStatus.FAILED,
            error=message,
            artifacts=_artifacts(folder),
            result={
                "retryable": True,
                "error_type": type(exc).__name__,
                "traceback": redactor.redact(traceback.format_exc())[-4000:],
                **runner.partial(),
            },
            only_if_unfinished=True,
        )
        return 0
    runner.cleanup()
    _patiently(
        store.finish,
        record.id,
        RunStatus.SUCCEEDED,
        result=result,
        artifacts=_artifacts(folder),
        only_if_unfinished=True,
    )  # the parent may have recorded timed_out meanwhile
    logger.info("run %s succeeded", record.id)
    return 0


class _StepRunner:
    """Runs a run's tasks in order (one for a plain job); each step sees the results of the earlier ones."""

    def __init__(
        self, config: Any, record: Any, tz: Any, folder: Path, redactor: Redactor, registry: Registry | None = None
    ):
        self.config, self.record, self.tz, self.folder, self.redactor = config, record, tz, folder, redactor
        self.registry = registry
        self.results: dict[str, Result] = {}
        self.current: tuple[str, str] | None = None  # (step label, task) while a step of a chain runs
        self.chained = False
        self.ctx: RunContext | None = None

    @property
    def prefix(self) -> str:
        """Failure messages of a chain name the step: "step 'report' (efficiency_report) failed: ..."."""
        return f"step '{self.current[0]}' ({self.current[1]}) failed: " if self.chained and self.current else ""

    @property
    def where(self) -> str:
        return f" during step '{self.current[0]}'" if self.chained and self.current else ""

    def run(self, job: Any, logger: logging.Logger) -> dict[str, Any]:
        registry = self.registry if self.registry is not None else discover(self.config.tasks_dir)
        self.chained = job is not None and job.steps is not None
        steps = job.step_list if job is not None else None
        plan = (
            [(s.label, s.task, self.record.params.get(s.label, {})) for s in steps or ()]
            if self.chained
            else [(self.record.task, (steps[0].task if steps else self.record.task), self.record.params)]
        )
        options = json.loads(os.environ.get("OPSKIT_RUN_OPTIONS") or "{}")
        for label, task_name, raw in plan:
            self.current = (label, task_name)
            spec = registry.get(task_name)
            params = spec.validate(
                raw,
                tz=self.tz,
                scheduled_for=self.record.scheduled_for,
                data_dir=self.config.data_dir,
                data_roots=self.config.data_roots,
            )
            self.ctx = RunContext(
                run_id=self.record.id,
                job=self.record.job,
                task=spec.name,
                params=params,
                scheduled_for=self.record.scheduled_for,
                tz=self.tz,
                folder=self.folder,
                data_dir=self.config.data_dir,
                sources=dict(self.config.settings.sources),
                state_dir=self.config.var_dir / "state",
                vendor_reports=self.config.settings.vendor_reports,
                log=logging.getLogger(f"opskit.task.{spec.name}"),
                redactor=self.redactor,
                options=options,
                steps=dict(self.results),
                report_step=job.report_step if self.chained else None,
            )
            what = f"step '{label}' (task {spec.name})" if self.chained else f"task {spec.name}"
            logger.info(
                "run %s: %s starting (scheduled for %s)",
                self.record.id,
                what,
                self.record.scheduled_for.astimezone(self.tz).isoformat(timespec="minutes"),
            )
            self.results[label] = as_result(spec.func(self.ctx, **params))
            self.ctx.cleanup()
        self.current = None
        if not self.chained:
            return next(iter(self.results.values())).to_json()
        return merge_results(self.results, job.report_step)

    def partial(self) -> dict[str, Any]:
        """What the steps that finished produced, kept with a failed chain."""
        if not self.chained or not self.results:
            return {}
        return {"steps": {label: r.to_json() for label, r in self.results.items()}}

    def cleanup(self) -> None:
        if self.ctx is not None:
            self.ctx.cleanup()


RECORD_PATIENCE_S = 300.0
"""On a Celery worker, how long a run keeps trying to record its start or its end while the history cannot
be reached (PostgreSQL restarting) before it gives up and exits 3. A local run gives up at once, as before:
its owner beside it records what it can."""
_patience_s = 0.0


def _patiently(write: Any, *args: Any, **kwargs: Any) -> Any:
    """``write(*args, **kwargs)``, tried again every second while the history is unavailable (on a worker)."""
    return patiently(lambda: write(*args, **kwargs), _patience_s, logging.getLogger("opskit.worker"))


WATCH_EVERY_S = 0.5
"""How often a run on a Celery worker checks that its worker still lives."""


def _die_with_celery_worker(options: dict[str, Any]) -> None:
    """On a Celery worker: end the run's whole process group the moment the worker process is gone.

    A worker killed with ``kill -9`` (or by the out-of-memory killer) cannot stop its runs, and the
    scheduler retries them elsewhere once it sees the worker gone: a run left going would run twice. The
    run leads its own process group (browsers included), so one SIGKILL to the group ends all of it; the
    history keeps the run unfinished, which the scheduler records as a lost worker's run.
    """
    watched = options.get("worker_pid")
    if not watched:
        return
    started = options.get("worker_started")

    def watch() -> None:
        while process_alive(int(watched), started):
            threading.Event().wait(WATCH_EVERY_S)
        if os.getpgid(0) == os.getpid():  # the run leads its group (a worker's runs always do)
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="opskit-worker-watch", daemon=True).start()


def _setup_logging(log_path: Path, redactor: Redactor) -> logging.Logger:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    file_handler = logging.FileHandler(private_file(log_path), encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(_OneLine("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    # urllib3 logs every retry as a warning: useful in the run log, noise on the console.
    console.addFilter(lambda r: not r.name.startswith("urllib3") or r.levelno >= logging.ERROR)
    for handler in (file_handler, console):
        handler.addFilter(redactor)
        root.addHandler(handler)
    return logging.getLogger("opskit.run")


def _artifacts(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OpskitError as exc:  # config or history problems before the task starts
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
