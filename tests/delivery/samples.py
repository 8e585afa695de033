"""Sample template contexts shared by the delivery tests, the bench and the screenshot script."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

GENERATED_AT = datetime(2026, 11, 16, 7, 2, tzinfo=UTC)


def report_context(**overrides):
    ctx = {
        "job": "weekly_emea",
        "run_id": "20261116-070000-weekly_emea",
        "generated_at": GENERATED_AT,
        "title": "EMEA moderation efficiency",
        "period_label": "Week 2026-W46 (9-15 Nov)",
        "summary": "AHT rose 9% week over week, mostly because volume moved to the DE comment queue.",
        "kpis": [
            {"label": "Completed", "value": 184_233, "kind": "num", "change": 0.042, "direction": "higher_is_better"},
            {
                "label": "AHT",
                "value": 52.4,
                "kind": "duration",
                "change": 0.091,
                "direction": "lower_is_better",
                "target": 50,
            },
            {
                "label": "SLA attainment",
                "value": 0.9345,
                "kind": "pct",
                "change": -0.012,
                "direction": "higher_is_better",
                "target": 0.95,
            },
            {"label": "UPH", "value": 61.8, "kind": "rate", "change": -0.035, "direction": "higher_is_better"},
            {
                "label": "Accuracy",
                "value": 0.972,
                "kind": "pct",
                "change": 0.003,
                "direction": "higher_is_better",
                "target": 0.97,
            },
            {"label": "Backlog", "value": 3_812, "kind": "num", "change": None, "direction": "lower_is_better"},
        ],
        "missed": [
            {
                "where": "DE comments",
                "metric": "SLA attainment",
                "actual": 0.874,
                "target": 0.95,
                "kind": "pct",
                "attainment": 0.92,
            },
            {
                "where": "BR search",
                "metric": "AHT",
                "actual": 71.0,
                "target": 55,
                "kind": "duration",
                "attainment": 0.775,
            },
        ],
        "drivers": [
            {"label": "Mix: volume moved to DE comments", "share": 0.61, "note": "higher AHT queue"},
            {"label": "Rate: BR search slower", "share": 0.27, "note": "new policy label rollout"},
            {"label": "Interaction", "share": 0.12, "note": None},
        ],
        "files": ["weekly_emea_2026-W46.xlsx"],
    }
    ctx.update(overrides)
    return ctx


def failure_context(**overrides):
    ctx = {
        "job": "vendor_merge",
        "run_id": "20261116-060000-vendor_merge",
        "generated_at": GENERATED_AT,
        "title": "Job vendor_merge failed",
        "failed_at": GENERATED_AT - timedelta(minutes=3),
        "cause": "SourceUnavailable: the Moderation Console did not answer within 30s",
        "attempt": 3,
        "log_lines": [
            "06:00:01 INFO run started (attempt 3 of 3)",
            "06:00:02 INFO logging in to console as ops-bot",
            "06:00:32 ERROR export page did not load within 30s",
        ],
        "artifacts": "/srv/opskit/runs/20261116-060000-vendor_merge/",
    }
    ctx.update(overrides)
    return ctx


def no_data_context(**overrides):
    ctx = {
        "job": "weekly_emea",
        "run_id": "20261116-070000-weekly_emea",
        "generated_at": GENERATED_AT,
        "title": "EMEA moderation efficiency",
        "period_label": "Sunday 15 Nov 2026",
        "note": "The source returned 0 rows for this period.",
    }
    ctx.update(overrides)
    return ctx


def trend_series():
    start = date(2026, 8, 24)
    weeks = [start + timedelta(weeks=i) for i in range(12)]
    aht = [48.1, 47.6, 49.0, 48.4, 47.9, 48.8, 49.5, 48.0, 47.2, 47.8, 48.1, 52.4]
    target = [50.0] * 12
    return {"AHT (s)": list(zip(weeks, aht, strict=True)), "Target": list(zip(weeks, target, strict=True))}
