"""opskit: automation for Trust & Safety operations teams.

Task authors import from here only::

    from opskit import Period, Result, RunContext, task
"""

from opskit.context import Result, RunContext
from opskit.datapath import DataPath, DataPaths
from opskit.errors import (
    ConfigError,
    DataError,
    OpskitError,
    ParamError,
    SourceUnavailable,
    TaskError,
    UsageError,
)
from opskit.period import Period
from opskit.tasks import task

__all__ = [
    "ConfigError",
    "DataError",
    "DataPath",
    "DataPaths",
    "OpskitError",
    "ParamError",
    "Period",
    "Result",
    "RunContext",
    "SourceUnavailable",
    "TaskError",
    "UsageError",
    "task",
]
