"""URLs that carry a password (the history on PostgreSQL, the Redis broker), whatever the password holds.

A password comes from the environment into the URL as it is (``postgresql://ops:${DB_PASSWORD}@db/opskit``),
so it may hold ``@``, ``:``, ``/``, ``#``, ``?``, ``%`` or spaces that a URL parser reads as structure: the
password ``p@ss`` made the host ``ss@db``, and the message naming that host showed part of the password.
Here the credentials end at the *last* ``@`` and the user name at the first ``:``, so any password works;
the host, port, path and options after it may not hold an ``@``. A password already percent-encoded (as
SQLAlchemy and redis-py expect: ``p%40ss``, and nothing a URL would misread) is decoded once.

``safe_url`` is what a parser is given (the password percent-encoded); ``shown_url`` is what a message shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(.*)$", re.S)
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.I)
_ENCODED = re.compile(r"^(?:[^%@:/?#\s]|%[0-9A-Fa-f]{2})*$")


@dataclass(frozen=True)
class UrlParts:
    """A URL as scheme, credentials (decoded) and the rest (``host[:port][/path][?query]``)."""

    scheme: str
    username: str | None
    password: str | None
    rest: str

    @property
    def host(self) -> str:
        return urlsplit(f"x://{self.rest}").hostname or ""

    @property
    def port(self) -> int | None:
        """The port, or None; ValueError for one that is not a number from 0 to 65535."""
        return urlsplit(f"x://{self.rest}").port


def split_url(url: str) -> UrlParts | None:
    """``url`` in parts, its credentials found by the last ``@``; None for something that is not a URL."""
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme, rest = match.groups()
    if "@" not in rest:
        return UrlParts(scheme, None, None, rest)
    userinfo, _, rest = rest.rpartition("@")
    username, colon, password = userinfo.partition(":")
    return UrlParts(scheme, _decoded(username) or None, _decoded(password) if colon else None, rest)


def _decoded(text: str) -> str:
    return unquote(text) if "%" in text and _ENCODED.match(text) else text


def safe_url(url: str) -> str:
    """``url`` with its user name and password percent-encoded, for a parser (SQLAlchemy, redis-py, kombu)."""
    parts = split_url(url)
    if parts is None or (parts.username is None and parts.password is None):
        return url
    user = quote(parts.username or "", safe="")
    password = "" if parts.password is None else ":" + quote(parts.password, safe="")
    return f"{parts.scheme}://{user}{password}@{parts.rest}"


def shown_url(url: str) -> str:
    """``url`` as a message may show it: the password is ``***`` (``postgresql://ops:***@db/opskit``; with no
    user name, as Redis has, ``redis://***@host:6379/0``)."""
    parts = split_url(url)
    if parts is None:
        return url.split("://", 1)[0] + "://…" if "://" in url else url
    rest = _QUERY_PASSWORD.sub(r"\1***", parts.rest)  # libpq also takes ?password=… (and sslpassword)
    if parts.password is None:
        return url if rest == parts.rest else f"{parts.scheme}://{parts.username + '@' if parts.username else ''}{rest}"
    return f"{parts.scheme}://{parts.username + ':' if parts.username else ''}***@{rest}"
