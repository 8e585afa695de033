"""Keeping secrets out of everything opskit stores or sends: log lines, errors, results, emails, the history.

A ``Redactor`` knows the secret values of a run (every ``${VAR}`` config.yaml resolved for a secret-named
variable, every ``*_env`` value of a source, every value a task read with ``ctx.secret``, the SMTP password,
the chat webhook URL) and replaces each with ``***`` — not only as written, but in every form it takes when
text travels: URL-encoded (``%20`` and ``+``), HTML-escaped, JSON-escaped, encoded twice, and base64.
A task that logs ``quote(password)`` or puts ``html.escape(token)`` in its summary leaks nothing.

Where it applies, once per kind of place (each place calls it; nothing else needs to remember):

- log records: installed as a logging ``Filter`` on every handler of a run (engine/worker.py);
- the run history: ``RunStore`` scrubs every error, result, parameter and delivery record it writes;
- messages: delivery scrubs the summary and every alert text before rendering (delivery/report.py, alerts.py);
- browser artifacts: page.html, error.txt, step.json and traces are scrubbed as bytes (browser/artifacts.py);
- output: ``show``, ``logs`` and ``history`` scrub what they print with the config's secrets once more,
  and the console lines of ``schedule`` and ``web`` pass through the config's redactor.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_LOWER_HEX = re.compile(r"%[0-9A-F]{2}")
_JSON_U = re.compile(r"\\u([0-9a-f]{4})")
MIN_LENGTH = 4
"""Shorter values are not treated as secrets: replacing every "ab" in a log would hide everything else."""


def secret_forms(secret: str) -> set[str]:
    """Every form ``secret`` takes in a URL, a form body, a page, a JSON document or a header.

    Raw; URL-encoded with ``%20`` and with ``+`` for spaces (``/`` kept and encoded); HTML-escaped as
    ``html.escape`` and as browsers write text and attributes; JSON-escaped (``\\u00e9`` and UTF-8, ``\\/``);
    each encoded form URL-encoded once more (a URL inside a URL), each HTML form escaped once more (text
    escaped by a task, then by a template); and base64 of the value.
    """
    if not secret:
        return set()
    escaped_json = json.dumps(secret, ensure_ascii=False)[1:-1]
    ascii_json = json.dumps(secret)[1:-1]
    urls = {
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret, safe=""),
        quote_plus(secret, safe="/"),
        quote(secret, safe="!*'()"),  # JavaScript's encodeURIComponent
        quote(secret, safe=";,/?:@&=+$#!*'()"),  # and encodeURI
        quote_plus(secret, safe="*").replace("~", "%7E"),  # a browser's form body (URLSearchParams)
    }
    urls |= {_LOWER_HEX.sub(lambda m: m.group(0).lower(), u) for u in urls}  # %2f as well as %2F
    jsons = {escaped_json, ascii_json, escaped_json.replace("/", "\\/"), ascii_json.replace("/", "\\/")}
    jsons |= {_JSON_U.sub(lambda m: "\\u" + m.group(1).upper(), j) for j in jsons}  # \u00E9 as well as \u00e9
    forms = {secret, *urls, *_html_forms(secret), *jsons}
    forms.update(quote(f, safe="") for f in list(forms) if f != secret)
    forms.update(html.escape(f, quote=q) for f in _html_forms(secret) for q in (True, False))  # escaped twice
    forms.add(base64.b64encode(secret.encode("utf-8")).decode("ascii"))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def _html_forms(secret: str) -> set[str]:
    """A secret as HTML text and attributes escape it (browsers escape fewer characters than ``html.escape``)."""
    amp = secret.replace("&", "&amp;")
    forms = {html.escape(secret, quote=True), html.escape(secret, quote=False), amp, amp.replace('"', "&quot;")}
    angled = amp.replace("<", "&lt;").replace(">", "&gt;")
    forms |= {angled, angled.replace('"', "&quot;"), angled.replace('"', "&quot;").replace("'", "&#39;")}
    forms |= {angled.replace('"', "&#34;").replace("'", "&#39;"), angled.replace('"', "&#x27;")}
    forms |= {f.replace("\xa0", "&nbsp;") for f in forms}
    return forms


class Redactor(logging.Filter):
    """Replaces every known secret value, in every form (``secret_forms``), with ``***``.

    Attributes:
        secrets: The values as they were given (not their encoded forms).
    """

    def __init__(self, secrets: Iterable[str] | None = None):
        super().__init__()
        self.secrets: set[str] = set()
        self._forms: set[str] = set()
        self._ordered: list[str] | None = None
        self._ordered_bytes: list[bytes] | None = None
        for value in secrets or ():
            self.add(value)

    def add(self, value: str) -> None:
        """Learn ``value`` (and its forms); too short a value is ignored."""
        if not value or len(value) < MIN_LENGTH or value in self.secrets:
            return
        self.secrets.add(value)
        self._forms |= secret_forms(value)
        self._ordered = self._ordered_bytes = None

    @property
    def forms(self) -> list[str]:
        """Every form of every secret, longest first (so a longer form is replaced before its parts)."""
        if self._ordered is None:
            self._ordered = sorted(self._forms, key=len, reverse=True)
        return self._ordered

    def redact(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        """``redact`` for bytes (a page, a trace member): each form is matched as UTF-8."""
        if self._ordered_bytes is None:
            self._ordered_bytes = [form.encode("utf-8") for form in self.forms]
        for form in self._ordered_bytes:
            if form in data:
                data = data.replace(form, MASK.encode())
        return data

    def filter(self, record: logging.LogRecord) -> bool:
        if self._forms:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.msg, record.args = self.redact(message), None
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
        return True


class FollowingRedactor(logging.Filter):
    """A log filter redacting the secrets ``current()`` returns now: for a process whose config is reloaded
    (the scheduler), so a secret a new config brings is redacted from its next line on."""

    def __init__(self, current: Callable[[], Iterable[str]]):
        super().__init__()
        self._current = current
        self._redactor = Redactor()
        self._known: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = frozenset(self._current())
        if secrets != self._known:
            self._redactor, self._known = Redactor(secrets), secrets
        return self._redactor.filter(record)


def scrub(value: Any, redactor: Redactor | None) -> Any:
    """``value`` with every secret replaced by ``***`` in every string (keys too), however deeply nested.

    What JSON cannot hold as it is (sets, bytes, paths, dates, objects) comes back as its scrubbed text.
    """
    if redactor is None or not redactor.secrets:
        return value
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, Mapping):
        return {scrub(k, redactor) if isinstance(k, str) else k: scrub(v, redactor) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v, redactor) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return redactor.redact(bytes(value).decode("utf-8", errors="replace"))
    # Anything else (a Path, a date, a custom object) is stored as its text: scrub that text, not the object,
    # or a secret inside it reaches the history when it is turned into JSON after this.
    return redactor.redact(str(value))
