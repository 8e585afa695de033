"""The web app factory: ``create_app(config_path)`` wires state, sign-in, blueprints, filters and headers.

Every response carries a strict Content-Security-Policy (scripts and styles from this app only, no inline
script), ``nosniff``, no framing, and ``no-store`` for signed-in pages. Templates autoescape every value:
job names, parameters, log lines and errors are text, never markup.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from opskit.web import admin, api, auth, jobs, mail, runs
from opskit.web.security import secret_key
from opskit.web.state import WebState

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed cookie, with ``Secure`` decided per request (``web.secure_cookies``)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.extensions["opskit"].config.settings.web.secure_cookies
        if mode != "auto":
            return bool(mode == "always")
        if request.scheme == "https":
            return True
        forwarded = request.headers.get("X-Forwarded-Proto", "")
        return forwarded == "https" and auth.from_trusted_proxy(
            app.extensions["opskit"].config.settings.web.trusted_proxies
        )


def create_app(config_path: Path) -> Flask:
    """The app for one config.yaml (and so one history)."""
    st = WebState(Path(config_path))
    app = Flask("opskit.web", root_path=str(Path(__file__).parent))
    app.extensions["opskit"] = st
    settings = st.config.settings.web
    app.secret_key = secret_key(st.config.var_dir)
    app.session_interface = _Sessions()
    app.config.update(
        SESSION_COOKIE_NAME="opskit_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=settings.session_max,
        MAX_CONTENT_LENGTH=1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
    )
    app.before_request(auth.load_user)
    app.after_request(_headers)
    for blueprint in (auth.bp, jobs.bp, runs.bp, mail.bp, admin.bp, api.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _error_page)
    app.jinja_env.filters.update(local=_local, ago=_ago, duration=_duration, size=_size, number=_number)
    app.jinja_env.globals.update(csrf_token=auth.csrf_token)
    app.context_processor(lambda: {"viewer": g.get("viewer"), "web_auth": st.config.settings.web.auth})
    return app


def _headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if "frame-ancestors 'self'" not in response.headers.get("Content-Security-Policy", ""):
        response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(exc: HTTPException) -> Any:
    if request.path.startswith("/api/"):
        return api.http_error(exc)
    titles = {
        400: "Bad request",
        401: "Sign in",
        403: "Not allowed",
        404: "Not found",
        405: "Not allowed",
        429: "Slow down",
    }
    message = exc.description if exc.code != 404 else "There is no such page, or it belongs to a group you are not in."
    return render_template(
        "error.html", code=exc.code, title=titles.get(exc.code or 500, exc.name), message=message
    ), exc.code


def _local(value: datetime | None, tz: Any = None, fmt: str = "%a %d %b %Y %H:%M %Z") -> str:
    if value is None:
        return "-"
    if tz is None:
        from flask import current_app

        tz = current_app.extensions["opskit"].config.settings.timezone
    return value.astimezone(tz).strftime(fmt)


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{int(seconds)}s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400 * 2:
        text = f"{seconds / 3600:.0f} h"
    else:
        text = f"{seconds / 86400:.0f} days"
    return f"in {text}" if future else f"{text} ago"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _number(value: Any) -> str:
    return (
        f"{value:,}"
        if isinstance(value, int) and not isinstance(value, bool)
        else ("-" if value is None else str(value))
    )
