"""``runner.py validate``: every problem of the config at once, not only the first.

Beyond the file's own schema (config.py), each job is checked against the code it runs: the task exists and
imports, its parameters validate against the task's signature, its schedule parses, and the environment
variables it needs are set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opskit.config.model import Config, check_config
from opskit.engine.history import utcnow
from opskit.engine.scheduling import job_timetable
from opskit.errors import ConfigError, OpskitError, did_you_mean
from opskit.tasks import Registry, discover


def validate_all(config_path: Path) -> tuple[list[OpskitError], str]:
    """All problems of the config file and its jobs, and a one-line summary when there are none."""
    problems, config = check_config(config_path)
    if config is None:
        return list(problems), ""
    registry = discover(config.tasks_dir)
    found: list[OpskitError] = []
    for name in config.jobs:
        found.extend(validate_job(config, registry, name))
    summary = f"{len(config.jobs)} job(s), {len(registry.tasks)} task(s)"
    return found, summary


def load_valid_config(config_path: Path) -> Config:
    """The config, when the file and every job in it are valid: what the scheduler starts and reloads with.

    Raises:
        OpskitError: the first problem; with several, its hint counts the others (``validate`` lists them).
    """
    problems, config = check_config(config_path)
    if problems or config is None:
        raise problems[0]
    job_problems, _ = validate_all(config_path)
    if job_problems:
        first = job_problems[0]
        if len(job_problems) > 1:
            first.hint = (
                first.hint + ". " if first.hint else ""
            ) + f"({len(job_problems) - 1} more: run `runner.py validate`)"
        raise first
    return config


def validate_job(config: Config, registry: Registry, name: str) -> list[OpskitError]:
    job = config.jobs[name]
    problems: list[OpskitError] = []
    chained = job.steps is not None
    for i, step in enumerate(job.step_list):
        keys: tuple[str, ...] = ("jobs", name, "steps", str(i)) if chained else ("jobs", name)
        subject = f"job '{name}'" + (f", step '{step.label}'" if chained else "")
        problems.extend(_validate_step(config, registry, job, step, keys, subject))
    if job.schedule:
        problems.extend(_check_schedule(config, name))
    for var in _needed_env(config, name):
        if not os.environ.get(var):
            problems.append(
                ConfigError(
                    f"job '{name}': environment variable {var} is not set",
                    where=config.where("jobs", name, "env"),
                    hint="Set it in the environment or in .env beside config.yaml",
                )
            )
    return problems


def _validate_step(
    config: Config, registry: Registry, job: Any, step: Any, keys: tuple[str, ...], subject: str
) -> list[OpskitError]:
    if step.task not in registry.tasks:
        if step.task in registry.broken:
            return [
                ConfigError(
                    f"{subject}: task '{step.task}' is broken: {registry.broken[step.task]}",
                    where=config.where(*keys, "task"),
                )
            ]
        return [
            ConfigError(
                f"{subject}: unknown task '{step.task}'",
                where=config.where(*keys, "task"),
                hint=did_you_mean(step.task, registry.tasks)
                or f"Known tasks: {', '.join(sorted(registry.tasks)) or 'none'}",
            )
        ]
    spec = registry.tasks[step.task]
    problems: list[OpskitError] = []
    for key in step.params:  # one problem per parameter, each with its own line
        try:
            spec.validate(
                {key: step.params[key]},
                tz=config.job_timezone(job),
                scheduled_for=utcnow(),
                where=config.where(*keys, "params", key),
                subject=subject,
                data_dir=config.data_dir,
                data_roots=config.data_roots,
            )
        except OpskitError as exc:
            if "missing required parameter" not in str(exc):
                problems.append(exc)
    for param in [p.name for p in spec.params if p.required and p.name not in step.params]:
        problems.append(ConfigError(f"{subject}: missing required parameter '{param}'", where=config.where(*keys)))
    return problems


def _check_schedule(config: Config, name: str) -> list[OpskitError]:
    try:
        job_timetable(config, name)
    except ConfigError as exc:
        return [exc]
    return []


def _needed_env(config: Config, name: str) -> list[str]:
    """The job's own ``env`` list plus the credentials of the sources its parameters name."""
    job = config.jobs[name]
    needed = list(job.env)
    names = [step.params["source"] for step in job.step_list if isinstance(step.params.get("source"), str)]
    for source_name in names:
        source = config.settings.sources.get(source_name)
        if source is not None:
            needed.extend(source.env_names())
    return list(dict.fromkeys(needed))
