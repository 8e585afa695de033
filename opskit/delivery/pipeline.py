"""After a run: quality gates, the job's email, and failure alerts (chat and email).

This is delivery's one entry point from the engine. ``after_run`` is called once per run, after its last
attempt (``opskit.engine.attempts.execute``, which sends the mail at once; the scheduler from its delivery
thread, with ``send_now=False``: it saves the mail and its mail thread sends it, so no mail server ever
holds up the scheduler's loop), and ``send_pending_mail`` by that mail thread. ``after_run`` never raises:
whatever goes wrong is logged and stored with the run (``runner.py show RUN`` prints it under ``delivery``).
Bare task runs (no job) deliver nothing. A run delivered again after a crash cut its first delivery short
(the engine's recovery) reuses the messages already in the outbox: never two of them for one run.

What a job gets, by the run's outcome:

- succeeded, no gates or gates say ``send``: the report email, when ``email.on`` includes success;
- gates say ``warn``: the report with the data-quality banner listing the failed checks;
- gates say ``notice`` (empty result): the short "no data for this period" email;
- gates say ``skip`` (empty result): nothing;
- gates say ``fail``: no report; a failure alert (email to the job's recipients, and chat) whose
  cause is the failed checks. The run stays ``succeeded`` (the task did its work; its *data* failed
  a check) and the delivery record says ``blocked: true``. A blocked run is not a "last good run"
  for the next run's ``max_drop``/``max_rise``, so one bad day cannot become the baseline.
- failed, timed_out, abandoned: the failure alert email when ``email.on`` includes failure; chat.

The report email is built from the task's ``Result.summary``; the convention (KPI tiles, missed targets,
drivers, trend) is documented in ``opskit/delivery/report.py``.

Everything below this module is a part it strings together (``opskit/delivery/__init__.py`` lists them
in import order); none of them imports this module or the engine.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.delivery.alerts import alert, failure_title
from opskit.delivery.compose import compose_email, send_email
from opskit.delivery.gates import judge
from opskit.delivery.outbox import OutboxStatus, outbox_exists, outbox_of
from opskit.delivery.record import DeliveryLog, secret_redactor
from opskit.delivery.render import job_renderer
from opskit.delivery.report import base_context, report_context
from opskit.delivery.smtp import SendReport, send_pending
from opskit.errors import OpskitError, TaskError
from opskit.redact import scrub

if TYPE_CHECKING:
    from opskit.config.model import Config, JobConfig
    from opskit.engine.history import RunRecord, RunStore
    from opskit.redact import Redactor

log = logging.getLogger(__name__)

# Run statuses as the strings they are (RunStatus is a StrEnum): delivery never imports the engine.
SUCCEEDED = "succeeded"
FAILURE_STATES = ("failed", "timed_out", "abandoned")


def after_run(
    config: Config, store: RunStore, record: RunRecord, *, now: datetime | None = None, send_now: bool = True
) -> dict[str, Any] | None:
    """Deliver what the job's config asks for after ``record`` ended; returns what was done.

    Args:
        send_now: Send the mail at once (SMTP backend); False saves it pending for ``send_pending_mail``.

    Returns:
        The delivery record also stored with the run, or None when there was nothing to deliver
        (a bare task run, a job no longer in the config, a skipped run).
    """
    job = config.jobs.get(record.job) if record.job else None
    if record.job is None or job is None:
        if record.job is not None:
            log.warning("run %s: job %s is no longer in the config; nothing delivered", record.id, record.job)
        return None
    if record.status == SUCCEEDED:
        outcome = "success"
    elif record.status in FAILURE_STATES:
        outcome = "failure"
    else:
        return None
    now = now or datetime.now(UTC)
    dlog = DeliveryLog(at=now, outcome=outcome)
    redactor = secret_redactor(config)
    try:
        if _resume(config, record, dlog):
            pass
        elif outcome == "success":
            _after_success(config, store, record.job, job, record, dlog, now=now, redactor=redactor, send=send_now)
        else:
            dlog.action = "alert"
            alert(
                config,
                record.job,
                job,
                record,
                dlog,
                now=now,
                redactor=redactor,
                title=failure_title(record.job, record.status),
                cause=record.error or f"the run ended {record.status}",
                email=job.email is not None and "failure" in job.email.on,
                send=send_now,
            )
    except Exception as exc:  # noqa: BLE001 - delivery must never turn a finished run into a crash
        log.exception("run %s: delivery failed", record.id)
        dlog.error("internal", exc, bug=True)
    data = scrub(dlog.to_dict(), redactor)
    try:
        store.record_delivery(record.id, data)
    except Exception:  # noqa: BLE001 - e.g. the history is locked for longer than its busy timeout
        log.exception("run %s: could not record its delivery", record.id)
    return data


def _resume(config: Config, record: RunRecord, dlog: DeliveryLog) -> bool:
    """Whether an earlier delivery of this run, cut short, already saved its mail; if so, record that mail.

    The outbox keeps every message with its run id: what is there is sent by the next flush (or was
    sent), so composing it again would mail it twice.
    """
    settings = config.email_settings()
    if not outbox_exists(settings):
        return False
    saved = outbox_of(settings).for_run(record.id)
    if not saved:
        return False
    dlog.action = "resumed"
    for entry in saved:
        dlog.emails.append(
            {
                "kind": "saved before",
                "outbox_id": entry.id,
                "status": str(entry.status),
                "recipients": len(entry.recipients),
                "error": entry.last_error,
            }
        )
    log.info("run %s: its delivery was cut short; its %d saved message(s) stand", record.id, len(saved))
    return True


def _after_success(
    config: Config,
    store: RunStore,
    job_name: str,
    job: JobConfig,
    record: RunRecord,
    dlog: DeliveryLog,
    *,
    now: datetime,
    redactor: Redactor,
    send: bool = True,
) -> None:
    verdict = judge(store, job_name, job, record)
    if verdict is not None:
        dlog.gates = verdict.to_dict()
        log.info(
            "run %s: gates say %s%s",
            record.id,
            verdict.action,
            f" ({'; '.join(verdict.failures)})" if verdict.failures else "",
        )
    action = verdict.action if verdict is not None else "send"
    if action == "fail":
        assert verdict is not None
        dlog.action, dlog.blocked = "blocked", True
        # The recipients expected a report: they hear why there is none, whatever email.on says.
        alert(
            config,
            job_name,
            job,
            record,
            dlog,
            now=now,
            redactor=redactor,
            title=f"Report {job_name} held back by its quality checks",
            cause="; ".join(verdict.failures) or "a quality check failed",
            lead=f"The job {job_name} finished, but its result failed its quality checks, so its report was not sent.",
            email=job.email is not None and bool(job.email.on),
            send=send,
        )
        return
    if action == "skip":
        dlog.action = "skipped"
        return
    if job.email is None or "success" not in job.email.on:
        dlog.action = "not_wanted"
        return
    settings = config.email_settings()
    renderer = job_renderer(config, job)
    folder = Path(record.folder)
    if action == "notice":
        context = base_context(config, job_name, job, record, redactor)
        context["note"] = str(context["result"]["summary"].get("note") or "")
        job_email = job.email.model_copy(
            update={"attach": [], "template": "email/no_data.html", "subject": "No data: " + job.email.subject}
        )
        dlog.action = "no_data"
        send_email(
            settings,
            dlog,
            "no_data",
            lambda: compose_email(
                renderer, job_email, settings, context=context, job=job_name, run_id=record.id, now=now, run_dir=folder
            ),
            job=job_name,
            run_id=record.id,
            now=now,
            send=send,
        )
        return
    dlog.action = "report_with_warnings" if action == "warn" else "report"
    try:
        context, chart = report_context(
            config, job_name, job, record, redactor, dlog, warnings=verdict.failures if verdict is not None else []
        )
    except TaskError as exc:
        context, chart = None, None  # type: ignore[assignment]  # no report: an alert instead, below
        dlog.error("compose", exc, kind="report")
    files = [Path(f) for f in (record.result or {}).get("files") or []]
    entry = None
    if context is not None:
        email = job.email
        entry = send_email(
            settings,
            dlog,
            "report",
            lambda: compose_email(
                renderer,
                email,
                settings,
                context=context,
                job=job_name,
                run_id=record.id,
                now=now,
                files=files,
                chart_png=chart,
                run_dir=folder,
            ),
            job=job_name,
            run_id=record.id,
            now=now,
            send=send,
        )
    if entry is None:
        dlog.action = "report_not_built"
        alert(
            config,
            job_name,
            job,
            record,
            dlog,
            now=now,
            redactor=redactor,
            title=f"Report {job_name} could not be built",
            cause=f"the report email could not be built: {dlog.errors[-1]['error']}",
            lead=f"The job {job_name} finished, but its report email could not be built, so it was not sent.",
            email=True,
            send=send,
        )


def send_pending_mail(config: Config) -> SendReport | None:
    """Send the outbox's pending mail (for the scheduler daemon, now and then); None without SMTP.

    Never raises: a missing SMTP login variable is logged and reported as every message pending.
    """
    settings = config.email_settings()
    if settings.backend != "smtp":
        return None
    try:
        return send_pending(settings)
    except OpskitError as exc:
        log.error("outbox: cannot send pending mail: %s", exc)
        report = SendReport()
        for entry in outbox_of(settings).entries(OutboxStatus.PENDING):
            report.pending.append(entry.id)
            report.errors[entry.id] = str(exc)
        return report
