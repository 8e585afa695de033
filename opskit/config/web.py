"""config.yaml's ``web:`` section: how ``runner.py web`` signs people in and keeps their sessions.

Who may see which job is not here: jobs name their ``group`` (``jobs.<name>.group``) and users are given
groups with ``runner.py users``. The web app's secret key is not here either: it comes from the
environment (``OPSKIT_WEB_SECRET``) or a generated owner-only file under ``var/``, never from this file.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from opskit.config.types import POSITIVE, Duration, Strict


class WebSettings(Strict):
    """Sign-in, sessions and the server for ``runner.py web``."""

    auth: Literal["local", "header"] = "local"
    """``local``: users sign in with the passwords ``runner.py users`` set. ``header``: a company SSO proxy
    in front signs people in and passes the user name in ``trusted_header``; only requests from
    ``trusted_proxies`` are believed."""
    trusted_header: str = "X-Forwarded-User"
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    """Addresses or networks (``10.0.0.0/8``) of the proxy; the header from anyone else is refused."""
    session_idle: Duration = Field(timedelta(hours=2), ge=POSITIVE)
    """A session unused this long ends (sign in again)."""
    session_max: Duration = Field(timedelta(hours=12), ge=POSITIVE)
    """A session ends this long after sign-in, however active."""
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    """``auto``: cookies carry ``Secure`` when the request came over HTTPS (directly, or per
    ``X-Forwarded-Proto`` from a trusted proxy). ``always`` behind a TLS proxy that does not say so."""
    login_attempts: int = Field(5, ge=1, le=100)
    """Failed sign-ins allowed per user name (and four times that per address) within ``login_window``."""
    login_window: Duration = Field(timedelta(minutes=15), ge=POSITIVE)
    threads: int = Field(16, ge=4, le=256)
    """Worker threads of the WSGI server; each open live-log stream holds one for up to 25 s."""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"'{item}' is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
        return value
