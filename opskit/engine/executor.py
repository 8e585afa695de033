"""How a run executes: validated up front, then in a child process with a timeout, retried with backoff.

This is the one place that decides where a run executes. Each attempt runs in its own child process
(``python -m opskit.engine.worker``), so a task that crashes, hangs or eats memory cannot take the caller down, and a
timeout kills the whole process tree, browsers included. Running on a distributed task queue later is a new
executor, not a rewrite.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opskit.config.model import Config, JobConfig
from opskit.engine.history import RunRecord, RunStatus, RunStore, Trigger, utcnow
from opskit.errors import ParamError, UsageError, did_you_mean
from opskit.period import Period
from opskit.tasks import Registry, TaskSpec

log = logging.getLogger(__name__)

INTERRUPT_GRACE_S = 10.0


@dataclass(frozen=True)
class PlannedStep:
    """One task of a run with its validated parameters (a single-task job has one step)."""

    name: str
    spec: TaskSpec
    params: dict[str, Any]


@dataclass(frozen=True)
class PlannedRun:
    """A run that has passed validation: what would execute, with which values, under which limits."""

    job: str | None
    steps: tuple[PlannedStep, ...]
    scheduled_for: datetime
    tz: ZoneInfo
    timeout: timedelta
    retries: int
    retry_backoff: timedelta
    chained: bool = False
    """True for a job with ``steps``: its parameters are stored per step."""

    @property
    def name(self) -> str:
        return self.job or self.steps[0].spec.name

    @property
    def spec(self) -> TaskSpec:
        return self.steps[0].spec

    @property
    def params(self) -> dict[str, Any]:
        return self.steps[0].params

    @property
    def task_label(self) -> str:
        return " > ".join(step.spec.name for step in self.steps)

    def params_json(self) -> dict[str, Any]:
        """Parameters as stored in the history: flat for one task, per step for a chain."""
        if not self.chained:
            return {k: jsonable(v) for k, v in self.params.items()}
        return {step.name: {k: jsonable(v) for k, v in step.params.items()} for step in self.steps}


def plan_run(
    config: Config,
    registry: Registry,
    name: str,
    *,
    overrides: dict[str, Any] | None = None,
    scheduled_for: datetime | None = None,
) -> PlannedRun:
    """Resolve NAME (a job, else a task), merge parameters, and validate everything.

    For a job with steps, ``--param step.key=value`` sets one step's parameter and ``--param key=value``
    sets it in every step that has it.

    Raises:
        UsageError: unknown job or task. ParamError: a bad or unknown parameter.
    """
    overrides = overrides or {}
    scheduled_for = scheduled_for or utcnow()
    job: JobConfig | None = config.jobs.get(name)
    if job is None and name not in registry.tasks and name not in registry.broken:
        choices = [*config.jobs, *registry.tasks]
        raise UsageError(
            f"unknown job or task '{name}'", hint=did_you_mean(name, choices) or "List them with `runner.py list`"
        )
    tz = config.job_timezone(job)
    steps: list[PlannedStep] = []
    if job is None:
        spec = registry.get(name)
        params = spec.validate(dict(overrides), tz=tz, scheduled_for=scheduled_for, subject=f"task '{name}'")
        steps.append(PlannedStep(spec.name, spec, params))
    else:
        step_configs = job.step_list
        specs = [registry.get(step.task) for step in step_configs]
        per_step = _split_overrides(name, overrides, step_configs, specs, chained=job.steps is not None)
        for i, (step, spec) in enumerate(zip(step_configs, specs, strict=True)):
            keys = ("jobs", name, "steps", str(i), "params") if job.steps is not None else ("jobs", name, "params")
            subject = f"job '{name}'" + (f", step '{step.label}'" if job.steps is not None else "")
            raw = {**step.params, **per_step[i]}
            where = config.where(*keys) if not per_step[i] else None
            params = spec.validate(raw, tz=tz, scheduled_for=scheduled_for, where=where, subject=subject)
            steps.append(PlannedStep(step.label, spec, params))
    defaults = config.settings.defaults
    return PlannedRun(
        job=name if job is not None else None,
        steps=tuple(steps),
        scheduled_for=scheduled_for,
        tz=tz,
        timeout=_first(job and job.timeout, defaults.timeout),
        retries=_first(job and job.retries, defaults.retries),
        retry_backoff=_first(job and job.retry_backoff, defaults.retry_backoff),
        chained=bool(job and job.steps is not None),
    )


def _split_overrides(
    job: str, overrides: dict[str, Any], steps: list[Any], specs: list[TaskSpec], *, chained: bool
) -> list[dict[str, Any]]:
    """Which step each ``--param`` belongs to."""
    per_step: list[dict[str, Any]] = [{} for _ in steps]
    if not chained:
        per_step[0] = dict(overrides)
        return per_step
    labels = [step.label for step in steps]
    for key, value in overrides.items():
        step_name, dot, param = key.rpartition(".")
        if dot:
            if step_name not in labels:
                raise ParamError(
                    f"job '{job}' has no step '{step_name}'",
                    hint=did_you_mean(step_name, labels) or f"Steps: {', '.join(labels)}",
                )
            per_step[labels.index(step_name)][param] = value
            continue
        targets = [i for i, spec in enumerate(specs) if any(p.name == key for p in spec.params)]
        if not targets:
            known = sorted({p.name for spec in specs for p in spec.params})
            raise ParamError(
                f"job '{job}': no step has a parameter '{key}'",
                hint=did_you_mean(key, known) or f"Parameters: {', '.join(known)}",
            )
        for i in targets:
            per_step[i][key] = value
    return per_step


def execute(
    plan: PlannedRun,
    config: Config,
    store: RunStore,
    *,
    trigger: Trigger = Trigger.MANUAL,
    options: dict[str, Any] | None = None,
    new_session: bool = False,
) -> RunRecord:
    """Run every attempt of ``plan`` and return the last attempt's record.

    A failed attempt is retried (a new history row, trigger ``retry``) when attempts are left and the error
    is worth retrying; bad data and bad parameters are not.
    """
    attempt = 1
    while True:
        record = store.create(
            job=plan.job,
            task=plan.task_label,
            params=plan.params_json(),
            trigger=trigger if attempt == 1 else Trigger.RETRY,
            attempt=attempt,
            scheduled_for=plan.scheduled_for,
            folder_root=config.runs_dir,
        )
        record = run_attempt(record, config, store, timeout=plan.timeout, options=options, new_session=new_session)
        if not should_retry(record, attempt, plan.retries):
            from opskit.delivery.pipeline import after_run

            after_run(config, store, record)
            prune_old_runs(config, store)
            return store.get(record.id)
        delay = backoff_delay(plan.retry_backoff, attempt)
        log.info("run %s %s; retry %d of %d in %.0fs", record.id, record.status, attempt, plan.retries, delay)
        time.sleep(delay)
        attempt += 1


def prune_old_runs(config: Config, store: RunStore, now: datetime | None = None) -> None:
    """Delete run folders older than ``retention.run_folders``; the history rows stay."""
    for folder in store.prune_run_folders(config.settings.retention.run_folders, now=now):
        log.info("deleted run folder %s (older than retention.run_folders)", folder.name)


def _first(value: Any, default: Any) -> Any:
    """The job's own setting when it has one (0 and 0s are settings too), else the default."""
    return default if value is None else value


def backoff_delay(base: timedelta, attempt: int) -> float:
    """Exponential backoff with full jitter: base·2^(attempt-1), scaled by a random factor in [0.5, 1]."""
    return base.total_seconds() * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


@dataclass
class Attempt:
    """One history row executing in its own child process, with the deadline of its timeout."""

    run_id: str
    job: str | None
    proc: subprocess.Popen[bytes]
    started: float
    deadline: float

    def poll(self) -> int | None:
        return self.proc.poll()


def start_attempt(
    record: RunRecord,
    config: Config,
    *,
    timeout: timedelta,
    options: dict[str, Any] | None = None,
    new_session: bool = False,
) -> Attempt:
    """Start executing ``record`` in a child process (``python -m opskit.engine.worker``); returns at once."""
    Path(record.folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    env = dict(os.environ, OPSKIT_RUN_OPTIONS=json.dumps(options or {}))
    # The worker imports opskit from wherever this process did, whatever the current folder is.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "opskit.engine.worker", "--config", str(config.path), record.id]
    proc = subprocess.Popen(cmd, env=env, start_new_session=new_session)
    now = time.monotonic()
    return Attempt(record.id, record.job, proc, now, now + timeout.total_seconds())


def finish_attempt(attempt: Attempt, store: RunStore) -> RunRecord:
    """Record what the worker could not (it died without a word) once its process has exited."""
    if attempt.proc.returncode not in (0, None):
        store.finish(
            attempt.run_id,
            RunStatus.FAILED,
            only_if_unfinished=True,
            error=f"the run's process exited with code {attempt.proc.returncode} without recording a result",
        )
    return store.get(attempt.run_id)


def time_out_attempt(attempt: Attempt, store: RunStore, timeout: timedelta) -> None:
    """Kill an attempt past its deadline; recorded first, so the dying worker cannot overwrite it."""
    store.finish(
        attempt.run_id,
        RunStatus.TIMED_OUT,
        only_if_unfinished=True,
        error=f"timed out after {_human(timeout)}; its processes were killed",
    )
    kill_tree(attempt.proc.pid)
    attempt.proc.wait()


def run_attempt(
    record: RunRecord,
    config: Config,
    store: RunStore,
    *,
    timeout: timedelta,
    options: dict[str, Any] | None = None,
    new_session: bool = False,
) -> RunRecord:
    """Execute one history row in a child process and wait for it, within ``timeout``."""
    attempt = start_attempt(record, config, timeout=timeout, options=options, new_session=new_session)
    try:
        attempt.proc.wait(timeout=max(0.0, attempt.deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        time_out_attempt(attempt, store, timeout)
    except KeyboardInterrupt:
        # Ctrl-C reaches the child too (same process group): give it time to record "interrupted".
        try:
            attempt.proc.wait(timeout=INTERRUPT_GRACE_S)
        except subprocess.TimeoutExpired:
            kill_tree(attempt.proc.pid)
            attempt.proc.wait()
        store.finish(record.id, RunStatus.FAILED, error="interrupted (Ctrl-C)", only_if_unfinished=True)
        raise
    return finish_attempt(attempt, store)


def should_retry(record: RunRecord, attempt: int, retries: int) -> bool:
    """Whether a finished attempt earns another: it failed for a reason worth retrying, attempts left."""
    if record.status in (RunStatus.SUCCEEDED, RunStatus.ABANDONED, RunStatus.SKIPPED):
        return False
    if (record.error or "").startswith(("interrupted", "terminated")):
        return False
    retryable = (record.result or {}).get("retryable", record.status == RunStatus.TIMED_OUT)
    return bool(retryable) and attempt <= retries


def kill_tree(pid: int, *, grace: float = 3.0) -> None:
    """Terminate a process and all its descendants (browsers included), then kill what is left."""
    import psutil

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


def jsonable(value: Any) -> Any:
    """Parameter values as they are stored in the history and shown by `show`."""
    if isinstance(value, Period):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"
