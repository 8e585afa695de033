"""The console's JSON API, ``/api/v1``: bearer auth, a per-token rate limit, cursor pages.

Every answer is JSON. Errors are ``{"error": "..."}`` with 400 (bad filter or cursor), 401 (no or
wrong token, with ``WWW-Authenticate: Bearer``), 429 (with ``Retry-After`` in seconds) or 500.
List endpoints return ``{"data": [...], "next_cursor": "..." | null}``; pass ``cursor`` back to get
the next page, until ``next_cursor`` is null.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from flask import Blueprint, abort, jsonify, request

from demo.db import EXPORT_COLUMNS, TARGET_COLUMNS, iso, select_cases, select_targets
from demo.state import case_filter, console, db

api = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_LIMIT = 5000
SHIFT_COLUMNS = (
    "moderator_id",
    "date",
    "scheduled_seconds",
    "productive_seconds",
    "training_seconds",
    "meeting_seconds",
    "wellness_seconds",
    "absence_seconds",
    "vendor",
    "site",
)


@api.before_request
def authenticate():
    state = console()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), state.settings.api_token.encode()):
        resp = jsonify(error="missing or invalid bearer token")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="console"'
        return resp
    wait = state.limiter.take(token)
    if wait:
        resp = jsonify(error="rate limit exceeded", retry_after=wait)
        resp.status_code = 429
        resp.headers["Retry-After"] = str(wait)
        return resp
    return None


@api.errorhandler(400)
def bad_request(exc):
    return jsonify(error=getattr(exc, "description", "bad request")), 400


@api.errorhandler(404)
def not_found(_exc):
    return jsonify(error="not found"), 404


def _cursor_in(name: str) -> int | None:
    text = request.args.get("cursor")
    if not text:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        if kind != name:
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        abort(400, f"invalid cursor {text!r}")


def _cursor_out(name: str, last: int) -> str:
    return base64.urlsafe_b64encode(f"{name}:{last}".encode()).decode()


def _limit(default: int = 500) -> int:
    try:
        value = int(request.args.get("limit") or default)
    except ValueError:
        abort(400, "limit must be a whole number")
    if not 1 <= value <= MAX_LIMIT:
        abort(400, f"limit must be between 1 and {MAX_LIMIT}")
    return value


@api.get("/queues")
def queues():
    state = console()
    return jsonify(as_of=iso(state.now), data=state.dashboard(db()))


@api.get("/cases")
def cases():
    flt = case_filter(request.args)
    after, limit = _cursor_in("case"), _limit()
    rows = list(select_cases(db(), flt, after_id=after, limit=limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    data = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows]
    next_cursor = _cursor_out("case", rows[-1][0]) if more else None
    return jsonify(data=data, next_cursor=next_cursor)


@api.get("/shifts")
def shifts():
    after, limit = _cursor_in("shift"), _limit()
    where, params = ["s.rowid > ?"], [after or 0]
    for arg, clause in (
        ("date_from", "s.date >= ?"),
        ("date_to", "s.date <= ?"),
        ("vendor", "m.vendor = ?"),
        ("moderator_id", "s.moderator_id = ?"),
    ):
        if request.args.get(arg):
            where.append(clause)
            params.append(request.args[arg])
    sql = (
        f"SELECT s.rowid, {', '.join('s.' + c for c in SHIFT_COLUMNS[:-2])}, m.vendor, m.site"
        " FROM shifts s JOIN moderators m ON m.moderator_id = s.moderator_id"
        f" WHERE {' AND '.join(where)} ORDER BY s.rowid LIMIT ?"
    )
    rows = db().execute(sql, params + [limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    data = [dict(zip(SHIFT_COLUMNS, row[1:], strict=True)) for row in rows]
    return jsonify(data=data, next_cursor=_cursor_out("shift", rows[-1][0]) if more else None)


@api.get("/targets")
def targets():
    rows = select_targets(db(), request.args)
    return jsonify(data=[dict(zip(TARGET_COLUMNS, r, strict=True)) for r in rows], next_cursor=None)
