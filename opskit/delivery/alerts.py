"""Failure alerts: the email that tells a job's recipients a run needs attention, and the chat post.

``pipeline`` decides *when* to alert (a failed run, a report held back by its gates, a report that could not
be built); this module knows *what* the alert says: which job, when (the job's timezone), the one-line cause,
the failing step and the task's line that ran it, the last lines of the run's log, where its folder is, and
a re-run command that works as pasted (``--config`` and ``--as-of`` included). A browser failure's screenshot
is attached, and its trace, when the source keeps one, named with the command that opens it. Every text is
scrubbed of secrets, and nothing here raises: a problem is recorded in the run's ``DeliveryLog``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.delivery.chat import post_alert
from opskit.delivery.compose import ComposedEmail, compose_email, send_email
from opskit.delivery.record import DeliveryLog, one_line, secret_redactor
from opskit.delivery.render import job_renderer

if TYPE_CHECKING:
    from opskit.config.model import Config, JobConfig
    from opskit.engine.history import RunRecord
    from opskit.redact import Redactor

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 64_000
_LOG_LINE_CHARS = 400
ALERT_SUBJECT = "[opskit] {{ title }}"
_OPSKIT = str(Path(__file__).resolve().parents[1]) + os.sep
STATUS_WORDS = {"failed": "failed", "timed_out": "timed out", "abandoned": "was abandoned"}


def failure_title(job_name: str, status: str) -> str:
    """The alert's title for a run that ended ``status``: "Job weekly timed out"."""
    return f"Job {job_name} {STATUS_WORDS.get(status, status)}"


def log_tail(folder: str | Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of ``<folder>/run.log``, each cut to a sane length."""
    path = Path(folder) / "run.log"
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _LOG_TAIL_BYTES))
            data = fh.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace").splitlines()
    if size > _LOG_TAIL_BYTES:
        text = text[1:]  # the first line read is most likely cut
    return [line[:_LOG_LINE_CHARS] for line in text[-lines:]]


def failure_details(record: RunRecord) -> dict[str, Any]:
    """What failed, from the run's folder and result: ``step``, ``task_line``, ``url``, ``closest`` (a browser
    step's ``failure/step.json``), else the task's line from the traceback; plus the ``screenshot`` and
    ``trace`` files when a browser session left them. Empty when nothing more than the cause is known."""
    folder = Path(record.folder) / "failure"
    details: dict[str, Any] = {}
    try:
        step = json.loads((folder / "step.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        step = {}
    if isinstance(step, dict):
        for key in ("step", "task_line", "url"):
            if step.get(key):
                details[key] = str(step[key])
        details["closest"] = [str(c) for c in (step.get("closest") or [])][:5]
    if "task_line" not in details:
        line = task_line_of((record.result or {}).get("traceback") or "")
        if line:
            details["task_line"] = line
    for name in ("screenshot", "trace"):
        path = folder / f"{name}.{'png' if name == 'screenshot' else 'zip'}"
        if path.is_file():
            details[name] = path
    return details


def task_line_of(traceback: str) -> str | None:
    """``tasks/x.py:42`` for the innermost frame of a traceback outside opskit and installed packages."""
    found = None
    for file, line in re.findall(r'File "([^"]+)", line (\d+)', traceback):
        if "site-packages" in file or file.startswith((_OPSKIT, "<")):
            continue
        parts = Path(file).parts
        found = f"{'/'.join(parts[-2:])}:{line}"
    return found


def trace_command(trace: Path) -> str:
    """The command that opens a Playwright trace in its viewer (it needs a display; or upload the file to
    https://trace.playwright.dev, which reads it in the browser without sending it anywhere)."""
    return f"{shlex.quote(sys.executable or 'python')} -m playwright show-trace {shlex.quote(str(trace))}"


def rerun_command(config: Config, job_name: str, record: RunRecord) -> str:
    """The command that runs the job again for the same slot, from any folder, as pasted."""
    tz = config.job_timezone(config.jobs.get(job_name))
    runner = Path(__file__).resolve().parents[2] / "runner.py"
    words = [
        sys.executable or "python",
        str(runner) if runner.is_file() else "runner.py",
        "--config",
        str(config.path),
        "run",
        job_name,
        "--as-of",
        record.scheduled_for.astimezone(tz).isoformat(),  # with its offset: the same instant, DST or not
    ]
    return " ".join(shlex.quote(w) for w in words)


def alert(
    config: Config,
    job_name: str,
    job: JobConfig,
    record: RunRecord,
    dlog: DeliveryLog,
    *,
    now: datetime,
    title: str,
    cause: str,
    email: bool,
    lead: str | None = None,
    redactor: Redactor | None = None,
    send: bool = True,
) -> None:
    """Tell people a run needs attention: the failure alert email (when ``email``) and a chat post.

    The email goes to the job's recipients and says which job, when (the job's timezone), the
    one-line cause, the last lines of the run's log and where the run's folder is. Without a chat
    webhook the chat alert is only logged (the embedded default). ``send=False`` only saves the email
    (see ``compose.deliver``). Never raises.
    """
    redactor = redactor or secret_redactor(config)
    cause = redactor.redact(" ".join(cause.split())) or "unknown cause"
    tz = config.job_timezone(job)
    when = record.finished_at or now
    details = failure_details(record) if record.status != "succeeded" else {}
    screenshot = details.get("screenshot")
    trace = details.get("trace")
    if email and job.email is not None:
        context = {
            "title": title,
            "failed_at": when,
            "cause": cause,
            "lead": lead,
            "step": redactor.redact(details.get("step", "")) or None,
            "task_line": details.get("task_line"),
            "page_url": redactor.redact(details.get("url", "")) or None,
            "closest": [redactor.redact(c) for c in details.get("closest", [])],
            "screenshot": screenshot.name if screenshot else None,
            "trace_command": trace_command(trace) if trace else None,
            "rerun": rerun_command(config, job_name, record),
            "log_lines": [redactor.redact(line) for line in log_tail(record.folder)],
            "artifacts": record.folder,
            "artifact_names": list(record.artifacts),
            "attempt": record.attempt if record.attempt > 1 else None,
            "preheader": cause,
            "status": record.status,
        }
        job_email = job.email.model_copy(
            update={
                "subject": ALERT_SUBJECT,
                "attach": [screenshot.name] if screenshot else [],
                "template": "email/failure_alert.html",
            }
        )
        settings = config.email_settings()

        def compose() -> ComposedEmail:
            return compose_email(
                job_renderer(config, job),
                job_email,
                settings,
                context=context,
                job=job_name,
                run_id=record.id,
                now=now,
                files=[screenshot] if screenshot else [],
                run_dir=Path(record.folder),
            )

        send_email(settings, dlog, "alert", compose, job=job_name, run_id=record.id, now=now, send=send)
    post_chat(
        config,
        dlog,
        title,
        cause,
        {
            "Job": job_name,
            "Status": record.status,
            "When": f"{when.astimezone(tz):%Y-%m-%d %H:%M %Z}",
            "Run": record.id,
            **({"Step": redactor.redact(details["step"])} if details.get("step") else {}),
            **({"Task line": details["task_line"]} if details.get("task_line") else {}),
            "Folder": record.folder,
        },
        redactor=redactor,
    )


def post_chat(
    config: Config, dlog: DeliveryLog, title: str, text: str, fields: Mapping[str, str], *, redactor: Redactor
) -> None:
    """Post to the chat webhook (only logged without one); a failure is recorded, never raised."""
    chat = config.settings.chat
    try:
        attempts = post_alert(chat, title, text, fields)
    except Exception as exc:  # noqa: BLE001 - requests can raise more than DeliveryError (a bad URL)
        error = redactor.redact(one_line(exc))
        log.error("chat alert for %s not posted: %s", fields.get("Job"), error)
        dlog.chat = {"configured": chat is not None, "kind": chat.kind if chat else None, "ok": False, "error": error}
        dlog.error("chat", error)
        return
    if chat is None:
        dlog.chat = {"configured": False, "logged": True}
    else:
        dlog.chat = {"configured": True, "kind": chat.kind, "ok": True, "attempts": attempts}
