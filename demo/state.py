"""The console's per-app state and the request helpers that reach it, shared by the pages and the API.

``app.py`` (pages) and ``api.py`` (the JSON API) both need the app's ``Console`` (settings, the
data's time frame, export jobs, the rate limiter), a database connection per request, and the case
filter parsed from a request. They live here so that both import this module and neither imports
the other (``app.create_app`` registers the API's blueprint).
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import abort, current_app, g

from demo.db import CaseFilter, connect, iso, parse_iso, read_meta
from demo.export import ExportJobs
from demo.settings import ConsoleSettings, RateLimiter


class Console:
    """Per-app state: settings, the data's time frame, export jobs, the rate limiter."""

    def __init__(self, db_path: Path, settings: ConsoleSettings):
        self.db_path, self.settings = db_path, settings
        conn = connect(db_path)
        try:
            self.meta = read_meta(conn)
            self.queues = [
                dict(
                    zip(
                        (
                            "queue_id",
                            "name",
                            "channel",
                            "market",
                            "policy_area",
                            "sla_hours",
                            "priority",
                        ),
                        row,
                        strict=True,
                    )
                )
                for row in conn.execute("SELECT * FROM queues ORDER BY queue_id")
            ]
            self.vendors = [v for (v,) in conn.execute("SELECT DISTINCT vendor FROM moderators ORDER BY 1")]
        finally:
            conn.close()
        self.markets = sorted({q["market"] for q in self.queues})
        self.data_start = date.fromisoformat(self.meta["start"])
        self.data_end = date.fromisoformat(self.meta["end"]) - timedelta(days=1)  # last day, inclusive
        end = datetime.combine(date.fromisoformat(self.meta["end"]), datetime.min.time(), UTC)
        self.now = settings.now or end
        self._tmp = None
        export_dir = settings.export_dir
        if export_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="console-exports-")
            export_dir = Path(self._tmp.name)
        self.exports = ExportJobs(db_path, Path(export_dir))
        burst = settings.api_burst or max(1, int(settings.api_rate_per_second))
        self.limiter = RateLimiter(settings.api_rate_per_second, burst, settings.clock)
        self._rng = random.Random(settings.error_seed)
        self._lock = threading.Lock()
        self._dashboard: list[dict] | None = None

    def close(self) -> None:
        """Remove the console's own export folder (when it made one)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def fail_now(self) -> bool:
        """Whether the error-rate switch picks this request for a simulated 500."""
        if self.settings.error_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.settings.error_rate

    def dashboard(self, conn: sqlite3.Connection) -> list[dict]:
        """Each queue's backlog, oldest age, incoming and completed in the last 24 h, SLA status."""
        if self._dashboard is not None:  # the data never change under a running console
            return self._dashboard
        now, since = iso(self.now), iso(self.now - timedelta(hours=24))
        backlog = {
            q: (n, oldest)
            for q, n, oldest in conn.execute(
                "SELECT queue_id, count(*), min(created_at) FROM cases WHERE created_at <= ?"
                " AND (completed_at IS NULL OR completed_at > ?) GROUP BY queue_id",
                (now, now),
            )
        }
        incoming = dict(
            conn.execute(
                "SELECT queue_id, count(*) FROM cases WHERE created_at > ? AND created_at <= ? GROUP BY 1",
                (since, now),
            )
        )
        completed = dict(
            conn.execute(
                "SELECT queue_id, count(*) FROM cases WHERE completed_at > ? AND completed_at <= ? GROUP BY 1",
                (since, now),
            )
        )
        rows = []
        for q in self.queues:
            n, oldest = backlog.get(q["queue_id"], (0, None))
            age = (self.now - parse_iso(oldest)).total_seconds() / 3600 if oldest else None
            status = (
                "breached"
                if age is not None and age > q["sla_hours"]
                else "at risk"
                if age is not None and age > 0.75 * q["sla_hours"]
                else "on track"
            )
            rows.append(
                {
                    **q,
                    "backlog": n,
                    "oldest_age_hours": None if age is None else round(age, 2),
                    "incoming_24h": incoming.get(q["queue_id"], 0),
                    "completed_24h": completed.get(q["queue_id"], 0),
                    "sla_status": status,
                }
            )
        self._dashboard = rows
        return rows


def console() -> Console:
    """The running app's Console."""
    return current_app.extensions["console"]


def db() -> sqlite3.Connection:
    """This request's connection to the console's database (closed when the request ends)."""
    if "db" not in g:
        g.db = connect(console().db_path)
    return g.db


def case_filter(args: Mapping[str, str]) -> CaseFilter:
    """The case filter of a request's arguments; a bad filter is a 400 naming the problem."""
    try:
        return CaseFilter.from_args(args)
    except ValueError as exc:
        abort(400, str(exc))
