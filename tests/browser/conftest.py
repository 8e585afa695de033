"""Fixtures for the browser layer and the data-collection tasks: one small generated console database per
session, a shared console, extra consoles with switches, and a RunContext wired to a console."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest

from demo.generate import generate
from demo.server import ConsoleServer
from opskit.config.browser import BrowserSettings
from opskit.config.model import SourceConfig
from opskit.context import RunContext
from opskit.period import Period
from opskit.redact import Redactor
from tests.conftest import wait_for  # noqa: F401 (re-exported for the browser tests)

SCALE = 3000
USER_ENV, PASSWORD_ENV, TOKEN_ENV = (
    "TEST_CONSOLE_USER",
    "TEST_CONSOLE_PASSWORD",
    "TEST_CONSOLE_TOKEN",
)
PASSWORD = "s3cret-Pa55word-for-tests"
TOKEN = "test-api-token-0b1c"
ALT_LAYOUT = {
    "username": "#login-user",
    "password": "#login-pass",
    "login_button": "#signin-submit",
    "login_error": "#auth-error",
    "date_from": "testid=flt-from",
    "date_to": "#flt-to",
    "queue": "#flt-queue",
    "market": "#flt-market",
    "vendor": "#flt-vendor",
    "search_button": "#apply-filters",
    "export_csv": "#download-csv",
    "export_status": "#job-status",
    "download_link": "#export-ready-link",
    "total_count": "#result-count",
}
"""The console's other layout (``alt_layout=True``: its ids renamed), as config.yaml would name its elements."""
WEEK = Period.parse("2026-W46", tz=UTC, scheduled_for=datetime(2026, 11, 18, tzinfo=UTC))


class RequestLog:
    """WSGI middleware that records every request (method, path, status), to prove what the browser did.

    ``hook(method, path, query)`` runs after each answer; ``rewrite = (old, new)`` edits /cases pages.
    """

    def __init__(self, app: Any):
        self.app, self.counts = app, Counter()
        self.log: list[tuple[str, str, int]] = []
        self.hook: Any = None
        self.rewrite: tuple[bytes, bytes] | None = None

    def errors(self, status: int = 500) -> list[str]:
        """Paths answered with ``status`` (the browser's own favicon requests left out)."""
        return [p for _, p, s in self.log if s == status and p != "/favicon.ico"]

    def __call__(self, environ: dict, start_response: Any) -> Any:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        self.counts[(method, path)] += 1
        rewrite = self.rewrite if (method, path) == ("GET", "/cases") else None

        def respond(status: str, headers: list, exc_info: Any = None) -> Any:
            self.log.append((method, path, int(status.split()[0])))
            if rewrite:
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            return start_response(status, headers, exc_info)

        body = self.app(environ, respond)
        if rewrite:
            data = b"".join(body)
            getattr(body, "close", lambda: None)()
            body = [data.replace(*rewrite)]
        if self.hook is not None:
            self.hook(method, path, query)
        return body


@pytest.fixture(scope="session")
def console_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("browser-console") / "console.db"
    generate(path, seed=7, days=28, start="2026-10-19", scale=SCALE)
    return path


def _start(db: Path, **overrides: Any) -> ConsoleServer:
    settings = {"password": PASSWORD, "api_token": TOKEN, "api_rate_per_second": 0, **overrides}
    server = ConsoleServer(db, use_env=False, **settings)
    server.requests = RequestLog(server.app.wsgi_app)  # type: ignore[attr-defined]
    server.app.wsgi_app = server.requests  # type: ignore[method-assign]
    return server.start()


@pytest.fixture(scope="session")
def console(console_db):
    """The shared console (normal layout, no switches). Tests must not change its state."""
    server = _start(console_db)
    yield server
    server.stop()


@pytest.fixture
def make_console(console_db):
    """Start consoles with switches (``alt_layout=True``, ``error_rate=0.3``, ...); stopped after the test."""
    servers: list[ConsoleServer] = []

    def make(**overrides: Any) -> ConsoleServer:
        server = _start(console_db, **overrides)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv(USER_ENV, "analyst")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture
def make_ctx(tmp_path, credentials):
    """A RunContext whose source 'console' points at ``server``; runs share one var/ (saved sign-ins)."""
    counter = iter(range(1, 1000))

    def make(
        server: ConsoleServer,
        *,
        browser: dict | None = None,
        task: str = "test",
        url: str | None = None,
        **source: Any,
    ) -> RunContext:
        src = SourceConfig(
            url=url or server.url,
            username_env=USER_ENV,
            password_env=PASSWORD_ENV,
            token_env=TOKEN_ENV,
            browser=BrowserSettings(**(browser or {})),
            **source,
        )
        run_id = f"run{next(counter):03d}"
        folder = tmp_path / "var" / "runs" / run_id
        folder.mkdir(parents=True, mode=0o700)
        redactor = Redactor()
        logger = logging.getLogger(f"opskit.task.{task}")
        logger.addFilter(redactor)
        return RunContext(
            run_id=run_id,
            job=None,
            task=task,
            params={},
            scheduled_for=datetime(2026, 11, 16, 8, tzinfo=UTC),
            tz=ZoneInfo("UTC"),
            folder=folder,
            data_dir=tmp_path / "data",
            sources={"console": src},
            state_dir=tmp_path / "var" / "state",
            log=logger,
            redactor=redactor,
        )

    return make


def browser_processes() -> list[psutil.Process]:
    """Chromium and Playwright driver processes that are children of this test process."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            name = " ".join(p.cmdline()[:2]).lower()
        except psutil.Error:
            continue
        if "chrom" in name or "playwright" in name or "node" in name:
            found.append(p)
    return found


# --- Appeals Desk, the second stand-in (tests/fixtures/appdesk) --------------------------------------
DESK_USER_ENV, DESK_PASSWORD_ENV = "TEST_DESK_USER", "TEST_DESK_PASSWORD"
GOT_IT = 'role=button[name="Got it"]'


@pytest.fixture(scope="session")
def desk():
    """The shared Appeals Desk (hash routes, in-place sign-in, no random failures). Do not change it."""
    from tests.fixtures.appdesk.server import AppDesk

    with AppDesk() as server:
        yield server


@pytest.fixture
def make_desk():
    """Start desks with options (``router="history"``, ``login="popup"``, ``fail_rate=0.5``, ...)."""
    from tests.fixtures.appdesk.server import AppDesk

    servers: list[Any] = []

    def make(**options: Any) -> Any:
        servers.append(AppDesk(**options).start())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def desk_ctx(make_ctx, monkeypatch):
    """A RunContext whose only source 'desk' points at a desk; runs share one var/ (saved sign-ins)."""
    from tests.fixtures.appdesk.server import USER

    monkeypatch.setenv(DESK_USER_ENV, USER)

    def make(desk: Any, *, browser: dict | None = None, password: str | None = None, **source: Any) -> RunContext:
        monkeypatch.setenv(DESK_PASSWORD_ENV, password or desk.password)
        ctx = make_ctx(desk, task="desk_test", browser={"dismiss": [GOT_IT], **(browser or {})})
        src = SourceConfig(
            url=desk.url,
            username_env=DESK_USER_ENV,
            password_env=DESK_PASSWORD_ENV,
            browser=BrowserSettings(**{"dismiss": [GOT_IT], "action_timeout": "5s", **(browser or {})}),
            **source,
        )
        ctx.sources = {"desk": src}
        return ctx

    return make
