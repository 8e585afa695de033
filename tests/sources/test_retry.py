"""The one retry mechanism (opskit/sources/retry.py) and the HTTP session built on it, against a real
local server that answers from a script: 503 then 200, 429 with Retry-After, a hang, a refusal."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from opskit.errors import SourceUnavailable
from opskit.sources import ApiClient, Backoff, RetryingSession, retry_after, retrying
from tests.conftest import free_port, wait_for


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers) of the server's script; the last repeats."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server = self.server
        server.hits += 1  # type: ignore[attr-defined]
        script = server.script  # type: ignore[attr-defined]
        status, headers = script.pop(0) if len(script) > 1 else script[0]
        if status == "hang":
            server.release.wait(10)  # type: ignore[attr-defined]
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"data": [1, 2]}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator:
    servers = []

    def start(*script):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
        server.script = [s if isinstance(s, tuple) else (s, {}) for s in script]
        server.hits = 0
        server.release = threading.Event()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        server.url = f"http://127.0.0.1:{server.server_address[1]}/x"
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def test_backoff_doubles_from_first_and_is_capped():
    backoff = Backoff(attempts=6, first=0.5, cap=3.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"attempts": 0}, "attempts must be at least 1"), ({"first": -1}, "cannot be negative")]
)
def test_backoff_refuses_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    class R:
        def __init__(self, value):
            self.headers = {"Retry-After": value} if value is not None else {}

    assert retry_after(R("7")) == 7.0
    assert retry_after(R(format_datetime(now + timedelta(seconds=30), usegmt=True)), now=now) == 30.0
    assert retry_after(R(format_datetime(now - timedelta(seconds=30), usegmt=True)), now=now) == 0.0
    assert retry_after(R("soon")) is None
    assert retry_after(R(None)) is None


def test_server_errors_are_retried_with_doubling_waits_until_an_answer(scripted):
    server = scripted(503, 502, 200)
    waits: list[float] = []
    with RetryingSession(backoff=Backoff(attempts=5, first=0.5), sleep=waits.append) as http:
        response = http.get(server.url)
    assert response.status_code == 200 and response.json() == {"data": [1, 2]}
    assert server.hits == 3
    assert waits == [0.5, 1.0]


def test_a_429_waits_exactly_what_retry_after_says_up_to_the_cap(scripted):
    server = scripted((429, {"Retry-After": "7"}), (429, {"Retry-After": "999"}), 200)
    waits: list[float] = []
    with RetryingSession(backoff=Backoff(attempts=4, first=0.5, cap=60), sleep=waits.append) as http:
        assert http.get(server.url).status_code == 200
    assert waits == [7.0, 60.0]


def test_when_attempts_run_out_the_last_answer_is_returned_as_it_is(scripted):
    server = scripted(500)
    waits: list[float] = []
    with RetryingSession(backoff=Backoff(attempts=3, first=0.1), sleep=waits.append) as http:
        response = http.get(server.url)
    assert response.status_code == 500
    assert server.hits == 3 and len(waits) == 2  # no wait after the last attempt


def test_a_client_error_is_not_retried(scripted):
    server = scripted(404)
    with RetryingSession(sleep=lambda s: pytest.fail("a 404 must not be retried")) as http:
        assert http.get(server.url).status_code == 404
    assert server.hits == 1


def test_a_hung_server_times_out_and_the_timeout_is_retried(scripted):
    server = scripted("hang")
    waits: list[float] = []
    with RetryingSession(backoff=Backoff(attempts=2, first=0.0), timeout=0.3, sleep=waits.append) as http:
        with pytest.raises(requests.Timeout):
            http.get(server.url)
    assert waits == [0.0]
    # the server counts a request when its handler thread runs, which may be after the client gave up on it
    wait_for(lambda: server.hits == 2, timeout=10, what="the server to see both attempts")


def test_a_refused_connection_fails_at_once_only_when_asked():
    url = f"http://127.0.0.1:{free_port()}/x"
    waits: list[float] = []
    with RetryingSession(backoff=Backoff(attempts=3, first=0.0), retry_refused=False, sleep=waits.append) as http:
        with pytest.raises(requests.ConnectionError):
            http.get(url)
    assert waits == []
    with RetryingSession(backoff=Backoff(attempts=3, first=0.0), sleep=waits.append) as http:
        with pytest.raises(requests.ConnectionError):
            http.get(url)
    assert waits == [0.0, 0.0]


def test_the_api_client_names_the_last_problem_and_the_attempts(scripted):
    server = scripted(503)
    client = ApiClient(server.url.rsplit("/", 1)[0], "tok", retries=2, backoff=0.0)
    with client, pytest.raises(SourceUnavailable, match=r"^HTTP 503 from http://127\.0\.0\.1:\d+/x, after 3 attempts$"):
        client.get("/x")
    assert server.hits == 3 and client.waits == [0.0, 0.0]


def test_retrying_reraises_the_last_exception_as_it_was():
    calls = []

    def flaky():
        calls.append(1)
        raise KeyError("still missing")

    attempt = retrying(
        Backoff(attempts=3, first=0.0), retry_on_exception=lambda e: isinstance(e, KeyError), sleep=lambda s: None
    )
    with pytest.raises(KeyError, match="still missing"):
        attempt(flaky)
    assert len(calls) == 3
