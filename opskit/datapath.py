"""File-path parameters that cannot leave the project's data folders.

A task that reads or moves files takes their place as a parameter (``inbox``, ``archive``, ``cases``). Those
values come from people — ``--param``, config.yaml, a run request from the web app — so a value such as
``../../home/ops/.ssh`` or ``/etc`` must not make a task read, move or overwrite files elsewhere. A task
declares such a parameter as ``DataPath`` (one path) or ``DataPaths`` (comma-separated paths) instead of
``str``; the registry converts parameters at every entry point (opskit/tasks.py), and a value that resolves
outside the data roots is refused there, before anything runs, with one line (exit 2).

The data roots are ``paths.data_roots`` in config.yaml (default: the data folder, ``paths.data``). A
relative value is inside the data folder; an absolute one must be inside a root. Both are resolved first:
``..`` is applied and symbolic links are followed, so a link inside the data folder that points elsewhere
is refused too. The value the task receives is the one given (a relative path stays relative), so
``ctx.data_dir / inbox`` and messages read as before.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class DataPath(str):
    """A path parameter confined to the data roots (a relative value is relative to the data folder)."""

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.with_info_after_validator_function(
            lambda value, info: cls(_confine_all([value], info.context)[0]), core_schema.str_schema()
        )


class DataPaths(str):
    """Comma-separated path parameters, each confined like ``DataPath`` (e.g. ``cases=a.csv,b.csv``)."""

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def check(value: str, info: Any) -> DataPaths:
            _confine_all([p.strip() for p in value.split(",") if p.strip()], info.context)
            return cls(value)

        return core_schema.with_info_after_validator_function(check, core_schema.str_schema())


def confine(value: str, data_dir: Path, roots: Sequence[Path]) -> Path:
    """Where ``value`` really points (``..`` applied, links followed), if that is inside one of ``roots``.

    Raises:
        ValueError: the path is outside every root, or cannot be resolved; the message names the roots.
    """
    if "\x00" in value:
        raise ValueError("a path cannot contain a NUL character")
    path = Path(value)
    try:
        resolved = (path if path.is_absolute() else data_dir / path).resolve(strict=False)
        real_roots = [Path(root).resolve(strict=False) for root in roots]
    except (OSError, RuntimeError) as exc:  # a link loop, a name too long
        loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP  # 3.11 / 3.13
        why = "a symbolic link loop" if loop else (getattr(exc, "strerror", None) or type(exc).__name__)
        raise ValueError(f"{value!r} cannot be resolved ({why})") from None
    if any(resolved == root or resolved.is_relative_to(root) for root in real_roots):
        return resolved
    shown = ", ".join(str(root) for root in roots)
    via = " (through a symbolic link)" if _lexically_inside(path, data_dir, roots) else ""
    raise ValueError(
        f"{value!r} is outside the data folders{via}: paths must stay inside {shown} (paths.data_roots in config.yaml)"
    )


def _lexically_inside(path: Path, data_dir: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path`` is inside a root before links are followed (to say why it was refused)."""
    joined = Path(os.path.normpath(path if path.is_absolute() else data_dir / path))
    return any(joined.is_relative_to(os.path.normpath(root)) for root in roots)


def _confine_all(values: list[str], context: Any) -> list[str]:
    """Check each value against the data roots the validation ``context`` carries (``data_dir``,
    ``data_roots``). Without them (a bare ``TaskSpec.validate``), only relative paths that stay inside the
    folder they are relative to pass."""
    context = context if isinstance(context, dict) else {}
    data_dir, roots = context.get("data_dir"), context.get("data_roots")
    for value in values:
        if not value:
            continue
        if data_dir is None:
            normal = os.path.normpath(value)
            if os.path.isabs(value) or normal == ".." or normal.startswith(".." + os.sep) or "\x00" in value:
                raise ValueError(f"{value!r} must be a path inside the data folder")
            continue
        confine(value, Path(data_dir), roots or [Path(data_dir)])
    return values
