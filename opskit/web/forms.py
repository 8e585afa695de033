"""The "Run now" form, generated from the task's typed signature, and the checks on what comes back.

Each parameter becomes a field by its type: a ``Period`` is a choice of presets plus a date range, a
``Literal`` or an enum a select, a bool a yes/no select, numbers number inputs, a date a date input,
``tuple[str, ...]`` a comma-separated list, anything else text. A field left at "the job's value" sends
nothing, so the job's own parameters apply. What the form sends is turned into the same ``--param``
strings the command line takes (``step.key`` for a step of a chain) and validated by the same code
(``plan_run``); values from the web are untrusted, so before that every string is checked here: no
control characters, no paths that leave the project (absolute, ``~``, or a ``..`` segment), bounded size.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from opskit.config.model import JobConfig
from opskit.errors import ParamError
from opskit.period import Period
from opskit.tasks import MISSING, ParamSpec, Registry, type_label

PERIOD_PRESETS = (
    ("yesterday", "Yesterday"),
    ("today", "Today"),
    ("last_week", "Last week"),
    ("this_week", "This week"),
    ("last_7_days", "Last 7 days"),
    ("last_4_weeks", "Last 4 weeks"),
    ("last_month", "Last month"),
    ("this_month", "This month"),
)
CUSTOM = "__range__"
MAX_VALUE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class Field:
    """One input of the form."""

    key: str
    """The --param key: ``name``, or ``step.name`` in a job with steps."""
    name: str
    kind: str
    """period, select, bool, int, float, date, list, text"""
    label: str
    help: str
    current: str
    """The job's value (or the task's default), as text, shown as what applies when left alone."""
    choices: list[tuple[str, str]] = field(default_factory=list)
    required: bool = False
    optional: bool = False
    type_label: str = ""

    @property
    def input_name(self) -> str:
        return "p." + self.key


@dataclass
class StepForm:
    name: str
    task: str
    description: str
    fields: list[Field]


def job_form(job_name: str, job: JobConfig, registry: Registry) -> list[StepForm]:
    """The form of a job: one section per step (one for a single-task job)."""
    chained = job.steps is not None
    forms = []
    for step in job.step_list:
        spec = registry.tasks.get(step.task)
        if spec is None:
            forms.append(StepForm(step.label, step.task, registry.broken.get(step.task, "unknown task"), []))
            continue
        prefix = f"{step.label}." if chained else ""
        fields = [_field(prefix + p.name, p, step.params.get(p.name, p.default)) for p in spec.params]
        forms.append(StepForm(step.label, spec.name, spec.description, fields))
    return forms


def _field(key: str, param: ParamSpec, value: Any) -> Field:
    annotation, optional = _unwrap_optional(param.annotation)
    origin = typing.get_origin(annotation)
    f = Field(
        key=key,
        name=param.name,
        kind="text",
        label=param.name.replace("_", " "),
        help=param.help,
        current=_text(value),
        required=param.required,
        optional=optional,
        type_label=type_label(param.annotation),
    )
    if annotation is Period:
        f.kind = "period"
        f.choices = list(PERIOD_PRESETS)
    elif origin is typing.Literal:
        f.kind, f.choices = "select", [(str(a), str(a)) for a in typing.get_args(annotation)]
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        f.kind, f.choices = "select", [(str(m.value), str(m.value)) for m in annotation]
    elif annotation is bool:
        f.kind, f.choices = "bool", [("true", "yes"), ("false", "no")]
    elif annotation is int:
        f.kind = "int"
    elif annotation is float:
        f.kind = "float"
    elif annotation is date:
        f.kind = "date"
    elif origin in (tuple, list, set, frozenset):
        f.kind = "list"
    return f


def overrides_from_form(form: Any, steps: list[StepForm]) -> dict[str, str]:
    """The ``--param`` strings the form asks for: only fields the user set, each checked as untrusted."""
    overrides: dict[str, str] = {}
    for step in steps:
        for f in step.fields:
            value = (form.get(f.input_name) or "").strip()
            if f.kind == "period" and value == CUSTOM:
                start = (form.get(f.input_name + ".from") or "").strip()
                end = (form.get(f.input_name + ".to") or "").strip()
                if not start or not end:
                    raise ParamError(f"parameter '{f.key}': a date range needs both a first and a last day")
                value = start if start == end else f"{start}..{end}"
            if value:
                overrides[f.key] = value
    check_untrusted(overrides)
    return overrides


def check_untrusted(values: dict[str, Any]) -> None:
    """Refuse what a web user must not pass to a task, before the task's own validation.

    Raises:
        ParamError: naming the parameter: a control character, an over-long value, or a path that leaves
            the project's folders (absolute, ``~``, a drive letter, or a ``..`` segment).
    """
    for key, value in values.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", key):
            raise ParamError(f"'{str(key)[:100]}' is not a parameter name")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool | int | float) or item is None:
                continue
            if not isinstance(item, str):
                raise ParamError(f"parameter '{key}': give text, a number, true/false or a list of those")
            if len(item) > MAX_VALUE:
                raise ParamError(f"parameter '{key}': the value is longer than {MAX_VALUE} characters")
            if _CONTROL.search(item):
                raise ParamError(f"parameter '{key}': the value holds a control character")
            if _leaves_project(item):
                raise ParamError(
                    f"parameter '{key}': '{item[:200]}' points outside the project's folders",
                    hint="From the web, paths are relative to the data folder, without '..'",
                )


def _leaves_project(text: str) -> bool:
    stripped = text.strip()
    if stripped.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:[\\/]", stripped):
        return True
    return any(part == ".." for part in re.split(r"[\\/]", stripped))


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return inner[0], len(inner) < len(typing.get_args(annotation))
    return annotation, False


def _text(value: Any) -> str:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)
