"""Sign-in: sessions, the trusted-header mode for an SSO proxy, CSRF, the login limit, and roles.

Every page but the sign-in form needs a user. A session is a random id in Flask's signed cookie (HttpOnly,
SameSite=Lax, Secure over HTTPS) whose SHA-256 digest is a row in the history: signing out, a new
password or a disabled user ends it on the server, whatever the browser keeps. It ends after
``web.session_idle`` without use and ``web.session_max`` after sign-in. Every form (and every htmx
request) carries the session's CSRF token; a POST without it is refused with 400.

With ``web.auth: header`` a company SSO proxy signs people in and passes the user name in
``web.trusted_header``; the header is believed only from ``web.trusted_proxies``, and the name must be an
opskit user (``runner.py users add NAME --role ... --no-password``), whose role and groups apply.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from opskit.engine.accounts import SEEN_EVERY
from opskit.web.security import digest, verify_password
from opskit.web.state import Viewer, WebState

bp = Blueprint("auth", __name__)

OPEN_ENDPOINTS = {"auth.login", "static", "admin.healthz"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def state() -> WebState:
    return current_app.extensions["opskit"]  # type: ignore[no-any-return]


def load_user() -> Any:
    """``before_request``: who is signed in (``g.viewer``), the CSRF check, and the way to the sign-in page."""
    g.viewer = None
    g.csrf = None
    if request.endpoint in ("static", "admin.healthz") or request.path.startswith("/api/"):
        return None
    settings = state().config.settings.web
    if settings.auth == "header":
        response = _from_header()
        if response is not None:
            return response
    else:
        _from_session()
    if request.method == "POST" and not _csrf_ok():
        abort(400, "CSRF token missing or invalid: reload the page and try again")
    if g.viewer is None and request.endpoint not in OPEN_ENDPOINTS:
        if settings.auth == "header":
            abort(403, "Sign-in goes through the company's SSO proxy, which did not name a user")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def csrf_token() -> str:
    """The token forms carry: the session's, or (before sign-in) one kept in the signed cookie."""
    if g.get("csrf"):
        return str(g.csrf)
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _csrf_ok() -> bool:
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = g.csrf or session.get("csrf") or ""
    return bool(sent and expected) and hmac.compare_digest(str(sent), str(expected))


def _from_session(now: datetime | None = None) -> None:
    sid = session.get("sid")
    if not sid:
        return
    st = state()
    now = now or datetime.now(UTC)
    settings = st.config.settings.web
    row = st.store.get_session(digest(sid))
    if row is None or now - row.seen_at > settings.session_idle or now - row.created_at > settings.session_max:
        if row is not None:
            st.store.delete_session(digest(sid))
        session.pop("sid", None)
        flash("Your session ended; please sign in again.")
        return
    user = st.store.get_user(row.user)
    if user is None or user.disabled:
        st.store.delete_session(digest(sid))
        session.pop("sid", None)
        return
    if now - row.seen_at >= SEEN_EVERY:
        st.store.touch_session(digest(sid), now=now)
    g.viewer = Viewer(user.name, user.role, frozenset(user.groups))
    g.csrf = row.csrf


def _from_header() -> Any:
    st = state()
    settings = st.config.settings.web
    name = request.headers.get(settings.trusted_header, "").strip()
    if not name:
        return None
    if not from_trusted_proxy(settings.trusted_proxies):
        abort(403, f"The {settings.trusted_header} header is only believed from the SSO proxy")
    user = st.store.get_user(name)
    if user is None or user.disabled:
        abort(403, f"You are signed in as {name}, who is not an opskit user. Ask an admin: runner.py users add")
    g.viewer = Viewer(user.name, user.role, frozenset(user.groups))
    sid = session.get("sid")
    row = st.store.get_session(digest(sid)) if sid else None
    if row is None or row.user != name:
        _start_session(name)
    else:
        g.csrf = row.csrf
    return None


def _start_session(user: str) -> None:
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    state().store.create_session(digest(sid), user, csrf=csrf, ip=client_ip())
    session.clear()
    session["sid"] = sid
    session.permanent = True
    g.csrf = csrf


def client_ip() -> str:
    """The client's address; behind a trusted proxy, the last address it added to X-Forwarded-For."""
    remote = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and from_trusted_proxy(state().config.settings.web.trusted_proxies):
        return forwarded.split(",")[-1].strip()[:64]
    return remote


def from_trusted_proxy(proxies: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(p, strict=False) for p in proxies)


def require(role: str) -> Viewer:
    """The viewer, if their role allows ``role``'s actions; else 403."""
    viewer: Viewer | None = g.get("viewer")
    if viewer is None:
        abort(401)
    if not viewer.can(role):
        abort(403, f"This needs the {role} role; you are a {viewer.role}. Ask an admin (runner.py users set).")
    return viewer


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    st = state()
    settings = st.config.settings.web
    if settings.auth == "header":
        return redirect(url_for("jobs.index"))
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=next_url)
    name = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")
    now = datetime.now(UTC)
    since = now - settings.login_window
    ip = client_ip()
    if (
        st.store.count_audit("login_failed", since=since, user=name) >= settings.login_attempts
        or st.store.count_audit("login_failed", since=since, ip=ip) >= 4 * settings.login_attempts
    ):
        minutes = int(settings.login_window.total_seconds() // 60)
        st.store.audit("login_refused", user=name, ip=ip, detail={"reason": "too many failed sign-ins"})
        message = f"Too many failed sign-ins. Try again in {minutes} minutes."
        return render_template("login.html", next=next_url, error=message, username=name), 429
    user = st.store.get_user(name) if name else None
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or user.disabled:
        st.store.audit("login_failed", user=name, ip=ip)
        return render_template("login.html", next=next_url, error="Wrong user name or password.", username=name), 401
    st.store.prune_sessions(idle_before=now - settings.session_idle, created_before=now - settings.session_max)
    _start_session(user.name)
    st.store.audit("login", user=user.name, ip=ip)
    return redirect(next_url or url_for("jobs.index"))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    sid = session.get("sid")
    if sid:
        state().store.delete_session(digest(sid))
    if g.viewer is not None:
        state().store.audit("logout", user=g.viewer.name, ip=client_ip())
    session.clear()
    flash("Signed out.")
    return redirect(url_for("auth.login"))


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an absolute URL or ``//host`` (an open redirect)."""
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
