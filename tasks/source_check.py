"""Check that each configured source answers, so a dead internal tool is noticed before a report fails."""

from __future__ import annotations

import json
import socket
import ssl
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from opskit import Result, RunContext, SourceUnavailable, task


@task(schedule_hint="@hourly")
def source_check(
    ctx: RunContext,
    *,
    sources: tuple[str, ...] = (),
    tls_warn_days: int = 14,
    max_latency_ms: int = 5000,
) -> Result:
    """Check that each configured source answers: HTTP status, latency, TLS certificate expiry.

    Args:
        sources: Only these sources from config.yaml; every source when empty.
        tls_warn_days: Fail when an https certificate expires within this many days.
        max_latency_ms: Fail when a source takes longer than this to answer.
    """
    from opskit.sources import Backoff, RetryingSession  # requests loads only when the task runs

    names = list(sources) or sorted(ctx.sources)
    # One retry at most: a check reports what it sees; the job's own retries come back later.
    with RetryingSession(backoff=Backoff(attempts=2, first=0.2)) as http:
        checks = [_check(ctx, http, name, tls_warn_days, max_latency_ms) for name in names]
    with ctx.output("source_check.json") as tmp:
        tmp.write_text(json.dumps(checks, indent=2))
    problems = [c for c in checks if c["problem"]]
    for c in checks:
        ctx.log.info(
            "%-16s %-5s %s",
            c["source"],
            "OK" if not c["problem"] else "DOWN",
            c["problem"] or f"HTTP {c['status']} in {c['latency_ms']} ms",
        )
    if problems:
        raise SourceUnavailable(
            f"{len(problems)} of {len(checks)} source(s) failed: "
            + "; ".join(f"{c['source']}: {c['problem']}" for c in problems)
        )
    return Result(
        files=[ctx.path("source_check.json")],
        rows=len(checks),
        summary={c["source"]: f"HTTP {c['status']} in {c['latency_ms']} ms" for c in checks},
    )


def _check(ctx: RunContext, http: Any, name: str, tls_warn_days: int, max_latency_ms: int) -> dict:
    source = ctx.source(name)
    check: dict[str, Any] = {
        "source": name,
        "url": source.url,
        "status": None,
        "latency_ms": None,
        "tls_expires": None,
        "problem": None,
    }
    started = time.monotonic()
    try:
        response = http.get(
            source.url, timeout=source.timeout.total_seconds(), allow_redirects=False, verify=source.verify_tls
        )
    except Exception as exc:  # requests raises many kinds; each means "does not answer"
        check["problem"] = f"cannot reach {source.url} ({_reason(exc)})"
        return check
    check["latency_ms"] = round((time.monotonic() - started) * 1000)
    check["status"] = response.status_code
    if response.status_code >= 500:
        check["problem"] = f"HTTP {response.status_code} from {source.url}"
    elif check["latency_ms"] > max_latency_ms:
        check["problem"] = f"answered in {check['latency_ms']} ms (limit {max_latency_ms} ms)"
    if urlsplit(source.url).scheme == "https" and source.verify_tls:
        expires = _tls_expiry(source.url)
        if expires:
            check["tls_expires"] = expires.isoformat()
            days = (expires - datetime.now(UTC)).days
            if days < tls_warn_days and not check["problem"]:
                check["problem"] = f"TLS certificate expires in {days} day(s) ({expires:%Y-%m-%d})"
    return check


def _tls_expiry(url: str) -> datetime | None:
    parts = urlsplit(url)
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection((parts.hostname, parts.port or 443), timeout=10) as sock,
            context.wrap_socket(sock, server_hostname=parts.hostname) as tls,
        ):
            cert = tls.getpeercert()
    except (OSError, ssl.SSLError):
        return None
    not_after = cert.get("notAfter") if cert else None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(str(not_after)), UTC) if not_after else None


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "timed out", "Name or service not known", "certificate verify failed"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
