"""config.yaml: the analysts' file of jobs, sources and delivery, validated when it loads.

Errors point at ``file:line`` through the YAML node marks, unknown keys get a "did you mean" hint, and
``${VAR}`` / ``${VAR:-default}`` are filled from the environment and a ``.env`` file beside the config.
Everything is checked when the config loads, never at 02:00 when a job fires.
"""

from __future__ import annotations

import base64
import os
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError, model_validator

from opskit.config.browser import BrowserSettings, WarmBrowserSettings
from opskit.config.chat import WebhookSettings
from opskit.config.email import EmailSettings, JobEmail
from opskit.config.executor import QUEUE_NAME, ExecutorSettings, as_executor
from opskit.config.file import DEFAULT_PATHS, default_config_path, read_config_file, where_in  # noqa: F401
from opskit.config.gates import Gates
from opskit.config.types import POSITIVE, Duration, Strict, Timezone
from opskit.config.urls import shown_url, split_url
from opskit.config.vendors import VendorReports
from opskit.config.web import WebSettings
from opskit.errors import ConfigError, did_you_mean

_JOB_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class Paths(Strict):
    """Where opskit keeps its state, relative to the config file's folder."""

    var: Path = Path(DEFAULT_PATHS["var"])
    runs: Path | None = None  # default: <var>/runs
    data: Path = Path(DEFAULT_PATHS["data"])
    tasks: Path = Path(DEFAULT_PATHS["tasks"])
    data_roots: list[Path] | None = None
    """Where file-path parameters (``DataPath``) may point; default: the data folder alone."""


class Defaults(Strict):
    """Settings every job inherits unless it sets its own."""

    timeout: Duration = Field(timedelta(minutes=30), ge=POSITIVE)
    retries: int = Field(0, ge=0, le=10)
    retry_backoff: Duration = timedelta(minutes=1)
    retry_killed: bool = True
    """Retry a run whose process was killed from outside (out of memory, kill -9): an infrastructure failure."""


class Retention(Strict):
    """How long run folders (logs, artifacts) are kept; history rows are never pruned."""

    run_folders: Duration = timedelta(days=30)


class SourceConfig(Strict):
    """An internal tool or API that tasks read from. Credentials are named by env variable, never inlined."""

    url: str
    description: str = ""
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    timeout: Duration = timedelta(seconds=15)
    verify_tls: bool = True
    browser: BrowserSettings = Field(default_factory=BrowserSettings)

    def env_names(self) -> list[str]:
        return [n for n in (self.username_env, self.password_env, self.token_env) if n]


class CalendarConfig(Strict):
    """An operations calendar: a market's public holidays plus extra dates, for skipping slots."""

    market: str | None = None
    subdiv: str | None = None
    holidays: list[date] = Field(default_factory=list)
    skip_holidays: bool = True


class StepConfig(Strict):
    """One step of a job that chains tasks: collect, transform, deliver."""

    task: str
    name: str | None = None
    """How later steps and messages refer to it; default: the task's name."""
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.task


class JobConfig(Strict):
    """A task (or a chain of ``steps``) plus when it runs, with which parameters, and how."""

    task: str | None = None
    steps: list[StepConfig] | None = None
    report_step: str | None = None
    """With steps: the step whose summary (KPIs, targets, period) the email and documents show;
    the other steps add what it lacks. Default: the last step to give each key."""
    description: str = ""
    group: str | list[str] | None = None
    """Who may see the job in the web app: users of this group (or of one of these groups), and admins.
    A job without a group is seen by admins only."""
    schedule: str | None = None
    timezone: Timezone | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    timeout: Duration | None = Field(None, ge=POSITIVE)
    retries: int | None = Field(None, ge=0, le=10)
    retry_backoff: Duration | None = None
    retry_killed: bool | None = None
    """Whether ``retries`` also covers a run killed by the OS (out of memory, kill -9); default: yes."""
    env: list[str] = Field(default_factory=list)
    queue: str | None = None
    """With ``executor: celery``: the workers' queue its runs go to (default: ``browser`` for a job whose
    tasks use the browser, else ``default``)."""
    # scheduling
    calendar: CalendarConfig | None = None
    jitter: Duration = timedelta(0)
    overlap: Literal["skip", "queue"] = "skip"
    catch_up: Literal["latest", "all", "none"] = "latest"
    misfire_grace: Duration | None = None
    max_age: Duration | None = None
    # delivery
    email: JobEmail | None = None
    gates: Gates | None = None

    @model_validator(mode="after")
    def _task_or_steps(self) -> JobConfig:
        if self.task is None and self.steps is None:
            raise ValueError("missing required key 'task' (or 'steps', a list of tasks)")
        if self.task is not None and self.steps is not None:
            raise ValueError("give the job either 'task' (one task) or 'steps' (a list of tasks), not both")
        if self.steps is not None:
            if not self.steps:
                raise ValueError("'steps' is empty")
            if self.params:
                raise ValueError("a job with steps takes its parameters per step (steps[].params)")
            labels = [step.label for step in self.steps]
            dup = next((x for x in labels if labels.count(x) > 1), None)
            if dup:
                raise ValueError(f"two steps are called '{dup}': give one a 'name'")
            if self.report_step is not None and self.report_step not in labels:
                hint = did_you_mean(self.report_step, labels) or f"Steps: {', '.join(labels)}"
                raise ValueError(f"report_step '{self.report_step}' is not a step. {hint}")
        elif self.report_step is not None:
            raise ValueError("report_step is for jobs with steps")
        if self.queue is not None and not QUEUE_NAME.match(self.queue):
            raise ValueError(f"queue '{self.queue}' may use only lowercase letters, digits, '.', '-' and '_'")
        for name in self.groups:
            if not _GROUP_NAME.match(name):
                raise ValueError(f"group '{name}' may use only lowercase letters, digits, '.', '-' and '_'")
        return self

    @property
    def groups(self) -> tuple[str, ...]:
        """The job's groups (``group`` as one name or a list)."""
        if self.group is None:
            return ()
        return (self.group,) if isinstance(self.group, str) else tuple(self.group)

    @property
    def step_list(self) -> list[StepConfig]:
        """The job as steps: a single-task job is one step with the job's parameters."""
        if self.steps is not None:
            return self.steps
        return [StepConfig(task=self.task or "", params=self.params)]

    @property
    def task_label(self) -> str:
        """What the history's task column shows: the task, or the chain of step tasks."""
        return self.task if self.task else " > ".join(step.task for step in self.step_list)


class SchedulerSettings(Strict):
    """How the scheduler daemon behaves (``runner.py schedule``)."""

    max_concurrent_runs: int = Field(2, ge=1, le=1000)
    shutdown_grace: Duration = timedelta(seconds=30)
    overrun_factor: float = Field(3.0, gt=1)
    """Alert when a run takes this many times its usual (median) duration."""
    start_deadline: Duration = timedelta(minutes=10)
    """Alert when a due run has not started this long after its slot (all slots busy)."""
    warm_browser: WarmBrowserSettings = WarmBrowserSettings()
    """One browser the scheduler's browser runs share (opskit/browser/warm.py)."""


def _history_target(value: str | None) -> str | None:
    """``history:`` is a SQLite file (a path) or a ``postgresql://USER[:PASS]@HOST[:PORT]/DB`` URL."""
    if value is None or "://" not in value:
        return value
    if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        scheme = value.split("://", 1)[0]
        raise ValueError(f"the history is a SQLite file path or a postgresql:// URL, not {scheme}://")
    parts = split_url(value)
    try:
        port = parts.port if parts is not None else None
    except ValueError:
        port = -1
    if parts is None or not parts.host or port == -1:
        raise ValueError(f"'{shown_url(value)}' is not a PostgreSQL URL (postgresql://USER:PASSWORD@HOST:5432/DB)")
    return value


class Settings(Strict):
    timezone: Timezone = ZoneInfo("UTC")
    history: Annotated[str | None, AfterValidator(_history_target)] = None
    """Where the run history lives: a SQLite file (default ``<var>/history.sqlite``) or a PostgreSQL URL."""
    paths: Paths = Paths()
    defaults: Defaults = Defaults()
    retention: Retention = Retention()
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    email: EmailSettings = Field(default_factory=EmailSettings)
    chat: WebhookSettings | None = None
    scheduler: SchedulerSettings = SchedulerSettings()
    web: WebSettings = WebSettings()
    executor: Annotated[ExecutorSettings, BeforeValidator(as_executor)] = ExecutorSettings()
    """Where the scheduler's runs execute: ``local`` (forked here) or Celery workers (executor.py)."""
    vendor_reports: VendorReports = VendorReports()
    """How vendor daily reports are read (opskit/config/vendors.py, README "Vendor reports")."""
    jobs: dict[str, JobConfig] = Field(default_factory=dict)


@dataclass
class Config:
    """A loaded config.yaml: the validated settings plus where each key was written."""

    path: Path
    settings: Settings
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def var_dir(self) -> Path:
        return self._resolve(self.settings.paths.var)

    @property
    def runs_dir(self) -> Path:
        return self._resolve(self.settings.paths.runs or self.settings.paths.var / "runs")

    @property
    def data_dir(self) -> Path:
        return self._resolve(self.settings.paths.data)

    @property
    def data_roots(self) -> list[Path]:
        """The folders file-path parameters must stay inside (opskit/datapath.py), resolved like every path."""
        roots = self.settings.paths.data_roots
        return [self._resolve(root) for root in roots] if roots else [self.data_dir]

    @property
    def tasks_dir(self) -> Path:
        return self._resolve(self.settings.paths.tasks)

    @property
    def outbox_dir(self) -> Path:
        return self._resolve(self.settings.email.outbox_dir)

    def email_settings(self) -> EmailSettings:
        """``email:`` with its folders resolved against the config's folder (not the cwd), as delivery uses it."""
        settings = self.settings.email
        update: dict[str, Any] = {"outbox_dir": self.outbox_dir}
        for key in ("tls_ca_file", "shared_folder"):
            path = getattr(settings, key)
            if path is not None and not Path(path).is_absolute():
                update[key] = self.root / path
        resolved = settings.model_copy(update=update)
        target = self.history_target
        resolved._shared_history = target if isinstance(target, str) else None  # the outbox's state goes there
        return resolved

    @property
    def history_path(self) -> Path:
        """The SQLite history file (``history:`` when it is a path; else the default, ``<var>/history.sqlite``)."""
        target = self.settings.history
        if target and "://" not in target:
            return self._resolve(Path(target))
        return self.var_dir / "history.sqlite"

    @property
    def history_target(self) -> Path | str:
        """What ``RunStore`` opens: the SQLite file, or the PostgreSQL URL of ``history:`` (password included)."""
        target = self.settings.history
        return target if target and "://" in target else self.history_path

    @property
    def jobs(self) -> dict[str, JobConfig]:
        return self.settings.jobs

    def where(self, *keys: str) -> str:
        """``file:line`` of the deepest of ``keys`` that was written in the file."""
        return where_in(self.lines, self.path.name, keys)

    def job_timezone(self, job: JobConfig | None) -> ZoneInfo:
        return (job.timezone if job and job.timezone else None) or self.settings.timezone

    def _resolve(self, p: Path) -> Path:
        return p if p.is_absolute() else self.root / p


def load_config(path: Path, *, environ: dict[str, str] | None = None) -> Config:
    """Read, interpolate and validate config.yaml.

    Raises:
        ConfigError: the first problem, with ``file:line``; ``.problems`` on the error lists them all.
    """
    problems, config = check_config(path, environ=environ)
    if problems:
        first = problems[0]
        if len(problems) > 1:
            lead = first.hint.rstrip() if first.hint else ""
            first.hint = ((lead + ("" if lead.endswith((".", "?", "!")) else ".") + " ") if lead else "") + (
                f"({len(problems) - 1} more problem(s): run `runner.py validate`)"
            )
        first.problems = problems  # type: ignore[attr-defined]
        raise first
    assert config is not None
    return config


def check_config(path: Path, *, environ: dict[str, str] | None = None) -> tuple[list[ConfigError], Config | None]:
    """Every problem of the file (not only the first), and the config when there are none."""
    try:
        raw = read_config_file(path, environ=environ)
    except ConfigError as exc:
        return [exc], None
    problems = list(raw.problems)
    if problems:
        return problems, None
    name = raw.path.name
    try:
        settings = Settings.model_validate(raw.data)
    except ValidationError as exc:
        return [_config_error(error, raw.lines, name) for error in exc.errors()], None
    config = Config(path=raw.path.resolve(), settings=settings, lines=raw.lines, secrets=raw.secrets)
    for job_name in settings.jobs:
        if not _JOB_NAME.match(job_name):
            problems.append(
                ConfigError(
                    f"job name '{job_name}' may use only lowercase letters, digits, '-' and '_'",
                    where=config.where("jobs", job_name),
                )
            )
    env = environ if environ is not None else os.environ
    for source in settings.sources.values():
        config.secrets.update(env[n] for n in source.env_names() if env.get(n))
        user, password = env.get(source.username_env or ""), env.get(source.password_env or "")
        if user and password:  # a task may send them as HTTP basic auth: the header's base64 is a secret too
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            config.secrets.update({pair, pair.rstrip("=")})
    secret_names = [settings.email.password_env, settings.chat.url_env if settings.chat else None]
    config.secrets.update(env[n] for n in secret_names if n and env.get(n))
    if settings.executor.password:
        config.secrets.add(settings.executor.password)  # the broker's password never reaches a log line
    return problems, (None if problems else config)


def load_vendor_reports(path: Path) -> VendorReports:
    """A settings file with the keys of ``vendor_reports:`` (a task's ``aliases=`` file), validated as the
    section is.

    Raises:
        ConfigError: unreadable, not YAML/JSON, or an unknown key or field, at the file's ``name:line``.
    """
    raw = read_config_file(path, interpolate=False)
    try:
        return VendorReports.model_validate(raw.data)
    except ValidationError as exc:
        raise _config_error(exc.errors()[0], raw.lines, Path(path).name) from None


def _config_error(error: Any, lines: dict[tuple[str, ...], int], filename: str) -> ConfigError:
    loc = tuple(str(p) for p in error["loc"] if p != "[key]")  # a dict key's error: the key's line
    where = where_in(lines, filename, loc)
    dotted = ".".join(loc)
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        return ConfigError(
            f"unknown key '{loc[-1]}' in {'.'.join(loc[:-1]) or 'the top level'}",
            where=where,
            hint=did_you_mean(loc[-1], allowed) or f"Allowed keys: {', '.join(allowed)}",
        )
    if error["type"] == "missing":
        return ConfigError(f"{'.'.join(loc[:-1]) or 'the top level'}: missing required key '{loc[-1]}'", where=where)
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] != "value_error" and not isinstance(value, dict | list):
        message = f"{value!r}: {message[0].lower()}{message[1:]}"
    return ConfigError(f"{dotted}: {message}", where=where)


def _fields_at(loc: tuple[str, ...]) -> list[str]:
    """The keys allowed at a config path, by walking the models (dict values take one key each)."""
    current: Any = Settings
    i = 0
    while i < len(loc):
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(loc[i])
            if info is None:
                return []
            current = _unwrap(info.annotation)
            i += 1
        elif typing.get_origin(current) is dict:
            current = _unwrap(typing.get_args(current)[1])
            i += 1
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return _unwrap(args[0])
    return annotation
