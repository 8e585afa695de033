"""The task contract: ``@task`` marks a function, the registry finds it, its signature is its schema.

A task is a function in ``tasks/<name>.py`` with typed keyword-only parameters and a docstring. ``@task`` is
a marker: it records a ``TaskSpec`` and returns the function unchanged, so tests call tasks directly.
The registry imports every module in the tasks folder; a module that fails to import is listed as broken
with its one-line cause, and every other task still works.
"""

from __future__ import annotations

import enum
import importlib.util
import inspect
import re
import sys
import traceback
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from opskit.datapath import DataPath, DataPaths
from opskit.errors import ParamError, UsageError, did_you_mean

MISSING = inspect.Parameter.empty

# While the registry imports a module, @task adds its specs here (one registry is loading at a time).
_collecting: list[TaskSpec] | None = None


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One keyword parameter of a task: its name, type, default and help from the docstring."""

    name: str
    annotation: Any
    default: Any
    help: str

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def type_label(self) -> str:
        return type_label(self.annotation)


@dataclass(frozen=True)
class TaskSpec:
    """What the registry knows of a task, read from its signature and docstring."""

    name: str
    func: Callable[..., Any]
    path: Path
    description: str
    params: tuple[ParamSpec, ...]
    schedule_hint: str | None = None
    uses_browser: bool = False
    """Its runs need a Chromium: with Celery workers they go to the ``browser`` queue (only machines with a
    browser take them). Said by ``@task(uses_browser=True)``, or found in the module's source
    (``ctx.browser(`` or an import of ``opskit.browser``)."""
    _model: list[Any] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        schedule_hint: str | None = None,
        uses_browser: bool | None = None,
    ) -> TaskSpec:
        doc = inspect.getdoc(fn) or ""
        helps = _docstring_args(doc)
        hints = typing.get_type_hints(fn, include_extras=True)
        params = []
        for p in list(inspect.signature(fn).parameters.values())[1:]:
            if p.kind is not inspect.Parameter.KEYWORD_ONLY:
                raise TypeError(f"task {fn.__name__}: parameter '{p.name}' must be keyword-only (after *)")
            params.append(ParamSpec(p.name, hints.get(p.name, str), p.default, helps.get(p.name, "")))
        return cls(
            name=name or fn.__name__,
            func=fn,
            path=Path(inspect.getfile(fn)),
            description=doc.splitlines()[0].strip() if doc else "",
            params=tuple(params),
            schedule_hint=schedule_hint,
            uses_browser=_uses_browser(fn) if uses_browser is None else uses_browser,
        )

    def validate(
        self,
        raw: dict[str, Any],
        *,
        tz: tzinfo,
        scheduled_for: datetime,
        where: str | None = None,
        subject: str | None = None,
        data_dir: Path | None = None,
        data_roots: Sequence[Path] | None = None,
    ) -> dict[str, Any]:
        """Convert raw values (from YAML or ``--param`` strings) to the declared types.

        ``data_dir`` and ``data_roots`` confine ``DataPath`` parameters (opskit/datapath.py): every entry
        point (``runner.py run``, the scheduler, the web app, the worker) passes the config's.

        Raises:
            ParamError: naming the parameter, the bad value and the accepted forms; unknown names get a
                "did you mean" hint.
        """
        subject = subject or f"task '{self.name}'"
        known = {p.name: p for p in self.params}
        for key in raw:
            if key not in known:
                raise ParamError(
                    f"{subject}: unknown parameter '{key}'",
                    where=where,
                    hint=did_you_mean(key, known) or _known_hint(known),
                )
        prepared = {k: _split_list(known[k].annotation, v) for k, v in raw.items()}
        missing = [p.name for p in self.params if p.required and p.name not in prepared]
        if missing:
            raise ParamError(f"{subject}: missing required parameter '{missing[0]}'", where=where)
        from pydantic import ValidationError

        try:
            context = {"tz": tz, "scheduled_for": scheduled_for, "data_dir": data_dir, "data_roots": data_roots}
            model = self._validator().model_validate(prepared, context=context)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "?"
            value = prepared.get(name, known[name].default if name in known else None)
            raise ParamError(f"{subject}, parameter '{name}': {_pydantic_message(first, value)}", where=where) from None
        return {p.name: getattr(model, p.name) for p in self.params}

    def _validator(self) -> Any:
        if not self._model:
            from pydantic import ConfigDict, create_model

            fields = {p.name: (p.annotation, ... if p.required else p.default) for p in self.params}
            self._model.append(
                create_model(  # type: ignore[call-overload]
                    f"{self.name}_params",
                    # allow_inf_nan=False: "--param tolerance=nan" is a typing accident, never a number to use
                    __config__=ConfigDict(
                        extra="forbid",
                        validate_default=True,
                        arbitrary_types_allowed=True,
                        strict=False,
                        allow_inf_nan=False,
                    ),
                    **fields,
                )
            )
        return self._model[0]


def task(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    schedule_hint: str | None = None,
    uses_browser: bool | None = None,
) -> Any:
    """Mark a function as an opskit task; returns the function itself.

    ``uses_browser``: whether its runs need a Chromium (routing to browser workers); by default it is read
    from the module's source.
    """

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = TaskSpec.from_function(fn, name=name, schedule_hint=schedule_hint, uses_browser=uses_browser)
        if _collecting is not None:
            _collecting.append(spec)
        fn._opskit_task = spec  # type: ignore[attr-defined]
        return fn

    return mark(fn) if fn is not None else mark


_BROWSER_USE = re.compile(r"\bctx\.browser\(|\bopskit\.browser\b|\bfrom opskit import[^\n]*\bbrowser\b")


def _uses_browser(fn: Callable[..., Any]) -> bool:
    """Whether the task's module opens a browser: ``ctx.browser(...)`` or the ``opskit.browser`` helpers."""
    try:
        source = Path(inspect.getfile(fn)).read_text(encoding="utf-8")
    except (OSError, TypeError):
        return False
    return bool(_BROWSER_USE.search(source))


@dataclass
class Registry:
    """The tasks found in one folder, and the modules that failed to load with their one-line cause."""

    folder: Path
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> TaskSpec:
        if name in self.tasks:
            return self.tasks[name]
        if name in self.broken:
            raise UsageError(f"task '{name}' is broken: {self.broken[name]}")
        known = ", ".join(sorted(self.tasks)) or "none"
        raise UsageError(f"unknown task '{name}'", hint=did_you_mean(name, self.tasks) or f"Known tasks: {known}")

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(sorted(self.tasks.values(), key=lambda s: s.name))


def discover(folder: Path) -> Registry:
    """Import every ``*.py`` in ``folder`` (not ``_private.py``) and collect the tasks they mark."""
    global _collecting
    registry = Registry(folder)
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module_name = f"opskit_tasks.{path.stem}"
        found: list[TaskSpec] = []
        _collecting = found
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # any import failure makes this module broken, not the registry
            sys.modules.pop(module_name, None)
            registry.broken[path.stem] = _import_error_line(path, exc)
            continue
        finally:
            _collecting = None
        for spec_ in found:
            if spec_.name in registry.tasks:
                first = registry.tasks[spec_.name].path
                registry.broken[spec_.name] = f"task '{spec_.name}' is defined twice: in {first} and in {spec_.path}"
                del registry.tasks[spec_.name]
            elif spec_.name not in registry.broken:
                registry.tasks[spec_.name] = spec_
    return registry


def type_label(annotation: Any) -> str:
    """A short name for a parameter type, as ``list`` prints it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + "|".join(str(a) for a in args)
    if origin in (tuple, list, set, frozenset):
        return f"list of {type_label(args[0]) if args else 'str'}"
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        label = " or ".join(type_label(a) for a in inner)
        return f"{label} (optional)" if len(inner) < len(args) else label
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + "|".join(str(m.value) for m in annotation)
    if annotation in (date, datetime):
        return annotation.__name__
    if annotation is DataPath:
        return "path in the data folder"
    if annotation is DataPaths:
        return "paths in the data folder, comma-separated"
    return getattr(annotation, "__name__", str(annotation))


def _split_list(annotation: Any, value: Any) -> Any:
    """``--param queues=Q1,Q2`` and ``queues: Q1,Q2`` both mean a list of two."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        origin = typing.get_origin(inner[0]) if len(inner) == 1 else None
    if origin in (tuple, list, set, frozenset) and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _pydantic_message(error: Any, value: Any) -> str:
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if message[:1].isupper() and not message.startswith("'"):
        message = message[0].lower() + message[1:]
    if error["type"] == "value_error":
        return message
    return f"{value!r} is not valid: {message}"


def _known_hint(known: dict[str, ParamSpec]) -> str:
    return f"Parameters: {', '.join(known) or 'none'}"


def _docstring_args(doc: str) -> dict[str, str]:
    """``Args:`` entries of a Google-style docstring, continuation lines joined."""
    helps: dict[str, str] = {}
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() in ("Args:", "Parameters:"))
    except StopIteration:
        return helps
    current, arg_indent = None, None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            break
        arg_indent = arg_indent or indent
        m = re.match(r"\s+(\w+)\s*(?:\([^)]*\))?:\s*(.*)", line)
        if m and indent == arg_indent:
            current = m.group(1)
            helps[current] = m.group(2).strip()
        elif current:
            helps[current] += " " + line.strip()
    return helps


def _import_error_line(path: Path, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{path}:{exc.lineno}: SyntaxError: {exc.msg}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    line = f":{frames[-1].lineno}" if frames else ""
    return f"{path}{line}: {type(exc).__name__}: {exc}"
