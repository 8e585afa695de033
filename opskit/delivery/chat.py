"""Chat alerts through incoming webhooks: Slack, Lark (Feishu) and Microsoft Teams.

The webhook URL is a secret (anyone holding it can post): it comes from an environment variable and never
appears in a log line or an error message. Posts are retried with exponential backoff on 429, 5xx,
timeouts and dropped connections, a bounded number of times; other answers fail at once. The settings
(``WebhookSettings``, config.yaml's ``chat:``) are in ``opskit.config.chat``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opskit.errors import ConfigError, DeliveryError
from opskit.sources.retry import Backoff

if TYPE_CHECKING:
    from opskit.config.chat import WebhookSettings

log = logging.getLogger(__name__)

MAX_WAIT_S = 30.0
"""The longest wait between two attempts, also when the chat's Retry-After asks for more."""


def slack_payload(title: str, text: str, fields: Mapping[str, str]) -> dict[str, Any]:
    def esc(s: str) -> str:  # Slack mrkdwn: these three are the control characters
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": esc(text)[:3000]}},
    ]
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{esc(k)}*\n{esc(str(v))}"[:2000]}
                    for k, v in list(fields.items())[:10]
                ],
            }
        )
    return {"text": f"{title}: {text}"[:3000], "blocks": blocks}


def lark_payload(title: str, text: str, fields: Mapping[str, str]) -> dict[str, Any]:
    # plain_text everywhere: content from a failing job must not become markup in the card
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "plain_text", "content": text}}]
    if fields:
        elements.append(
            {
                "tag": "div",
                "fields": [
                    {"is_short": True, "text": {"tag": "plain_text", "content": f"{k}\n{v}"}} for k, v in fields.items()
                ],
            }
        )
    return {
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": title}, "template": "red"},
            "elements": elements,
        },
    }


_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]()])")  # links, emphasis and code: what Teams renders inline


def _teams_text(text: str) -> str:
    """Adaptive Card text is Markdown: data quoted in an alert must not become links or formatting."""
    return _TEAMS_MARKDOWN.sub(r"\\\1", str(text))


def teams_payload(title: str, text: str, fields: Mapping[str, str]) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _teams_text(title), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": _teams_text(text), "wrap": True},
    ]
    if fields:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": _teams_text(k), "value": _teams_text(v)} for k, v in fields.items()],
            }
        )
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }
        ],
    }


PAYLOADS: dict[str, Callable[[str, str, Mapping[str, str]], dict[str, Any]]] = {
    "slack": slack_payload,
    "lark": lark_payload,
    "teams": teams_payload,
}


def post_alert(
    settings: WebhookSettings | None,
    title: str,
    text: str,
    fields: Mapping[str, str] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post an alert to the configured chat; returns the number of attempts (0 when only logged).

    Raises:
        ConfigError: the URL's environment variable is not set.
        DeliveryError: every attempt failed, or the chat refused the post (the message says how).
    """
    fields = dict(fields or {})
    if settings is None:
        log.warning("alert (no chat webhook configured): %s: %s %s", title, text, fields or "")
        return 0
    url = os.environ.get(settings.url_env)
    if not url:
        raise ConfigError(f"chat webhook: environment variable {settings.url_env} is not set")
    import requests  # loaded only when an alert is posted (start-up time of the CLI)

    from opskit.sources.http import RetryingSession  # with requests, for the same reason

    payload = PAYLOADS[settings.kind](title, text, fields)
    tries = settings.max_attempts
    backoff = Backoff(attempts=tries, first=settings.backoff_s, cap=MAX_WAIT_S)
    with RetryingSession(backoff=backoff, timeout=settings.timeout_s, sleep=sleep) as session:
        try:
            resp = session.post(url, json=payload)
        except requests.Timeout:
            raise DeliveryError(
                f"{settings.kind} webhook: timed out after {settings.timeout_s:g}s after {tries} attempts"
            ) from None
        except requests.ConnectionError:
            raise DeliveryError(f"{settings.kind} webhook: connection failed after {tries} attempts") from None
        attempts = session.last_attempts
    if resp.status_code == 429 or resp.status_code >= 500:
        raise DeliveryError(f"{settings.kind} webhook: HTTP {resp.status_code} after {tries} attempts")
    if resp.status_code >= 300:
        raise DeliveryError(
            f"{settings.kind} webhook refused the alert (HTTP {resp.status_code}); check the URL in {settings.url_env}"
        )
    _check_lark(settings, resp)
    log.info("%s alert posted (attempt %d): %s", settings.kind, attempts, title)
    return attempts


def _check_lark(settings: WebhookSettings, resp: Any) -> None:
    # Lark answers HTTP 200 with {"code": <non-zero>, "msg": ...} when it rejects a post.
    if settings.kind != "lark":
        return
    try:
        body = resp.json()
    except ValueError:
        return
    code = body.get("code", body.get("StatusCode", 0)) if isinstance(body, dict) else 0
    if code:
        msg = body.get("msg") or body.get("StatusMessage") or ""
        raise DeliveryError(f"lark webhook refused the alert (code {code}: {msg})")
