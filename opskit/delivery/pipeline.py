"""After a run: quality gates, the job's email, and failure alerts (chat and email).

``after_run`` is called once per run, after its last attempt (``executor.execute``; the scheduler
daemon the same way). It never raises: whatever goes wrong is logged and stored with the run
(``runner.py show RUN`` prints it under ``delivery``). Bare task runs (no job) deliver nothing.

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

The summary convention for report tasks
---------------------------------------
The report email is built from the task's ``Result.summary`` (stored as JSON); every key optional:

``title`` (str)           the email's title; default: the job's description, else its name
``headline`` (str)        one sentence under the title that answers "are we on target?"
``period_label`` (str)    replaces the label made from the ``period`` parameter
                          ("Week 2026-W46 (9-15 Nov)", "Mon 16 Nov 2026", "November 2026")
``kpis`` (list)           headline KPI tiles, each ``{"label" (or "name"): str,
                          "value": number | None, "kind" (or "format"): "num" | "pct" |
                          "duration" | "rate" (default num), "previous": number | None,
                          "change": number | None, "direction": "higher_is_better" (default) |
                          "lower_is_better", "target": number | None}``. pct values are ratios
                          (0.934), durations seconds. ``change`` defaults to value - previous
                          for pct (percentage points), else (value - previous) / |previous|.
``missed_targets`` (list) ``{"where": str, "metric": str, "actual": number, "target": number,
                          "kind": as above, "direction": as above, "attainment": number}``,
                          worst first; attainment defaults to actual/target (higher is better)
                          or target/actual (lower is better). The email lists the first 10 and
                          says how many more the workbook has.
``drivers`` (list)        ``{"label": str, "share": ratio of the change | None,
                          "note": str | None}``
``trend`` (dict)          ``{"title": str, "series": {label: [[ISO date, number | None], ...]},
                          "percent": bool, "dashed": [reference-line labels, default
                          ["Target"]]}``, or the ``series`` mapping alone (titled by its
                          labels): a PNG shown inline by Content-ID
``columns`` (list of str) the output's column names, for the ``required_columns`` gate
``newest`` (ISO datetime) the newest timestamp in the data, for the ``max_age`` gate
``note`` (str)            a line for the "no data for this period" email (why it is empty)

The gates read ``Result.rows``. The subject template (``email.subject``) sees ``job``, ``run_id``,
``title``, ``period`` (the period parameter, e.g. "2026-W46", or ""), ``period_label``,
``scheduled_for`` (in the job's timezone) and ``result`` (``rows``, ``files``, ``summary``). Text
from the summary is escaped in HTML (autoescape): content from users is hostile by nature.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.delivery.alerts import (  # noqa: F401  (outbox_command, send_pending_mail: the CLI and daemon's)
    DeliveryLog,
    alert,
    failure_title,
    job_renderer,
    mail_settings,
    outbox_command,
    secret_redactor,
    send_email,
    send_pending_mail,
)
from opskit.engine.history import RunStatus, utcnow
from opskit.errors import TaskError
from opskit.redact import scrub

if TYPE_CHECKING:
    from opskit.config.model import Config, JobConfig
    from opskit.delivery.gates import GateVerdict
    from opskit.engine.history import RunRecord, RunStore
    from opskit.period import Period
    from opskit.redact import Redactor

log = logging.getLogger(__name__)

FAILURE_STATES = (RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.ABANDONED)
KINDS = ("num", "pct", "duration", "rate")
DIRECTIONS = ("higher_is_better", "lower_is_better")
MISSED_SHOWN = 10


def after_run(
    config: Config, store: RunStore, record: RunRecord, *, now: datetime | None = None
) -> dict[str, Any] | None:
    """Deliver what the job's config asks for after ``record`` ended; returns what was done.

    Returns:
        The delivery record also stored with the run, or None when there was nothing to deliver
        (a bare task run, a job no longer in the config, a skipped run).
    """
    job = config.jobs.get(record.job) if record.job else None
    if record.job is None or job is None:
        if record.job is not None:
            log.warning("run %s: job %s is no longer in the config; nothing delivered", record.id, record.job)
        return None
    if record.status == RunStatus.SUCCEEDED:
        outcome = "success"
    elif record.status in FAILURE_STATES:
        outcome = "failure"
    else:
        return None
    now = now or utcnow()
    dlog = DeliveryLog(at=now, outcome=outcome)
    redactor = secret_redactor(config)
    try:
        if outcome == "success":
            _after_success(config, store, record.job, job, record, dlog, now=now, redactor=redactor)
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
        )
        return
    if action == "skip":
        dlog.action = "skipped"
        return
    if job.email is None or "success" not in job.email.on:
        dlog.action = "not_wanted"
        return
    from opskit.delivery.compose import compose_email

    settings = mail_settings(config)
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
        )
        return
    dlog.action = "report_with_warnings" if action == "warn" else "report"
    try:
        context, chart = report_context(
            config, job_name, job, record, redactor, dlog, warnings=verdict.failures if verdict is not None else []
        )
    except TaskError as exc:
        context, chart = None, None
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
        )


# -------------------------------------------------------------------------------------------- gates


def judge(store: RunStore, job_name: str, job: JobConfig, record: RunRecord) -> GateVerdict | None:
    """The job's gates applied to the run's facts, or None when the job has no gates.

    Facts that cannot be checked (no ``rows`` from the task, a ``newest`` that is not a datetime)
    fail the gates: a report nobody could check is not sent as if it had passed.
    """
    if job.gates is None:
        return None
    from opskit.delivery.gates import GateCheck, GateVerdict, evaluate_gates

    result = record.result or {}
    summary = result.get("summary") or {}
    facts = {"rows": result.get("rows"), "columns": summary.get("columns"), "newest": summary.get("newest")}
    try:
        return evaluate_gates(job.gates, facts, previous_facts(store, job_name, record), now=record.scheduled_for)
    except (TaskError, ValueError, TypeError) as exc:
        check = GateCheck("facts", False, f"the result cannot be checked: {exc}")
        return GateVerdict("fail", [check])


def previous_facts(store: RunStore, job_name: str, record: RunRecord) -> dict[str, Any] | None:
    """The last good run's facts: the newest earlier run of the job that succeeded, had rows, and
    whose report was not held back by a gate."""
    for run in store.list(job=job_name, status=RunStatus.SUCCEEDED, limit=50):
        if run.id == record.id or run.queued_at > record.queued_at:
            continue
        if ((run.delivery or {}).get("gates") or {}).get("action") == "fail":
            continue
        rows = (run.result or {}).get("rows")
        if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0:
            return {"rows": rows}
    return None


# ------------------------------------------------------------------------------------------ context


def base_context(
    config: Config, job_name: str, job: JobConfig, record: RunRecord, redactor: Redactor
) -> dict[str, Any]:
    """What every email about this run can use, the subject included."""
    result = scrub(record.result or {}, redactor)
    summary = result.get("summary") if isinstance(result.get("summary"), Mapping) else {}
    tz = config.job_timezone(job)
    # The report's own period first (a chain's steps may cover more days, e.g. two weeks for
    # week-over-week), then the run's parameter, then the first step's.
    step_periods = [p.get("period") for p in record.params.values() if isinstance(p, Mapping)]
    period_text = str(summary.get("period") or record.params.get("period") or next((p for p in step_periods if p), ""))
    period = _parse_period(period_text, tz, record.scheduled_for)
    label = summary.get("period_label") or (
        human_period(period) if period else f"{record.scheduled_for.astimezone(tz):%a %d %b %Y}"
    )
    return {
        "title": str(summary.get("title") or job.description or job_name),
        "period": period.label if period else period_text,
        "period_label": str(label),
        "scheduled_for": record.scheduled_for,
        "status": record.status,
        "result": {
            "rows": result.get("rows"),
            "summary": summary,
            "files": [Path(f).name for f in result.get("files") or []],
        },
    }


def report_context(
    config: Config,
    job_name: str,
    job: JobConfig,
    record: RunRecord,
    redactor: Redactor,
    dlog: DeliveryLog,
    *,
    warnings: list[str],
) -> tuple[dict[str, Any], bytes | None]:
    """The report template's context from the task's summary (module docstring), and its chart.

    Raises:
        TaskError: the summary does not follow the convention; the message names the key.
    """
    context = base_context(config, job_name, job, record, redactor)
    summary = context["result"]["summary"]
    kpis = [_kpi(i, k) for i, k in enumerate(_list(summary, "kpis"))]
    missed = [_missed(i, m) for i, m in enumerate(_list(summary, "missed_targets"))]
    drivers = [_driver(i, d) for i, d in enumerate(_list(summary, "drivers"))]
    headline = str(summary.get("headline") or "")
    # The body answers "are we on target?": the first few misses (the task's order, worst first
    # by convention), then how many more the workbook lists.
    context.update(
        kpis=kpis,
        missed=missed[:MISSED_SHOWN],
        missed_more=max(0, len(missed) - MISSED_SHOWN),
        drivers=drivers,
        summary=headline,
        warnings=list(warnings),
        preheader=headline or (f"{len(missed)} target(s) missed" if missed else "All targets met"),
    )
    chart = None
    if summary.get("trend"):
        try:
            chart, alt = _trend_chart(summary["trend"])
            context["chart_alt"] = alt
        except (TaskError, ValueError, TypeError) as exc:
            # The chart decorates the report: send the report without it; say why in the history.
            log.warning("run %s: trend chart left out: %s", record.id, exc)
            dlog.error("compose", f"summary.trend: {exc}", kind="chart")
    return context, chart


def summary_sections(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The KPI tiles, missed targets and drivers of a summary, checked and filled in as the report
    email shows them (for documents such as the weekly review PDF).

    Raises:
        TaskError: the summary does not follow the convention; the message names the key.
    """
    return {
        "kpis": [_kpi(i, k) for i, k in enumerate(_list(summary, "kpis"))],
        "missed": [_missed(i, m) for i, m in enumerate(_list(summary, "missed_targets"))],
        "drivers": [_driver(i, d) for i, d in enumerate(_list(summary, "drivers"))],
    }


def trend_chart(summary: Mapping[str, Any]) -> bytes | None:
    """The summary's trend as a PNG chart, or None when it has none."""
    return _trend_chart(summary["trend"])[0] if summary.get("trend") else None


def _list(summary: Mapping[str, Any], key: str) -> list[Any]:
    value = summary.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TaskError(f"summary.{key} should be a list, got {type(value).__name__}")
    return value


def _number(value: Any, where: str) -> float | int | None:
    """A number, or None (None, NaN); numbers stored as text (Decimal, numpy via JSON) convert."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TaskError(f"{where}: {value!r} is not a number")
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else value
    try:
        number = float(str(value))
    except ValueError:
        raise TaskError(f"{where}: {value!r} is not a number") from None
    return None if math.isnan(number) else number


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TaskError(f"{where} should be a mapping, got {type(value).__name__}")
    return value


def _choice(raw: Mapping[str, Any], keys: tuple[str, ...], allowed: tuple[str, ...], default: str, where: str) -> str:
    value = next((raw[k] for k in keys if raw.get(k) is not None), default)
    if value not in allowed:
        raise TaskError(f"{where}.{keys[0]}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _kpi(i: int, raw: Any) -> dict[str, Any]:
    where = f"summary.kpis[{i}]"
    raw = _mapping(raw, where)
    label = raw.get("label", raw.get("name"))
    if not label:
        raise TaskError(f"{where} needs a 'label' (or 'name')")
    kind = _choice(raw, ("kind", "format"), KINDS, "num", where)
    direction = _choice(raw, ("direction",), DIRECTIONS, "higher_is_better", where)
    value = _number(raw.get("value"), f"{where}.value")
    previous = _number(raw.get("previous"), f"{where}.previous")
    if raw.get("change") is not None:
        change = _number(raw["change"], f"{where}.change")
    elif value is None or previous is None:
        change = None
    elif kind == "pct":
        change = value - previous
    else:
        change = (value - previous) / abs(previous) if previous else None
    return {
        "label": str(label),
        "value": value,
        "kind": kind,
        "direction": direction,
        "change": change,
        "previous": previous,
        "target": _number(raw.get("target"), f"{where}.target"),
    }


def _missed(i: int, raw: Any) -> dict[str, Any]:
    where = f"summary.missed_targets[{i}]"
    raw = _mapping(raw, where)
    actual = _number(raw.get("actual"), f"{where}.actual")
    target = _number(raw.get("target"), f"{where}.target")
    direction = _choice(raw, ("direction",), DIRECTIONS, "higher_is_better", where)
    attainment = _number(raw.get("attainment"), f"{where}.attainment")
    if attainment is None and actual is not None and target is not None:
        if direction == "higher_is_better":
            attainment = actual / target if target else None
        else:
            attainment = target / actual if actual else None
    return {
        "where": str(raw.get("where") or ""),
        "metric": str(raw.get("metric") or ""),
        "actual": actual,
        "target": target,
        "attainment": attainment,
        "kind": _choice(raw, ("kind", "format"), KINDS, "num", where),
    }


def _driver(i: int, raw: Any) -> dict[str, Any]:
    where = f"summary.drivers[{i}]"
    raw = _mapping(raw, where)
    if not raw.get("label"):
        raise TaskError(f"{where} needs a 'label'")
    note = raw.get("note")
    return {
        "label": str(raw["label"]),
        "share": _number(raw.get("share"), f"{where}.share"),
        "note": None if note is None else str(note),
    }


def _trend_chart(raw: Any) -> tuple[bytes, str]:
    """``{"title", "series", "percent", "dashed"}``, or the series mapping alone."""
    from opskit.delivery.charts import trend_chart_png

    raw = _mapping(raw, "summary.trend")
    full = "series" in raw
    series_raw = _mapping(raw["series"], "summary.trend.series") if full else raw
    dashed = tuple((raw.get("dashed") if full else None) or ("Target",))
    series: dict[str, list[tuple[date, float | None]]] = {}
    for label, points in series_raw.items():
        where = f"summary.trend.series.{label}"
        series[str(label)] = [(date.fromisoformat(str(day)[:10]), _number(v, where)) for day, v in points]
    if not any(series.values()):
        raise TaskError("no points to draw")
    title = str(raw.get("title") or "") if full else ""
    title = title or ", ".join(label for label in series if label not in dashed) or "Trend"
    percent = bool(raw.get("percent")) if full else False
    return trend_chart_png(series, title, percent=percent, dashed=dashed), title


def _parse_period(text: str, tz: Any, scheduled_for: datetime) -> Period | None:
    if not text:
        return None
    from opskit.period import Period, PeriodError

    try:
        return Period.parse(text, tz=tz, scheduled_for=scheduled_for)
    except PeriodError:
        return None


def human_period(period: Period) -> str:
    """A period as people say it: "Mon 16 Nov 2026", "Week 2026-W46 (9-15 Nov)", "November 2026"."""
    s, e = period.start, period.end
    if s == e:
        return f"{s:%a} {s.day} {s:%b %Y}"
    if period.label == f"{s.year}-{s.month:02d}":
        return f"{s:%B %Y}"
    if s.year != e.year:
        span, year = f"{s.day} {s:%b %Y}-{e.day} {e:%b %Y}", ""
    elif s.month != e.month:
        span, year = f"{s.day} {s:%b}-{e.day} {e:%b}", f" {e.year}"
    else:
        span, year = f"{s.day}-{e.day} {e:%b}", f" {e.year}"
    if "-W" in period.label:
        return f"Week {period.label} ({span})"
    return span + year
