"""``wait_for_any(reload=...)`` against a real page that shows its outcome only when loaded again."""

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
