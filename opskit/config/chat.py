"""config.yaml's ``chat:`` section: the incoming webhook that failure alerts are posted to.

Without it, alerts are only logged (the embedded default). The URL itself is a secret and is never written
in config.yaml: ``url_env`` names the environment variable that holds it. Posting is delivery's business
(``opskit.delivery.chat``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WebhookSettings(BaseModel):
    """Where chat alerts go. Without any, alerts are only logged."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["slack", "lark", "teams"]
    url_env: str
    timeout_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(4, ge=1, le=10)
    backoff_s: float = Field(1.0, ge=0)
    """First wait between attempts; doubles each time, capped at 30 s (a Retry-After too)."""
