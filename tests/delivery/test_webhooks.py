from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from opskit.config.chat import WebhookSettings
from opskit.delivery.chat import post_alert
from opskit.errors import ConfigError, DeliveryError
from tests.conftest import wait_for

from .conftest import free_port

SECRET_PATH = "/hooks/T000/B000/very-secret-token"


class Hook:
    """A real HTTP server on 127.0.0.1; ``script`` says how to answer each request in turn."""

    def __init__(self):
        self.script: list[object] = []
        self.bodies: list[dict] = []
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.bodies.append(body)
                action = hook.script.pop(0) if hook.script else 200
                if action == "hang":
                    hook.release.wait(10)  # longer than the client's timeout; released at teardown
                    return
                status, payload, headers = (action, {}, {}) if isinstance(action, int) else action
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SECRET_PATH}"

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def hook(monkeypatch):
    h = Hook()
    monkeypatch.setenv("TEST_HOOK_URL", h.url)
    yield h
    h.stop()


def settings(kind="slack", **kw):
    return WebhookSettings(kind=kind, url_env="TEST_HOOK_URL", backoff_s=0.5, **kw)


def test_500_then_200_retries_with_backoff(hook, caplog):
    hook.script = [500, 503, 200]
    waits: list[float] = []
    with caplog.at_level(logging.DEBUG):
        attempts = post_alert(settings(), "Job failed", "weekly_emea: console down", {"run": "r1"}, sleep=waits.append)
    assert attempts == 3 and len(hook.bodies) == 3
    assert waits == [0.5, 1.0]  # exponential backoff
    # opskit never logs the URL at any level; urllib3 logs request lines at DEBUG only (the
    # RunContext's secrets filter redacts those), so nothing at INFO and above shows it
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("opskit")]
    assert len(ours) == 3 and not any("very-secret-token" in m for m in ours)
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not any("very-secret-token" in m for m in loud)


def test_429_honours_retry_after(hook):
    hook.script = [(429, {}, {"Retry-After": "7"}), 200]
    waits: list[float] = []
    assert post_alert(settings(), "t", "x", sleep=waits.append) == 2
    assert waits == [7.0]


def test_timeout_is_retried(hook):
    hook.script = ["hang", 200]
    assert post_alert(settings(timeout_s=0.3), "t", "x", sleep=lambda s: None) == 2
    # the hung request is recorded when its handler thread runs, which may be after the client gave up on it
    wait_for(lambda: len(hook.bodies) == 2, timeout=10, what="the hook to have both posts")


def test_gives_up_after_max_attempts_without_showing_the_url(hook):
    hook.script = [500, 500, 500]
    with pytest.raises(DeliveryError) as info:
        post_alert(settings(max_attempts=3), "t", "x", sleep=lambda s: None)
    assert str(info.value) == "slack webhook: HTTP 500 after 3 attempts"
    assert info.value.retryable


def test_timeouts_every_time_name_the_timeout_not_the_url(hook):
    hook.script = ["hang", "hang"]
    with pytest.raises(DeliveryError, match=r"^teams webhook: timed out after 0.2s after 2 attempts$"):
        post_alert(settings("teams", timeout_s=0.2, max_attempts=2), "t", "x", sleep=lambda s: None)


def test_a_4xx_is_not_retried(hook):
    hook.script = [404]
    refused = r"slack webhook refused the alert \(HTTP 404\); check the URL in TEST_HOOK_URL"
    with pytest.raises(DeliveryError, match=refused):
        post_alert(settings(), "t", "x", sleep=lambda s: None)
    assert len(hook.bodies) == 1


def test_lark_error_code_in_a_200_is_an_error(hook):
    hook.script = [(200, {"code": 19021, "msg": "sign match fail"}, {})]
    with pytest.raises(DeliveryError, match=r"lark webhook refused the alert \(code 19021: sign match fail\)"):
        post_alert(settings("lark"), "t", "x", sleep=lambda s: None)


def test_payload_shapes(hook):
    fields = {"job": "weekly_emea", "run": "<b>r1</b>"}
    for kind in ("slack", "lark", "teams"):
        post_alert(settings(kind), "Job failed", "cause <script>x</script>", fields, sleep=lambda s: None)
    slack, lark, teams = hook.bodies
    assert slack["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Job failed"}}
    assert slack["blocks"][1]["text"]["text"] == "cause &lt;script&gt;x&lt;/script&gt;"
    assert slack["blocks"][2]["fields"][1]["text"] == "*run*\n&lt;b&gt;r1&lt;/b&gt;"
    assert lark["msg_type"] == "interactive"
    assert lark["card"]["header"]["title"] == {"tag": "plain_text", "content": "Job failed"}
    assert lark["card"]["elements"][0]["text"] == {"tag": "plain_text", "content": "cause <script>x</script>"}
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][2] == {
        "type": "FactSet",
        "facts": [{"title": "job", "value": "weekly\\_emea"}, {"title": "run", "value": "<b>r1</b>"}],
    }


def test_no_webhook_configured_only_logs(caplog):
    with caplog.at_level(logging.WARNING):
        assert post_alert(None, "Job failed", "cause") == 0
    assert "alert (no chat webhook configured): Job failed: cause" in caplog.text


def test_missing_url_variable_is_a_config_error(monkeypatch):
    monkeypatch.delenv("TEST_HOOK_URL", raising=False)
    with pytest.raises(ConfigError, match="chat webhook: environment variable TEST_HOOK_URL is not set"):
        post_alert(settings(), "t", "x")


def test_settings_validate():
    with pytest.raises(ValidationError, match="Input should be 'slack', 'lark' or 'teams'"):
        WebhookSettings(kind="discord", url_env="X")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        WebhookSettings(kind="slack", url_env="X", url="https://hooks.slack.com/x")


def test_teams_cards_show_data_as_text_not_markdown():
    from opskit.delivery.chat import teams_payload

    card = teams_payload("Job x", "bad row: [click](http://evil.example) *now*", {"file": "a_b.csv"})
    body = card["attachments"][0]["content"]["body"]
    assert body[1]["text"] == "bad row: \\[click\\]\\(http://evil.example\\) \\*now\\*"
    assert body[2]["facts"] == [{"title": "file", "value": "a\\_b.csv"}]
