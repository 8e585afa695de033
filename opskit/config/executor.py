"""config.yaml's ``executor:`` section: where the scheduler's runs execute.

``executor: local`` (the default) keeps today's behaviour: the scheduler forks every run on its own machine.
``executor: {kind: celery, broker: redis://HOST:6379/0}`` hands each run to Celery workers
(``runner.py worker``) through Redis; the scheduler still decides what runs when. The broker's password
comes from the environment (``redis://:${REDIS_PASSWORD}@host:6379/0``) and is never logged: every place
that shows the broker shows ``shown_url`` (opskit/config/urls.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from opskit.config.types import POSITIVE, Duration, Strict
from opskit.config.urls import safe_url, shown_url, split_url

QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
"""What a queue may be called (``queue:`` on a job, ``runner.py worker --queues``)."""


class ExecutorSettings(Strict):
    """Where runs execute: ``kind: local`` (the default), or ``kind: celery`` with its Redis ``broker``."""

    kind: Literal["local", "celery"] = "local"
    broker: str | None = None
    """``redis://[:PASSWORD@]HOST:PORT/DB`` (``rediss://`` for TLS); required with ``kind: celery``."""
    heartbeat: Duration = Field(timedelta(seconds=2), ge=POSITIVE)
    """How often a worker writes its heartbeat row to the history."""
    worker_lost_after: Duration = Field(timedelta(seconds=15), ge=POSITIVE)
    """A worker whose heartbeat is this old is gone (killed, its machine down): its runs are failed and
    retried per the job's policy. On the scheduler's own machine a dead worker is seen at once (its pid)."""
    resend_after: Duration = Field(timedelta(minutes=5), ge=POSITIVE)
    """A run no worker has taken this long after it was sent is sent again (a second copy is harmless:
    a worker takes a run only while the history says it is queued and untaken)."""

    @field_validator("broker")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = split_url(value)
        if parts is None or parts.scheme not in ("redis", "rediss") or not parts.host:
            raise ValueError(f"'{shown_url(value)}' is not a Redis URL (redis://HOST:6379/0)")
        try:
            parts.port  # noqa: B018 - a port that is not a number fails here, not in the scheduler
        except ValueError:
            raise ValueError(f"'{shown_url(value)}' has a port that is not a number") from None
        return value

    @model_validator(mode="after")
    def _celery_needs_a_broker(self) -> ExecutorSettings:
        if self.kind == "celery" and not self.broker:
            raise ValueError("missing required key 'broker' (kind celery: redis://HOST:6379/0)")
        return self

    @property
    def celery(self) -> bool:
        return self.kind == "celery"

    @property
    def password(self) -> str | None:
        parts = split_url(self.broker) if self.broker else None
        return parts.password if parts is not None else None

    @property
    def broker_url(self) -> str | None:
        """The broker URL for Celery and redis-py: its password percent-encoded (they decode it)."""
        return safe_url(self.broker) if self.broker else None

    @property
    def shown_broker(self) -> str:
        return shown_url(self.broker or "")


def as_executor(value: Any) -> Any:
    """``executor: local`` (a word) is ``{kind: local}``."""
    if isinstance(value, str):
        return {"kind": value}
    return value
