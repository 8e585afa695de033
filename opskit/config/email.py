"""config.yaml's ``email:`` section and a job's ``email:``: how mail leaves the machine, and who gets what.

Addresses are checked when the config loads (``parse_address``), so a typo in a recipient is a
``file:line`` error at start-up, not a bounced report at 02:00. Building and sending messages is
delivery's business (``opskit.delivery``); this module only describes what config.yaml may say.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from opskit.errors import ConfigError

# Deliberately plain: local part without spaces or '@', a dotted domain (or 'localhost' for tests).
_ADDR_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")
ADDRESS_FORMS = "use name@example.com or 'Name <name@example.com>'"


def parse_address(text: str) -> Address:
    """One recipient or sender as an ``Address``; accepts "a@b.com" and "Name <a@b.com>".

    Raises:
        ConfigError: not exactly one well-formed address; the message names it.
    """
    if not isinstance(text, str) or not text.strip() or "\n" in text or "\r" in text:
        raise ConfigError(f"{text!r} is not an email address", hint=ADDRESS_FORMS)
    pairs = getaddresses([text])
    if len(pairs) != 1 or not _ADDR_RE.match(pairs[0][1]) or ".." in pairs[0][1]:
        raise ConfigError(f"{text.strip()!r} is not an email address", hint=ADDRESS_FORMS)
    name, addr = pairs[0]
    user, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=user, domain=domain)


def _check_addresses(values: list[str]) -> list[str]:
    for value in values:
        try:
            parse_address(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return values


class EmailSettings(BaseModel):
    """How mail leaves this machine: ``outbox`` (.eml files only) or ``smtp`` (outbox first, then sent)."""

    model_config = ConfigDict(extra="forbid")
    _shared_history: str | None = PrivateAttr(default=None)

    backend: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: Path = Path("outbox")
    sender: str = "opskit <opskit@localhost>"
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    tls_ca_file: Path | None = None
    """Trust this CA bundle (a company CA, or a test's self-signed certificate) instead of the system's."""
    timeout_s: float = Field(30.0, gt=0)
    max_message_bytes: int = Field(10_000_000, gt=0)
    shared_folder: Path | None = None
    """Where attachments go when a message would exceed ``max_message_bytes``."""
    shared_folder_url: str | None = None
    """How readers reach ``shared_folder`` (file://, https://); the folder's path when unset."""
    max_attempts: int = Field(10, ge=1)
    """After this many failed sends a message is marked failed permanently (and kept)."""

    @field_validator("sender")
    @classmethod
    def _sender_is_an_address(cls, value: str) -> str:
        return _check_addresses([value])[0]

    @property
    def shared_history(self) -> str | None:
        """The history's PostgreSQL URL when several machines share it (the outbox's state is kept there);
        set by ``Config.email_settings()``, never written in config.yaml."""
        return self._shared_history

    @model_validator(mode="after")
    def _login_needs_both(self) -> EmailSettings:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("set both username_env and password_env, or neither")
        return self


class JobEmail(BaseModel):
    """Who gets a job's email, when, with which subject, template and attachments."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1)
    cc: list[str] = []
    bcc: list[str] = []
    subject: str = "{{ title }} - {{ period_label }}"
    """A Jinja2 template string rendered with the email's context."""
    on: list[Literal["success", "failure"]] = ["success"]
    attach: list[str] = []
    """Output file names or globs, matched against the run's files."""
    template: str = "email/report.html"

    @field_validator("to", "cc", "bcc")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return _check_addresses(values)

    @field_validator("subject")
    @classmethod
    def _subject_parses(cls, value: str) -> str:
        # Reject a broken subject when config.yaml loads, not at 02:00 (Jinja2 is imported lazily here).
        import jinja2

        try:
            jinja2.Environment().parse(value)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"subject {value!r} is not a valid template: {exc.message}") from None
        return value

    @field_validator("template")
    @classmethod
    def _html_template(cls, value: str) -> str:
        if not value.endswith((".html", ".htm")):
            raise ValueError(f"template {value!r} should be an .html email template")
        return value
