"""What the web app keeps between requests: the config (followed as it changes), the tasks, timetables,
one history connection per server thread, and who may see which job.

The config is re-read when config.yaml changes (checked at most every two seconds); an edit that does
not validate is logged and the previous config stays in force, as the scheduler does.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opskit.config.file import read_config_file
from opskit.config.model import Config, JobConfig, load_config
from opskit.engine.history import RunRecord, RunStore
from opskit.engine.scheduling import job_timetable
from opskit.engine.timetable import Slot, Timetable
from opskit.errors import OpskitError
from opskit.redact import Redactor
from opskit.tasks import Registry, discover
from opskit.web.security import role_allows

log = logging.getLogger(__name__)

CONFIG_CHECK_S = 2.0
HEARTBEAT_STALE_S = 120.0
"""A scheduler heartbeat older than this means no scheduler is running (it beats every 10 s)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: a signed-in user or an API token's owner."""

    name: str
    role: str
    groups: frozenset[str]

    def can(self, needed: str) -> bool:

        return role_allows(self.role, needed)

    def sees(self, job: JobConfig | None) -> bool:
        """Admins see every job; others the jobs of their groups. No job (a bare task, a job that left the
        config) is for admins only."""
        if self.role == "admin":
            return True
        return job is not None and bool(self.groups.intersection(job.groups))


class WebState:
    """Shared by every request of one app."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self._lock = threading.Lock()
        self._local = threading.local()
        self._config = load_config(config_path)
        self._mtime = config_path.stat().st_mtime
        self._checked = time.monotonic()
        self._registry: Registry | None = None
        self._timetables: dict[str, Timetable | None] = {}
        self._next: dict[str, tuple[datetime, list[Slot]]] = {}
        self._raw: dict[str, Any] | None = None
        self._pages: dict[tuple[Any, ...], Any] = {}

    # -- config, tasks, timetables --

    @property
    def config(self) -> Config:
        if time.monotonic() - self._checked >= CONFIG_CHECK_S:
            with self._lock:
                self._maybe_reload()
        return self._config

    def _maybe_reload(self) -> None:
        self._checked = time.monotonic()
        try:
            mtime = self.config_path.stat().st_mtime
        except OSError:
            return
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            config = load_config(self.config_path)
        except OpskitError as exc:
            log.error("config.yaml changed but is not valid; the web app keeps the previous one: %s", exc)
            return
        self._config, self._registry, self._timetables, self._next, self._raw = config, None, {}, {}, None
        log.info("config reloaded: %d job(s)", len(config.jobs))

    @property
    def registry(self) -> Registry:
        config = self.config
        if self._registry is None:
            with self._lock:
                if self._registry is None:
                    self._registry = discover(config.tasks_dir)
        return self._registry

    def raw_jobs(self) -> dict[str, Any]:
        """The jobs as written in config.yaml, ``${VAR}`` not filled in (what the job page shows)."""
        self.config  # noqa: B018 - re-reads the file when it changed
        if self._raw is None:
            jobs = read_config_file(self.config_path, interpolate=False).data.get("jobs")
            self._raw = jobs if isinstance(jobs, dict) else {}
        return self._raw

    def timetable(self, name: str) -> Timetable | None:
        if name not in self._timetables:
            try:
                self._timetables[name] = job_timetable(self.config, name)
            except OpskitError:
                self._timetables[name] = None
        return self._timetables[name]

    def next_slots(self, name: str, now: datetime, count: int = 3) -> list[Slot]:
        """The next slots of a job, computed once per slot (the jobs page asks for 500 jobs per view)."""
        cached = self._next.get(name)
        if cached is not None and cached[0] > now and len(cached[1]) >= count:
            return cached[1][:count]
        timetable = self.timetable(name)
        job = self.config.jobs.get(name)
        if timetable is None or job is None or not job.enabled:
            return []
        try:
            slots = timetable.upcoming(now, count)
        except OpskitError:
            return []
        if slots:
            self._next[name] = (slots[0].at, slots)
        return slots

    # -- the history --

    def history_fingerprint(self) -> tuple[int, ...]:
        """Changes whenever anything commits to the history (WAL mode: every commit grows or rewrites the
        ``-wal`` file; a checkpoint rewrites the main file). Equal fingerprints: nothing changed in between."""
        path = self.config.history_path
        out: list[int] = []
        for name in (path, path.with_name(path.name + "-wal")):
            try:
                stat = os.stat(name)
            except OSError:
                out += [0, 0]
                continue
            out += [stat.st_mtime_ns, stat.st_size]
        return tuple(out)

    def cached(self, key: tuple[Any, ...], build: Any, *, seconds: float = 5.0) -> Any:
        """``build()``, or what it gave for the same ``key`` while the history did not change and at most
        ``seconds`` ago (relative times like "3 min ago" are that fresh). Twenty people watching the same
        jobs page cost one render per change, not twenty."""
        full = (id(self._config), self.history_fingerprint(), int(time.time() // seconds), *key)
        hit = self._pages.get(full)
        if hit is not None:
            return hit
        value = build()
        with self._lock:
            if len(self._pages) >= 64:
                self._pages.clear()
            self._pages[full] = value
        return value

    @property
    def store(self) -> RunStore:
        """This thread's connection to the history (sqlite connections are not shared between threads)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = RunStore(self.config.history_target, redactor=Redactor(self.config.secrets))
        return store

    def scheduler_alive(self) -> tuple[bool, dict[str, Any] | None]:
        from datetime import UTC

        info = self.store.scheduler_info()
        if info is None or info["stopped_at"] is not None:
            return False, info
        age = (datetime.now(UTC) - info["heartbeat_at"]).total_seconds()
        return age <= HEARTBEAT_STALE_S, info

    # -- who sees what --

    def visible_jobs(self, viewer: Viewer) -> list[str]:
        return [name for name, job in self.config.jobs.items() if viewer.sees(job)]

    def job_for(self, viewer: Viewer, name: str) -> JobConfig | None:
        """The job if it exists and ``viewer`` may see it; None otherwise (the pages answer 404 for both)."""
        job = self.config.jobs.get(name)
        return job if job is not None and viewer.sees(job) else None

    def run_visible(self, viewer: Viewer, record: RunRecord) -> bool:
        job = self.config.jobs.get(record.job) if record.job else None
        return viewer.sees(job)
