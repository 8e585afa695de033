"""Watch each queue's backlog and oldest case against thresholds; alert when a queue changes state."""

from __future__ import annotations

import json
from typing import Any

from opskit import Result, RunContext, UsageError, task
from opskit.reports import email_kpi, status_check


@task(schedule_hint="*/15 * * * *")
def sla_watch(
    ctx: RunContext,
    *,
    source: str = "console",
    max_backlog: int = 500,
    max_oldest_hours: float = 24.0,
    thresholds: tuple[str, ...] = (),
) -> Result:
    """Check every queue's backlog and oldest open case against thresholds; alert on changes only.

    A queue is in breach when its backlog is above its backlog limit or its oldest open case is older
    than its age limit. Only changes are alerts (ok -> breach, breach -> ok); the last known states are
    kept between runs, and a queue seen for the first time counts as having been ok. A breach is data,
    not a failure: the run succeeds and returns the changes under ``alerts`` for delivery to email.

    Args:
        source: The source in config.yaml (its API, with the token from token_env).
        max_backlog: Default backlog limit per queue (cases).
        max_oldest_hours: Default limit for the oldest open case (hours).
        thresholds: Per-queue overrides as QUEUE:backlog=N and/or QUEUE:oldest=HOURS, e.g.
            "search-de-hate:backlog=200:oldest=4" (a YAML list, or comma-separated with --param).
    """
    overrides = _parse_thresholds(thresholds)
    if not ctx.source(source).token_env:
        raise UsageError(f"source '{source}' has no token_env for its API")
    with ctx.api(source, retries=2) as client:
        body = client.get("/api/v1/queues")
    previous = ctx.load_state().get("states", {})
    states, changes, breaches, snapshot = {}, [], [], []
    for row in body["data"]:
        qid = row["queue_id"]
        limits = {"backlog": max_backlog, "oldest": max_oldest_hours, **overrides.get(qid, {})}
        oldest = row.get("oldest_age_hours")  # None for an empty backlog: no oldest case (DOMAIN.md), not 0 h
        reasons = []
        if row["backlog"] > limits["backlog"]:
            reasons.append(f"backlog {row['backlog']} > {limits['backlog']:g}")
        if oldest is not None and oldest > limits["oldest"]:
            reasons.append(f"oldest {oldest:.1f} h > {limits['oldest']:g} h")
        state = "breach" if reasons else "ok"
        states[qid] = state
        entry = {
            "queue": qid,
            "name": row.get("name", qid),
            "state": state,
            "backlog": row["backlog"],
            "oldest_hours": oldest,
            "limits": limits,
            "reasons": reasons,
        }
        snapshot.append(entry)
        if state == "breach":
            breaches.append(qid)
        if state != previous.get(qid, "ok"):
            changes.append({**entry, "from": previous.get(qid, "ok"), "to": state})
    unknown = sorted(set(overrides) - set(states))
    if unknown:
        ctx.log.warning("thresholds name queues the source does not have: %s", ", ".join(unknown))
    ctx.save_state({"states": states, "as_of": body.get("as_of")})
    with ctx.output("sla_watch.json") as tmp:
        tmp.write_text(json.dumps({"as_of": body.get("as_of"), "queues": snapshot}, indent=2))
    for change in changes:
        ctx.log.info(
            "%s: %s -> %s %s",
            change["queue"],
            change["from"],
            change["to"],
            "; ".join(change["reasons"]),
        )
    return Result(
        files=[ctx.path("sla_watch.json")],
        rows=len(changes),  # what the job delivers: no change, no mail (gates: empty: skip)
        summary={
            "as_of": body.get("as_of"),
            "queues": len(snapshot),
            "breaches": breaches,
            "alerts": changes,
            **_email(snapshot, changes, breaches, previous),
        },
    )


def _email(
    snapshot: list[dict[str, Any]], changes: list[dict[str, Any]], breaches: list[str], previous: dict[str, str]
) -> dict[str, Any]:
    """The run as a status report (``kind: status``): every queue's two checks against its limits (the
    email lists those in breach, worst first), the changes of state, and the counts as tiles."""
    was = sum(1 for state in previous.values() if state == "breach")
    checks = []
    for q in snapshot:
        checks.append(status_check(q["name"], "Backlog (cases)", q["backlog"], q["limits"]["backlog"]))
        checks.append(status_check(q["name"], "Oldest case", q["oldest_hours"], q["limits"]["oldest"], kind="hours"))
    went_bad = sum(1 for c in changes if c["to"] == "breach")
    return {
        "kind": "status",
        "title": "SLA watch",
        "headline": (
            f"{went_bad} queue(s) went into breach, {len(changes) - went_bad} recovered; {len(breaches)} in breach now"
        ),
        "checked": len(snapshot),
        "checks": checks,
        "kpis": [
            email_kpi("In breach now", len(breaches), "num", "lower_is_better", previous=was, change_kind="num"),
            email_kpi("Changed state", len(changes), "num", "neutral"),
            email_kpi("Queues checked", len(snapshot), "num", "neutral"),
        ],
        "changes": [
            {
                "where": c["name"],
                "from": c["from"],
                "to": c["to"],
                "why": "; ".join(c["reasons"]) or "back within its limits",
            }
            for c in changes
        ],
    }


def _parse_thresholds(items: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """``("q1:backlog=200:oldest=4", "q2:oldest=12")`` -> ``{"q1": {"backlog": 200, "oldest": 4}, ...}``."""
    result: dict[str, dict[str, Any]] = {}
    for item in items:
        queue, *settings = item.strip().split(":")
        if not queue or not settings:
            raise UsageError(f"threshold '{item}' is not QUEUE:backlog=N or QUEUE:oldest=HOURS")
        for setting in settings:
            key, _, value = setting.partition("=")
            if key.strip() not in ("backlog", "oldest"):
                raise UsageError(f"threshold '{item}': '{key}' is not backlog or oldest")
            try:
                result.setdefault(queue.strip(), {})[key.strip()] = float(value)
            except ValueError:
                raise UsageError(f"threshold '{item}': '{value}' is not a number") from None
    return result
