"""config.yaml: reading its text, and the validated settings of every section.

The modules, from the bottom up (each imports only those before it, and nothing outside ``opskit.config``
but ``opskit.errors``):

- ``file``: the YAML text with line numbers, ``${VAR}`` interpolation and ``.env`` (no validation, so that
  ``runner.py list`` stays fast);
- ``types``: the shared field types (``Duration``, ``Timezone``, ``Strict``);
- ``browser``, ``email``, ``chat``, ``gates``, ``web``, ``vendors``: one section each
  (``sources.<name>.browser``, ``email``, ``chat``, a job's ``gates``, ``web``, ``vendor_reports``);
- ``model``: the whole file (``Config``, ``JobConfig``, ...), ``load_config`` and ``check_config``.

The names below are imported lazily (PEP 562): ``import opskit.config.file`` must not pay for pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "BrowserSettings",
    "CalendarConfig",
    "Config",
    "Duration",
    "EmailSettings",
    "Gates",
    "JobConfig",
    "JobEmail",
    "LoginRecipe",
    "RawConfig",
    "Settings",
    "SourceConfig",
    "StepConfig",
    "Strict",
    "Timezone",
    "VendorReports",
    "WebSettings",
    "WebhookSettings",
    "as_timedelta",
    "as_timezone",
    "check_config",
    "default_config_path",
    "load_config",
    "parse_address",
    "read_config_file",
]

_WHERE = {
    "RawConfig": "file",
    "default_config_path": "file",
    "read_config_file": "file",
    "Duration": "types",
    "Strict": "types",
    "Timezone": "types",
    "as_timedelta": "types",
    "as_timezone": "types",
    "BrowserSettings": "browser",
    "LoginRecipe": "browser",
    "EmailSettings": "email",
    "JobEmail": "email",
    "parse_address": "email",
    "WebhookSettings": "chat",
    "WebSettings": "web",
    "VendorReports": "vendors",
    "Gates": "gates",
    "CalendarConfig": "model",
    "Config": "model",
    "JobConfig": "model",
    "Settings": "model",
    "SourceConfig": "model",
    "StepConfig": "model",
    "check_config": "model",
    "load_config": "model",
}

if TYPE_CHECKING:
    from opskit.config.browser import BrowserSettings, LoginRecipe
    from opskit.config.chat import WebhookSettings
    from opskit.config.email import EmailSettings, JobEmail, parse_address
    from opskit.config.file import RawConfig, default_config_path, read_config_file
    from opskit.config.gates import Gates
    from opskit.config.model import (
        CalendarConfig,
        Config,
        JobConfig,
        Settings,
        SourceConfig,
        StepConfig,
        check_config,
        load_config,
    )
    from opskit.config.types import Duration, Strict, Timezone, as_timedelta, as_timezone
    from opskit.config.vendors import VendorReports
    from opskit.config.web import WebSettings


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'opskit.config' has no attribute {name!r}")
    # deferred: importing a name loads its module (and pydantic) only when someone asks for it
    value = getattr(importlib.import_module(f"opskit.config.{module}"), name)
    globals()[name] = value
    return value
