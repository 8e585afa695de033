"""Sample template contexts shared by the delivery tests, the bench and the screenshot script."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

GENERATED_AT = datetime(2026, 11, 16, 7, 2, tzinfo=UTC)


COMPARISON = {
    "kind": "comparison",
    "headline": "AHT rose 9% week over week, mostly because volume moved to the DE comment queue.",
    "previous_period": "2026-W45",
    "kpis": [
        {"label": "Completed", "value": 184_233, "kind": "num", "change": 0.042, "direction": "neutral"},
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
        {"label": "Incoming", "value": 191_020, "kind": "num", "change": 0.066, "direction": "neutral"},
    ],
    "missed_targets": [
        {"where": "DE comments", "metric": "SLA attainment", "actual": 0.874, "target": 0.95, "kind": "pct"},
        {
            "where": "BR search",
            "metric": "AHT",
            "actual": 71.0,
            "target": 55,
            "kind": "duration",
            "direction": "lower_is_better",
        },
        {
            "where": "Vendor Lumen BPO",
            "metric": "UPH",
            "actual": 1.23,
            "target": 1.18,
            "kind": "rate",
            "direction": "lower_is_better",
        },
    ],
    "drivers": [
        {"label": "Volume moving to DE comments", "share": 0.61, "note": "share 12.0% → 18.4%; AHT 1m 31s"},
        {"label": "BR search handling cases more slowly", "share": 0.27, "note": "AHT 58.1 s → 71.0 s"},
        {"label": "Kestrel Moderation handling cases faster", "share": -0.08, "note": None},
    ],
    "drivers_share_of": "the AHT change from 2026-W45 to 2026-W46 (+4.4 s): each driver's effect / the total change",
}

STATUS = {
    "kind": "status",
    "title": "SLA watch",
    "headline": "2 queues changed state; 3 in breach now",
    "as_of": "2026-11-16T07:45:00Z",
    "checked": 24,
    "kpis": [
        {
            "label": "In breach now",
            "value": 3,
            "previous": 1,
            "kind": "num",
            "direction": "lower_is_better",
            "change_kind": "num",
        },
        {"label": "Changed state", "value": 2, "kind": "num", "direction": "neutral"},
        {"label": "Queues checked", "value": 24, "kind": "num", "direction": "neutral"},
    ],
    "checks": [
        {
            "where": "Search DE hate speech",
            "metric": "Oldest case",
            "value": 25.35,
            "limit": 24.0,
            "kind": "hours",
            "state": "breach",
        },
        {
            "where": "Comments BR spam",
            "metric": "Backlog",
            "value": 1_904,
            "limit": 500,
            "kind": "num",
            "state": "breach",
        },
        {
            "where": "Messaging ID scams",
            "metric": "Backlog",
            "value": 612,
            "limit": 500,
            "kind": "num",
            "state": "breach",
        },
        {
            "where": "Accounts US impersonation",
            "metric": "Backlog",
            "value": 120,
            "limit": 500,
            "kind": "num",
            "state": "ok",
        },
    ],
    "changes": [
        {"where": "Comments BR spam", "from": "ok", "to": "breach", "why": "backlog 1904 > 500"},
        {"where": "Accounts US impersonation", "from": "breach", "to": "ok", "why": None},
    ],
}

INGESTION = {
    "kind": "ingestion",
    "title": "Vendor daily reports",
    "headline": "4 of 5 vendor files merged; one was quarantined and needs a new copy.",
    "problems": [
        {
            "where": "kestrel_2026-11-15.xlsx",
            "problem": "no column for queue_id (headers: Agent, Day, Tickets)",
            "fix": "Ask Kestrel Moderation to resend with a Queue column, or add its header to the aliases file",
        },
        {
            "where": "Atlas CX, 12 rows",
            "problem": "more QA passes than QA samples",
            "fix": "See the validation report attached; the rows were left out of the master",
        },
    ],
    "kpis": [
        {"label": "Files merged", "value": 4, "kind": "num", "direction": "neutral"},
        {"label": "Rows merged", "value": 1_732, "kind": "num", "direction": "neutral"},
        {"label": "Rows rejected", "value": 12, "kind": "num", "direction": "lower_is_better"},
        {"label": "Files quarantined", "value": 1, "kind": "num", "direction": "lower_is_better"},
    ],
    "files": [
        {"file": "lumen_2026-11-15.xlsx", "vendor": "Lumen BPO", "status": "archived", "rows": 512, "rejected": 0},
        {"file": "atlas_2026-11-15.csv", "vendor": "Atlas CX", "status": "archived", "rows": 401, "rejected": 12},
        {
            "file": "kestrel_2026-11-15.xlsx",
            "vendor": "Kestrel Moderation",
            "status": "quarantined",
            "rows": 0,
            "rejected": 0,
            "reason": "no column for queue_id",
        },
        {
            "file": "northwind_2026-11-15.xlsx",
            "vendor": "Northwind Services",
            "status": "archived",
            "rows": 819,
            "rejected": 0,
        },
    ],
}

PLAN = {
    "kind": "plan",
    "title": "Capacity plan",
    "period_label": "Weeks 2026-W47 to 2026-W52 (16 Nov – 27 Dec 2026)",
    "headline": "42.8 FTE short in the first week; Messaging ID scams is staffed at 5% of its need.",
    "horizon": {"first": "2026-W47", "last": "2026-W52", "label": "6 weeks"},
    "kpis": [
        {"label": "Required FTE, 2026-W47", "value": 171.36, "kind": "fte", "direction": "neutral"},
        {"label": "Supply FTE, 2026-W47", "value": 128.6, "kind": "fte", "direction": "neutral"},
        {"label": "Queue-weeks short", "value": 15, "kind": "num", "direction": "lower_is_better"},
    ],
    "weeks": [{"week": f"2026-W{w}", "required": 171.36, "supply": 128.6 + (w - 47) * 0.04} for w in range(47, 53)],
    "shortfalls": [
        {"where": "Search DE hate speech", "week": "2026-W47", "required": 12.4, "supply": 11.9},
        {"where": "Messaging ID scams", "week": "2026-W47", "required": 6.0, "supply": 0.29},
        {"where": "Comments BR spam", "week": "2026-W47", "required": 9.96, "supply": 9.5},
    ]
    + [{"where": f"Queue {i}", "week": "2026-W48", "required": 4.0, "supply": 3.8} for i in range(12)],
}

RECONCILIATION = {
    "kind": "reconciliation",
    "title": "Reconciliation",
    "headline": "179 keys match; 3 differ in handled cases, all at Lumen BPO.",
    "left": {"name": "cases_2026-W46.csv (platform export)", "rows": 182},
    "right": {"name": "lumen_2026-11-15.xlsx", "rows": 180},
    "keys": ["date", "vendor", "moderator_id", "queue_id"],
    "matched": 179,
    "only_left": 3,
    "only_right": 1,
    "differing": 3,
    "kpis": [
        {"label": "Matched", "value": 179, "kind": "num", "direction": "neutral"},
        {"label": "Only in left", "value": 3, "kind": "num", "direction": "lower_is_better"},
        {"label": "Only in right", "value": 1, "kind": "num", "direction": "lower_is_better"},
        {"label": "Differing", "value": 3, "kind": "num", "direction": "lower_is_better"},
    ],
    "groups": [
        {"group": "Lumen BPO", "only_left": 3, "only_right": 1, "differing": 3},
        {"group": "Atlas CX", "only_left": 0, "only_right": 0, "differing": 0},
    ],
    "totals": {
        "handled": {"left": 10_377, "right": 10_412},
        "handle_seconds": {"left": 1_203_551.0, "right": 1_209_112.0},
    },
}

# kind -> (job, period label, attached files) of the run each sample comes from
KIND_RUNS = {
    "comparison": ("weekly_emea", "Week 2026-W46 (9-15 Nov)", ["weekly_emea_2026-W46.xlsx"]),
    "status": ("sla-watch", "Mon 16 Nov 2026", []),
    "ingestion": (
        "vendor-consolidation",
        "Mon 16 Nov 2026",
        ["vendor_master_2026-11-16.xlsx", "validation_atlas_cx_2026-11-16.xlsx"],
    ),
    "plan": ("capacity-plan", "Mon 16 Nov 2026", ["capacity_plan_2026-11-16.xlsx"]),
    "reconciliation": ("reconcile-lumen", "Mon 16 Nov 2026", ["reconcile_cases_2026-W46_vs_lumen_2026-11-15.xlsx"]),
}

SUMMARIES = {
    "comparison": COMPARISON,
    "status": STATUS,
    "ingestion": INGESTION,
    "plan": PLAN,
    "reconciliation": RECONCILIATION,
}


def report_context(kind: str = "comparison", changes: dict | None = None, **overrides):
    """The report template's context for a realistic summary of ``kind`` (updated with ``changes``),
    through delivery's own ``email_sections`` (what the pipeline does), then ``overrides``."""
    from opskit.delivery.report import email_sections

    summary = {**SUMMARIES[kind], **(changes or {})}
    job, label, files = KIND_RUNS[kind]
    ctx = {
        "job": job,
        "run_id": f"20261116-070000-{job}",
        "generated_at": GENERATED_AT,
        "title": summary.get("title", "EMEA moderation efficiency"),
        "period_label": summary.get("period_label", label),
        "files": files,
        **email_sections(summary),
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
