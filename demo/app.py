"""The Moderation Console: a local Flask stand-in for the internal moderation tool.

Pages (login, queue dashboard, case search with exports, targets, productivity) and a JSON API
(``demo/api.py``) over a database written by ``demo.generate``. All user content is rendered through
Jinja2's autoescaping; nothing is marked safe. See demo/README.md for the selectors and switches.
"""

from __future__ import annotations

import hmac
import io
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import wraps
from pathlib import Path

from flask import (
    Flask,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    stream_with_context,
    url_for,
)

from demo.api import api
from demo.db import DECISIONS, connect, count_cases, select_cases, select_targets
from demo.export import csv_chunks, export_filename, write_xlsx
from demo.settings import ConsoleSettings
from demo.state import Console, case_filter, console, db

log = logging.getLogger(__name__)

IDS = {  # element: (normal id, alternative-layout id)
    "username": ("username", "login-user"),
    "password": ("password", "login-pass"),
    "login_button": ("login-button", "signin-submit"),
    "login_error": ("login-error", "auth-error"),
    "otp": ("otp", "one-time-code"),
    "otp_button": ("otp-button", "verify-button"),
    "date_from": ("filter-date-from", "flt-from"),
    "date_to": ("filter-date-to", "flt-to"),
    "date_by": ("filter-date-by", "flt-date-field"),
    "queue": ("filter-queue", "flt-queue"),
    "market": ("filter-market", "flt-market"),
    "vendor": ("filter-vendor", "flt-vendor"),
    "decision": ("filter-decision", "flt-decision"),
    "search_button": ("search-button", "apply-filters"),
    "export_csv": ("export-csv", "download-csv"),
    "export_xlsx": ("export-xlsx", "download-xlsx"),
    "export_status": ("export-status", "job-status"),
    "download_link": ("download-link", "export-ready-link"),
    "total_count": ("total-count", "result-count"),
    "queue_table": ("queue-table", "queues-grid"),
    "case_table": ("case-table", "results-grid"),
    "page_next": ("page-next", "pager-next"),
    "page_prev": ("page-prev", "pager-prev"),
    "targets_table": ("targets-table", "targets-grid"),
    "productivity_table": ("productivity-table", "productivity-grid"),
    "logout": ("logout", "sign-out"),
}
LABELS = {  # button texts: (normal, alternative layout)
    "login_button": ("Sign in", "Continue"),
    "otp_button": ("Verify", "Confirm code"),
    "search_button": ("Search", "Apply filters"),
    "export_csv": ("Export CSV", "Download as CSV"),
    "export_xlsx": ("Export XLSX", "Download as Excel"),
    "download_link": ("Download export", "Get file"),
}
LOGIN_ERROR = "Invalid username or password"
OTP_ERROR = "Invalid one-time code"
CSRF_ERROR = "CSRF token missing or invalid"
EXPIRED = "Your session has expired. Please sign in again."


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _csrf_ok() -> bool:
    sent, expected = request.form.get("csrf_token", ""), session.get("csrf", "")
    return bool(sent and expected) and hmac.compare_digest(sent, expected)


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        s = console().settings
        if "user" not in session:
            return redirect(url_for("login", next=request.full_path))
        expired = s.clock() - session.get("login_at", 0) >= s.session_seconds
        session["requests"] = session.get("requests", 0) + 1
        if s.early_expiry_after is not None and session["requests"] > s.early_expiry_after:
            expired = True
        if expired:
            session.clear()
            return redirect(url_for("login", next=request.full_path, expired=1))
        return view(*args, **kwargs)

    return wrapper


def _safe_next(target: str | None) -> str:
    # only local paths: an open redirect would be a real tool's bug, not a feature to copy
    return target if target and target.startswith("/") and not target.startswith("//") else "/queues"


def create_app(db_path: str | Path, settings: ConsoleSettings | Mapping[str, object] | None = None) -> Flask:
    """The console over ``db_path``, with ConsoleSettings or overrides of the defaults."""
    if not isinstance(settings, ConsoleSettings):
        settings = ConsoleSettings().with_overrides(settings or {})
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_NAME="console_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    state = Console(Path(db_path), settings)
    app.extensions["console"] = state

    @app.context_processor
    def layout():
        k = 1 if settings.alt_layout else 0
        return {
            "ids": {n: v[k] for n, v in IDS.items()},
            "labels": {n: v[k] for n, v in LABELS.items()},
            "csrf_token": _csrf_token,
            "as_of": state.now,
            "alt_layout": settings.alt_layout,
        }

    @app.before_request
    def realism():
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        if request.path != "/favicon.ico" and state.fail_now():  # a browser's own request draws nothing: the
            return _error(500, "Internal Server Error (simulated)")  # same task meets the same errors in any browser
        return None

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'"
        return resp

    @app.teardown_appcontext
    def close_db(_exc):
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    @app.errorhandler(400)
    def bad_request(exc):
        return _error(400, getattr(exc, "description", "Bad request"))

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    @app.get("/")
    def index():
        return redirect(url_for("queues"))

    @app.route("/login", methods=["GET", "POST"])
    def login():
        error = None
        if request.method == "POST":
            if not _csrf_ok():
                abort(400, CSRF_ERROR)
            user, password = request.form.get("username", ""), request.form.get("password", "")
            ok = hmac.compare_digest(user.encode(), settings.username.encode()) & hmac.compare_digest(
                password.encode(), settings.password.encode()
            )
            if ok:
                target = _safe_next(request.form.get("next"))
                session.clear()
                if settings.otp_enabled:
                    session.update(pending_user=user, next=target)
                    return redirect(url_for("login_otp"))
                session.update(user=user, login_at=settings.clock(), requests=0)
                return redirect(target)
            error = LOGIN_ERROR
        return render_template(
            "login.html",
            error=error,
            next=request.values.get("next", ""),
            expired=bool(request.args.get("expired")),
        )

    @app.route("/login/otp", methods=["GET", "POST"])
    def login_otp():
        if "pending_user" not in session:
            return redirect(url_for("login"))
        error = None
        if request.method == "POST":
            if not _csrf_ok():
                abort(400, CSRF_ERROR)
            code, expected = request.form.get("otp", "").strip(), settings.current_otp()
            if expected and hmac.compare_digest(code.encode(), expected.encode()):
                user, target = session["pending_user"], session.get("next", "/queues")
                session.clear()
                session.update(user=user, login_at=settings.clock(), requests=0)
                return redirect(target)
            error = OTP_ERROR
        return render_template("otp.html", error=error)

    @app.route("/logout", methods=["GET", "POST"])
    def logout():
        session.clear()
        return redirect(url_for("login"))

    @app.get("/queues")
    @login_required
    def queues():
        return render_template("queues.html", rows=state.dashboard(db()))

    @app.get("/cases")
    @login_required
    def cases():
        flt = case_filter(request.args)
        page = max(1, _int(request.args.get("page"), 1))
        per_page = min(500, max(1, _int(request.args.get("per_page"), settings.page_size)))
        total = count_cases(db(), flt)
        pages = max(1, -(-total // per_page))
        rows = list(select_cases(db(), flt, limit=per_page, offset=(page - 1) * per_page))
        return render_template(
            "cases.html",
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            flt=flt,
            per_page=per_page,
            state=state,
            decisions=DECISIONS,
            args=flt.as_args(),
        )

    @app.post("/export")
    @login_required
    def export():
        if not _csrf_ok():
            abort(400, CSRF_ERROR)
        flt = case_filter(request.form)
        fmt = request.form.get("format", "csv")
        if fmt not in ("csv", "xlsx"):
            abort(400, f"format must be csv or xlsx, not {fmt!r}")
        name = export_filename(flt, fmt, state.now, state.data_start, state.data_end)
        total = count_cases(db(), flt)
        if total > settings.export_sync_limit:
            job = state.exports.start(flt, fmt, name)
            return redirect(url_for("export_status", job_id=job.job_id), code=303)
        if fmt == "xlsx":
            buf = io.BytesIO()
            write_xlsx(select_cases(db(), flt), buf)
            buf.seek(0)
            return send_file(
                buf,
                as_attachment=True,
                download_name=name,
                mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )

        def stream():
            conn = connect(state.db_path)  # the request's connection closes before streaming ends
            try:
                yield from csv_chunks(select_cases(conn, flt))
            finally:
                conn.close()

        return Response(
            stream_with_context(stream()),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/exports/<job_id>")
    @login_required
    def export_status(job_id: str):
        job = state.exports.get(job_id) or abort(404)
        return render_template("export_status.html", job=job)

    @app.get("/exports/<job_id>/download")
    @login_required
    def export_download(job_id: str):
        job = state.exports.get(job_id)
        if job is None or job.status != "done":
            abort(404)
        return send_file(job.path, as_attachment=True, download_name=job.filename)

    @app.get("/targets")
    @login_required
    def targets():
        rows = select_targets(db(), request.args)
        periods = [p for (p,) in db().execute("SELECT DISTINCT period FROM targets ORDER BY 1")]
        return render_template("targets.html", rows=rows, periods=periods, args=request.args)

    @app.get("/productivity")
    @login_required
    def productivity():
        try:
            d_from = date.fromisoformat(request.args.get("date_from") or str(state.data_end - timedelta(days=6)))
            d_to = date.fromisoformat(request.args.get("date_to") or str(state.data_end))
        except ValueError as exc:
            abort(400, f"bad date: {exc}")
        vendor = request.args.get("vendor") or None
        page = max(1, _int(request.args.get("page"), 1))
        rows, total = productivity_rows(
            db(),
            d_from,
            d_to,
            vendor,
            limit=settings.page_size,
            offset=(page - 1) * settings.page_size,
        )
        return render_template(
            "productivity.html",
            rows=rows,
            total=total,
            page=page,
            d_from=d_from,
            d_to=d_to,
            vendor=vendor,
            state=state,
            pages=max(1, -(-total // settings.page_size)),
        )

    app.register_blueprint(api)
    return app


def productivity_rows(
    conn: sqlite3.Connection,
    d_from: date,
    d_to: date,
    vendor: str | None,
    *,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    """Per moderator and day: handled (completed that day), AHT, productive hours, UPH."""
    where, params = "s.date >= ? AND s.date <= ?", [d_from.isoformat(), d_to.isoformat()]
    if vendor:
        where += " AND m.vendor = ?"
        params.append(vendor)
    total = conn.execute(
        f"SELECT count(*) FROM shifts s JOIN moderators m USING (moderator_id) WHERE {where}",
        params,
    ).fetchone()[0]
    sql = f"""
        WITH h AS (SELECT moderator_id, substr(completed_at, 1, 10) AS d, count(*) AS handled,
                          sum(handle_seconds) AS hs FROM cases
                   WHERE completed_at >= ? AND completed_at < ? GROUP BY 1, 2)
        SELECT s.date, s.moderator_id, m.vendor, m.site, coalesce(h.handled, 0), h.hs,
               s.productive_seconds, s.scheduled_seconds
        FROM shifts s JOIN moderators m USING (moderator_id)
        LEFT JOIN h ON h.moderator_id = s.moderator_id AND h.d = s.date
        WHERE {where} ORDER BY s.date, s.moderator_id LIMIT ? OFFSET ?"""
    bounds = [f"{d_from}T00:00:00Z", f"{d_to + timedelta(days=1)}T00:00:00Z"]
    rows = []
    for d, mod, vend, site, handled, hs, prod, sched in conn.execute(sql, bounds + params + [limit, offset]):
        rows.append(
            {
                "date": d,
                "moderator_id": mod,
                "vendor": vend,
                "site": site,
                "handled": handled,
                "aht_seconds": round(hs / handled, 1) if handled else None,
                "productive_hours": round(prod / 3600, 2),
                "scheduled_hours": round(sched / 3600, 2),
                "uph": round(handled / (prod / 3600), 1) if prod else None,
            }
        )
    return rows, total


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _error(status: int, message: str):
    if request.path.startswith("/api/"):
        return jsonify(error=message), status
    return render_template("error.html", status=status, message=message), status
