"""sla_watch against a small queue API on 127.0.0.1: an empty queue has no oldest case (DOMAIN.md's oldest
age is over the backlog), so it is never in breach for its age, and the checks show n/a, not 0 h."""

from __future__ import annotations

import json
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

QUEUES = {
    "as_of": "2026-12-02T08:00:00Z",
    "data": [
        {"queue_id": "q-empty", "name": "Empty queue", "backlog": 0, "oldest_age_hours": None},
        {"queue_id": "q-old", "name": "Old queue", "backlog": 3, "oldest_age_hours": 30.5},
        {"queue_id": "q-fine", "name": "Fine queue", "backlog": 7, "oldest_age_hours": 2.0},
    ],
}


@pytest.fixture
def queue_api():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(QUEUES).encode()
            ok = self.path == "/api/v1/queues" and self.headers.get("Authorization") == "Bearer t0ken-for-tests"
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_empty_queue_has_no_oldest_case_and_is_not_in_breach_for_its_age(
    queue_api, tmp_project, run_cli, monkeypatch
):
    monkeypatch.setenv("QUEUE_API_TOKEN", "t0ken-for-tests")
    tmp_project.write_config(
        textwrap.dedent(f"""\
        timezone: Europe/Berlin
        sources:
          console:
            url: {queue_api}
            token_env: QUEUE_API_TOKEN
        """)
    )
    result = run_cli("run", "sla_watch", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["result"]["summary"]
    assert summary["breaches"] == ["q-old"]
    checks = {(c["where"], c["metric"]): c for c in summary["checks"]}
    assert checks[("Empty queue", "Oldest case")]["value"] is None  # n/a, not 0 h
    assert checks[("Empty queue", "Oldest case")]["state"] == "ok"
    assert checks[("Old queue", "Oldest case")]["state"] == "breach"
