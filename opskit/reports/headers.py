"""Column headers for people: the documented map from the field names data carries to the words a
reader sees in a workbook (docs/reports.md, "Headers").

Case exports, the vendor master sheet and the queue history carry snake_case field names
(``completed_at``, ``handle_seconds``); the workbooks people open show ``HEADERS[field]`` instead
("Completed", "Handle time (s)"). A field the map does not know reads as its words in sentence case,
with "id" as "ID" (``queue_owner_id`` -> "Queue owner ID"). A time column names the timezone its
values are in: "Completed (Europe/Berlin)".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo

HEADERS: dict[str, str] = {
    # the console's case export (DOMAIN.md "case")
    "case_id": "Case ID",
    "queue_id": "Queue ID",
    "created_at": "Created",
    "assigned_at": "Assigned",
    "completed_at": "Completed",
    "moderator_id": "Moderator ID",
    "decision": "Decision",
    "policy_label": "Policy label",
    "handle_seconds": "Handle time (s)",
    "qa_sampled": "QA sampled",
    "qa_correct": "QA correct",
    "escalated": "Escalated",
    "appealed": "Appealed",
    "overturned": "Overturned",
    "content_text": "Content",
    "username": "Username",
    "queue_name": "Queue",
    "channel": "Channel",
    "market": "Market",
    "vendor": "Vendor",
    "site": "Site",
    # the vendor daily report and its master sheet
    "date": "Date",
    "handled": "Handled",
    "productive_seconds": "Productive time (s)",
    "logged_seconds": "Logged-in time (s)",
    "idle_seconds": "Idle time (s)",
    "source_file": "Source file",
    # the queue dashboard's history
    "snapshot_at": "Snapshot at",
    "name": "Queue",
    "sla_hours": "SLA (h)",
    "priority": "Priority",
    "backlog": "Backlog",
    "oldest_age_hours": "Oldest case (h)",
    "incoming_24h": "Incoming (24h)",
    "completed_24h": "Completed (24h)",
    "sla_status": "SLA status",
}
# Fields holding moments (UTC in the data), shown as wall-clock times in the job's timezone.
TIME_FIELDS = frozenset({"created_at", "assigned_at", "completed_at", "snapshot_at"})


def human_header(field: str, tz: tzinfo | None = None) -> str:
    """The header a reader sees for ``field`` (module docstring); time fields name ``tz``."""
    text = HEADERS.get(field)
    if text is None:
        words = field.replace("_", " ").strip().split()
        words = ["ID" if w.lower() == "id" else w for w in words]
        text = " ".join(words)[:1].upper() + " ".join(words)[1:] if words else field
    if field in TIME_FIELDS and tz is not None:
        text = f"{text} ({getattr(tz, 'key', None) or tz})"
    return text


def human_headers(fields: Iterable[str], tz: tzinfo | None = None) -> dict[str, str]:
    """field -> header for every field, for ``csv_to_xlsx(headers=...)`` and ``append_changes``."""
    return {f: human_header(f, tz) for f in fields}
