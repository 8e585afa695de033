"""The fields a vendor daily report may carry: the names ``vendor_reports.aliases`` maps headers to.

A module of its own, free of pydantic, so the report code that reads vendor files (opskit/reports/vendor.py,
imported when a task module is) shares the one list without loading the config models: ``runner.py list``
stays light.
"""

VENDOR_REPORT_FIELDS = (
    "date",
    "vendor",
    "site",
    "moderator_id",
    "queue_id",
    "handled",
    "handle_seconds",
    "aht_seconds",
    "productive_seconds",
    "logged_seconds",
    "idle_seconds",
    "qa_sampled",
    "qa_correct",
)
