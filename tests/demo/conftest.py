"""Fixtures for the Moderation Console tests: one small generated database per session, a running
console, and helpers to sign in with requests."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import requests

from demo.generate import generate
from demo.server import ConsoleServer

SCALE = 6000
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class FakeClock:
    """A clock the console reads instead of time.time(); tests move it by hand."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def console_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("console") / "console.db"
    generate(path, seed=7, days=28, start="2026-10-19", scale=SCALE)
    return path


@pytest.fixture(scope="session")
def sql(console_db):
    conn = sqlite3.connect(console_db)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def console(console_db):
    with ConsoleServer(console_db, use_env=False, api_rate_per_second=0) as server:
        yield server


@pytest.fixture
def make_console(console_db):
    """Start extra consoles with settings overrides; all are stopped at the end of the test."""
    servers: list[ConsoleServer] = []

    def make(**overrides) -> ConsoleServer:
        server = ConsoleServer(console_db, use_env=False, **overrides).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(server: ConsoleServer, http: requests.Session | None = None) -> requests.Session:
    """A requests session signed in to ``server`` (no OTP)."""
    http = http or requests.Session()
    page = http.get(server.url + "/login")
    resp = http.post(
        server.url + "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": server.username,
            "password": server.password,
        },
    )
    assert resp.url.endswith("/queues"), resp.url
    return http
