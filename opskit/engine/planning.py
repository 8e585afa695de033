"""Planning a run: resolve a job or a task, merge its parameters, and validate everything up front.

A ``PlannedRun`` is what would execute, with which values, under which limits (timeout, retries). Both the
scheduler and ``runner.py run`` plan first, so a bad parameter is reported before anything starts, and the
parameters stored in the history (``params_json``) are the validated values a worker reads back.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opskit.config.model import Config, JobConfig
from opskit.engine.history import utcnow
from opskit.errors import ParamError, UsageError, did_you_mean
from opskit.period import Period
from opskit.redact import Redactor
from opskit.tasks import Registry, TaskSpec


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
    retry_killed: bool = True
    """Whether ``retries`` covers a run whose process was killed from outside (out of memory, kill -9)."""
    queue: str = "default"
    """The workers' queue the run goes to with ``executor: celery``: the job's ``queue``, else ``browser``
    when one of its tasks uses the browser, else ``default``."""

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
        params = spec.validate(
            dict(overrides), tz=tz, scheduled_for=scheduled_for, subject=f"task '{name}'", **data_context(config)
        )
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
            params = spec.validate(
                raw, tz=tz, scheduled_for=scheduled_for, where=where, subject=subject, **data_context(config)
            )
            steps.append(PlannedStep(step.label, spec, params))
    _refuse_secrets(config, name, steps, chained=bool(job and job.steps is not None))
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
        retry_killed=_first(job and job.retry_killed, defaults.retry_killed),
        queue=(job.queue if job is not None and job.queue else None)
        or ("browser" if any(step.spec.uses_browser for step in steps) else "default"),
    )


def data_context(config: Config) -> dict[str, Any]:
    """What confines ``DataPath`` parameters (opskit/datapath.py): the data folder and the data roots."""
    return {"data_dir": config.data_dir, "data_roots": config.data_roots}


def _refuse_secrets(config: Config, name: str, steps: list[PlannedStep], *, chained: bool) -> None:
    """Parameters are stored in the run history and shown by ``show``: a value holding a secret of the config
    (in any form) is refused, as config.yaml refuses ``${SECRET}`` in ``params:``.

    Raises:
        ParamError: naming the parameter, never the value.
    """
    if not config.secrets:
        return
    redactor = Redactor(config.secrets)
    for step in steps:
        for key, value in step.params.items():
            text = json.dumps(jsonable(value), default=str, ensure_ascii=False)
            if redactor.redact(text) != text:
                where = f"step '{step.name}', " if chained else ""
                raise ParamError(
                    f"'{name}', {where}parameter '{key}': the value holds a secret, and parameters are stored in "
                    "the run history",
                    hint="Pass the variable's name instead and read it in the task with ctx.secret(NAME)",
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


def _first(value: Any, default: Any) -> Any:
    """The job's own setting when it has one (0 and 0s are settings too), else the default."""
    return default if value is None else value


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
