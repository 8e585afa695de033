"""The saved sign-in (a Playwright storage state, ``var/browser/<source>.json``) for sessions over HTTP.

``http: auto`` sends the saved sign-in's cookies as the browser would have (a host's own cookie to that host
only) and writes back what the server changed, so that a browser taking over, and the next run, go on with
the session the server knows. The file keeps its owner-only mode; a sign-in saved meanwhile by another run
is not overwritten with older values.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opskit.files import atomic_write

Loaded = dict[tuple[str, str, str], str]
"""Cookies by (name, domain, path) as the file holds them: their values."""


def load(http: Any, path: Path) -> Loaded | None:
    """The saved sign-in's cookies (a Playwright storage state) into ``http``: {(name, domain, path): value}
    of what was loaded; None when there is no saved sign-in. A cookie the file holds in a form opskit does not
    read is left out (the browser, if it takes over, reads the file itself).

    A cookie saved for a host only (no leading dot) goes to that host only, as in the browser."""
    from http.cookiejar import Cookie, DefaultCookiePolicy

    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        saved = list(state.get("cookies", []))
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    http.cookies.set_policy(DefaultCookiePolicy(strict_ns_domain=DefaultCookiePolicy.DomainStrictNonDomain))
    loaded: Loaded = {}
    now = time.time()
    for c in saved:
        try:
            expires = c.get("expires", -1)
            session = expires in (-1, None)
            if not session and float(expires) <= now:
                continue
            name, value, domain, where = str(c["name"]), str(c["value"]), str(c["domain"]), str(c.get("path", "/"))
            jar_domain = domain if domain.startswith(".") or "." in domain else domain + ".local"  # the jar's name
            http.cookies.set_cookie(  # for a dotless host ("localhost"), so that it matches
                Cookie(
                    version=0,
                    name=name,
                    value=value,
                    port=None,
                    port_specified=False,
                    domain=jar_domain,
                    domain_specified=domain.startswith("."),
                    domain_initial_dot=domain.startswith("."),
                    path=where,
                    path_specified=True,
                    secure=bool(c.get("secure")),
                    expires=None if session else int(float(expires)),
                    discard=session,
                    comment=None,
                    comment_url=None,
                    rest={"HttpOnly": ""} if c.get("httpOnly") else {},
                )
            )
            loaded[(name, domain, where)] = value
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return loaded


def save(jar: Any, path: Path, loaded: Loaded, source_url: str) -> Loaded:
    """Write what the server changed in ``jar`` since ``loaded`` (renewed, set, deleted cookies) into the saved
    sign-in at ``path`` (same file, same privacy), so that a browser taking over, and the next run, carry on
    with them; returns the new baseline. Cookies this session did not change are left as the file has them
    now (another run may have signed in since)."""
    host = urlsplit(source_url).hostname or ""
    now = {(c["name"], c["domain"], c["path"]): c for c in (_as_saved(k, host) for k in jar)}
    changed = {key: c for key, c in now.items() if loaded.get(key) != c["value"]}
    deleted = {key for key in loaded if key not in now}
    if not changed and not deleted:
        return loaded
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return loaded
    cookies = [c for c in state.get("cookies", []) if isinstance(c, dict)]
    kept = []
    for cookie in cookies:
        key = (cookie.get("name"), cookie.get("domain"), cookie.get("path", "/"))
        if key in deleted and cookie.get("value") == loaded.get(key):  # type: ignore[arg-type]
            continue
        if key in changed:
            cookie.update(value=changed[key]["value"], expires=changed[key]["expires"])  # type: ignore[index]
            changed.pop(key)  # type: ignore[arg-type]
        kept.append(cookie)
    state["cookies"] = kept + list(changed.values())
    atomic_write(path, json.dumps(state).encode("utf-8"))
    return {key: c["value"] for key, c in now.items()}


def _as_saved(cookie: Any, host: str) -> dict[str, Any]:
    """A cookie of the jar as Playwright's storage state keeps one (a host's own cookie: no leading dot; the
    jar's ``localhost.local`` for the source's dotless ``localhost``)."""
    domain = cookie.domain
    if not cookie.domain_specified and "." not in host and domain == f"{host}.local":
        domain = host
    return {
        "name": cookie.name,
        "value": cookie.value,
        "domain": domain,
        "path": cookie.path or "/",
        "expires": float(cookie.expires) if cookie.expires else -1,
        "httpOnly": cookie.has_nonstandard_attr("HttpOnly"),
        "secure": bool(cookie.secure),
        "sameSite": "Lax",
    }
