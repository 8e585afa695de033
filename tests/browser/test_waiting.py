"""Waiting for what a page shows later, against small real sites: ``wait_for_any(reload=...)`` on a page that
shows its outcome only when loaded again, and ``download`` on an app that renders its export status itself."""

from __future__ import annotations

import http.server
import threading

import pytest

from opskit.browser.session import BrowserError

pytestmark = pytest.mark.browser


class _Status(http.server.BaseHTTPRequestHandler):
    """``/status`` says "Preparing…" for its first three loads, then shows the link (no refresh of its own)."""

    loads = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path != "/status":
            self.send_error(404)
            return
        type(self).loads += 1
        ready = type(self).loads > 3
        body = '<a id="file" href="/file.csv">Download</a>' if ready else '<p id="wait">Preparing…</p>'
        data = f"<!doctype html><title>Export</title>{body}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def status_site():
    _Status.loads = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_reload_shows_an_outcome_a_page_shows_only_when_loaded_again(console, make_ctx, status_site):
    ctx = make_ctx(console, url=status_site)
    with ctx.browser("console", login=False) as s:
        s.goto("/status")
        with pytest.raises(BrowserError, match=r"none of #file within 0\.5s"):
            s.wait_for_any("#file", timeout=0.5)  # without reloading, the page never changes
        assert _Status.loads == 1
        outcome = s.wait_for_any("#file", reload=0.1, timeout=30)
        assert outcome == "#file" and outcome.text == "Download"
        assert _Status.loads == 4  # reloaded until it showed the link, then no more


APP = """<!doctype html><title>Exports</title><button id="go">Export</button><p id="state"></p>
<script>
document.querySelector("#go").addEventListener("click", async () => {
  const state = document.querySelector("#state");
  state.dataset.status = "running";
  state.textContent = "Preparing...";
  const job = await (await fetch("/api/export", { method: "POST" })).json();
  const poll = async () => {
    const answer = await (await fetch("/api/export/" + job.id)).json();
    if (answer.status !== "done") return setTimeout(poll, 100);
    state.dataset.status = "done";
    state.innerHTML = '<a id="file" href="/file.csv">Download</a>';
  };
  poll();
});
</script>"""


class _App(http.server.BaseHTTPRequestHandler):
    """An app whose export status exists only in the page its code renders (its HTML has none)."""

    hits: dict[str, int] = {}

    def _send(self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        hits = type(self).hits
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path == "/app":
            self._send(200, APP.encode(), "text/html; charset=utf-8")
        elif self.path == "/api/export/1":
            done = hits[self.path] > 3
            self._send(200, b'{"status": "done"}' if done else b'{"status": "running"}', "application/json")
        elif self.path == "/file.csv":
            disposition = {"Content-Disposition": 'attachment; filename="appeals.csv"'}
            self._send(200, b"id,status\r\nAP-1,upheld\r\n", "text/csv", disposition)
        else:
            self._send(404, b"", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        type(self).hits["POST " + self.path] = type(self).hits.get("POST " + self.path, 0) + 1
        self._send(200, b'{"id": 1}', "application/json")

    def log_message(self, *args: object) -> None:
        pass


def test_an_export_status_the_app_renders_itself_is_waited_for_without_reloading_the_app(console, make_ctx):
    _App.hits = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ctx = make_ctx(console, url=f"http://127.0.0.1:{server.server_port}")
        with ctx.browser("console", login=False) as s:
            s.goto("/app")
            path = s.download("#go", status="#state", link="#file")
    finally:
        server.shutdown()
        server.server_close()
    assert path.name == "appeals.csv" and path.read_bytes() == b"id,status\r\nAP-1,upheld\r\n"
    assert _App.hits["POST /api/export"] == 1  # the app was never reloaded: its export went on
    assert _App.hits["/app"] == 2  # the page, and the status read from its HTML (where it is not)
