"""The child process that executes one run: ``python -m opskit.worker --config PATH RUN_ID``.

It reads the run's row, validates the parameters again (the row holds explicit values, so the result is the
same as at planning time), runs the task with a RunContext, and records the outcome. A traceback goes to
the run's log file; the console shows the one-line cause.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from opskit.config import load_config
from opskit.context import LOG_FORMAT, Redactor, Result, RunContext
from opskit.errors import OpskitError
from opskit.runs import RunStatus, RunStore
from opskit.tasks import discover


class Terminated(BaseException):
    """SIGTERM arrived (the scheduler is stopping or the run timed out): end like Ctrl-C does."""


class _OneLine(logging.Formatter):
    """Console lines without tracebacks: the full traceback is in the run's log file."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opskit.worker")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("run_id")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)

    config = load_config(args.config)
    store = RunStore(config.history_path)
    record = store.get(args.run_id)
    folder = Path(record.folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    redactor = Redactor(set(config.secrets))
    logger = _setup_logging(folder / "run.log", redactor)
    import psutil

    store.mark_running(record.id, pid=os.getpid(), pid_started=psutil.Process().create_time())
    job = config.jobs.get(record.job) if record.job else None
    tz = config.job_timezone(job)
    ctx: RunContext | None = None
    try:
        spec = discover(config.tasks_dir).get(record.task)
        params = spec.validate(record.params, tz=tz, scheduled_for=record.scheduled_for)
        ctx = RunContext(
            run_id=record.id, job=record.job, task=record.task, params=params,
            scheduled_for=record.scheduled_for, tz=tz, folder=folder, data_dir=config.data_dir,
            sources=dict(config.settings.sources), state_dir=config.var_dir / "state", log=logging.getLogger(f"opskit.task.{record.task}"),
            redactor=redactor, options=json.loads(os.environ.get("OPSKIT_RUN_OPTIONS") or "{}"),
        )
        logger.info("run %s: task %s starting (scheduled for %s)", record.id, record.task,
                    record.scheduled_for.astimezone(tz).isoformat(timespec="minutes"))
        outcome = spec.func(ctx, **params)
        result = _result_json(outcome)
    except (KeyboardInterrupt, Terminated) as exc:
        reason = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else "terminated (SIGTERM)"
        logger.warning("run %s %s", record.id, reason)
        _cleanup(ctx)
        store.finish(record.id, RunStatus.FAILED, error=reason, artifacts=_artifacts(folder),
                     result={"retryable": False}, only_if_unfinished=True)
        return 130
    except OpskitError as exc:
        message = redactor.redact(str(exc))
        logger.error("run %s failed: %s", record.id, message, exc_info=exc.__cause__ is not None)
        _cleanup(ctx)
        store.finish(record.id, RunStatus.FAILED, error=message, artifacts=_artifacts(folder),
                     result={"retryable": exc.retryable, "error_type": type(exc).__name__})
        return 0
    except Exception as exc:
        message = redactor.redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
        logger.error("run %s failed: %s (traceback in %s)", record.id, message, folder / "run.log",
                     exc_info=True)
        _cleanup(ctx)
        store.finish(record.id, RunStatus.FAILED, error=message, artifacts=_artifacts(folder),
                     result={"retryable": True, "error_type": type(exc).__name__,
                             "traceback": redactor.redact(traceback.format_exc())[-4000:]})
        return 0
    _cleanup(ctx)
    store.finish(record.id, RunStatus.SUCCEEDED, result=result, artifacts=_artifacts(folder))
    logger.info("run %s succeeded", record.id)
    return 0


def _setup_logging(log_path: Path, redactor: Redactor) -> logging.Logger:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(_OneLine("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    # urllib3 logs every retry as a warning: useful in the run log, noise on the console.
    console.addFilter(lambda r: not r.name.startswith("urllib3") or r.levelno >= logging.ERROR)
    for handler in (file_handler, console):
        handler.addFilter(redactor)
        root.addHandler(handler)
    os.chmod(log_path, 0o600)
    return logging.getLogger("opskit.run")


def _result_json(outcome: Any) -> dict[str, Any]:
    if isinstance(outcome, Result):
        return outcome.to_json()
    if outcome is None:
        return {"files": [], "rows": None, "summary": {}}
    if isinstance(outcome, dict):
        return {"files": [], "rows": None, "summary": outcome}
    return {"files": [], "rows": None, "summary": {"value": str(outcome)}}


def _artifacts(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _cleanup(ctx: RunContext | None) -> None:
    if ctx is not None:
        ctx.cleanup()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OpskitError as exc:  # config or history problems before the task starts
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
