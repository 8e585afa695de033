"""The report email's content, from the task's ``Result.summary``: KPI tiles, missed targets, drivers, trend.

The summary convention for report tasks
---------------------------------------
The report email is built from the task's ``Result.summary`` (stored as JSON). ``kind`` picks the
email (``sections`` describes each kind and the one "worst first" rule); every other key is optional:

``kind`` (str)            comparison (default) | status | ingestion | plan | reconciliation
``title`` (str)           the email's title; default: the job's description, else its name
``headline`` (str)        one sentence under the title that answers the reader's first question
``problems`` (list)       ``{"where", "problem", "fix"}``: what the reader must act on; the headline
                          when there are any
``period_label`` (str)    replaces the label made from the ``period`` parameter
                          ("Week 2026-W46 (9-15 Nov)", "Mon 16 Nov 2026", "November 2026")
``kpis`` (list)           headline tiles, each ``{"label" (or "name"), "value", "kind" (num | pct |
                          duration | rate | fte | hours | currency), "previous", "change",
                          "direction" (higher_is_better | lower_is_better | neutral), "target",
                          "note"}``. pct values are ratios (0.934), durations seconds. ``change``
                          defaults to value - previous for pct (points), else relative. A tile
                          shows a change or a target only when it has one.
``currency`` (str)        the code shown before ``currency`` values ("EUR")
``trend`` (dict)          ``{"title", "series": {label: [[ISO date, number | None], ...]},
                          "percent", "dashed", "y_min", "y_max"}``: a PNG shown inline
``columns``, ``newest``   what the quality gates check (schema drift, freshness)
``note`` (str)            a line for the "no data for this period" email (why it is empty)

comparison: ``previous_period`` (the label compared with), ``missed_targets`` (``{"where",
"metric", "actual", "target", "kind", "direction", "attainment"}``), ``drivers`` (``{"label",
"share", "note"}``) and ``drivers_share_of`` (what every share is a share of; required with shares).
status: ``as_of`` (ISO), ``checked``, ``checks`` (``{"where", "metric", "value", "limit", "kind",
"direction", "state": breach | ok}``), ``changes`` (``{"where", "from", "to", "why"}``).
ingestion: ``files`` (``{"file", "vendor", "status": archived | quarantined | skipped | rejected,
"rows", "rejected", "reason"}``).
plan: ``horizon`` (``{"first", "last", "label"}``), ``weeks`` (``{"week", "required", "supply",
"gap"}``), ``shortfalls`` (``{"where", "week", "required", "supply"}``).
reconciliation: ``left``/``right`` (``{"name", "rows"}``), ``keys``, ``matched``, ``only_left``,
``only_right``, ``differing``, ``groups`` (``{"group", "only_left", "only_right", "differing"}``),
``totals`` (``{column: {"left", "right"}}``).

Lists of misses are shown worst first by one rule (``sections``), the first 10 with how many more
the workbook has. The gates read ``Result.rows``. The subject template (``email.subject``) sees
``job``, ``run_id``, ``title``, ``period``, ``period_label``, ``scheduled_for`` (in the job's
timezone) and ``result`` (``rows``, ``files``, ``summary``). Text from the summary is escaped in HTML
(autoescape): content from users is hostile by nature.

Documents show the same sections as the email (``summary_sections``, ``trend_chart``); tasks reach them
through ``RunContext.summary_sections``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.delivery.charts import trend_chart_png
from opskit.delivery.sections import KIND_SECTIONS, as_list, kind_of, kpi, mapping, number, problem
from opskit.errors import TaskError
from opskit.period import Period, PeriodError
from opskit.redact import scrub

if TYPE_CHECKING:
    from opskit.config.model import Config, JobConfig
    from opskit.delivery.record import DeliveryLog
    from opskit.engine.history import RunRecord
    from opskit.redact import Redactor

log = logging.getLogger(__name__)

MISSED_SHOWN = 10


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
        period.human_label if period else f"{record.scheduled_for.astimezone(tz):%a %d %b %Y}"
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
    context.update(email_sections(summary), warnings=list(warnings))
    chart = None
    if summary.get("trend") and context["kind"] == "comparison":
        try:
            chart, alt = _trend_chart(summary["trend"])
            context["chart_alt"] = alt
        except (TaskError, ValueError, TypeError) as exc:
            # The chart decorates the report: send the report without it; say why in the history.
            log.warning("run %s: trend chart left out: %s", record.id, exc)
            dlog.error("compose", f"summary.trend: {exc}", kind="chart")
    return context, chart


def email_sections(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the report templates show of a summary: its kind's sections, the tiles, the problems,
    the lists cut to what an email shows (the first 10, and how many more), and the preheader."""
    sections = summary_sections(summary)
    headline = str(summary.get("headline") or "")
    for key in ("missed", "breaches", "shortfalls"):
        if key in sections:
            items = sections[key]
            sections[key] = items[:MISSED_SHOWN]
            total = len(items)
            if key == "shortfalls" and sections.get("shortfalls_total"):
                total = max(total, int(sections["shortfalls_total"]))
            sections[f"{key}_more"] = max(0, total - MISSED_SHOWN)
    problems = sections["problems"]
    said = verdict(sections)
    if problems:
        first = problems[0]
        preheader = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}: {first['problem']}"
        said = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} to fix · {said}"
    else:
        preheader = headline or said
    return {**sections, "summary": headline, "preheader": preheader, "verdict": said}


def summary_sections(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A summary's sections, checked and filled in as the report email shows them (for documents such
    as the weekly review PDF): ``kind``, ``kpis``, ``problems``, ``currency`` and the kind's own
    (``sections.KIND_SECTIONS``). A comparison always has ``missed`` and ``drivers``.

    Raises:
        TaskError: the summary does not follow the convention; the message names the key.
    """
    kind = kind_of(summary)
    currency = summary.get("currency")
    return {
        "kind": kind,
        "kpis": [kpi(i, k) for i, k in enumerate(as_list(summary, "kpis"))],
        "problems": [problem(i, p) for i, p in enumerate(as_list(summary, "problems"))],
        "currency": None if currency is None else str(currency),
        **KIND_SECTIONS[kind](summary),
    }


def trend_chart(summary: Mapping[str, Any]) -> bytes | None:
    """The summary's trend as a PNG chart, or None when it has none."""
    return _trend_chart(summary["trend"])[0] if summary.get("trend") else None


def verdict(sections: Mapping[str, Any]) -> str:
    """The one line under the title that says what the report found, in its kind's terms.

    A comparison says "all targets met" only when targets were checked (``targets_checked`` in the
    summary, else a tile with a target) and the data had no problems: a report without targets claims
    nothing about them, and one with data problems (a file quarantined, rows rejected) claims them only
    for the data it read. An ingestion names its quarantined files and rejected rows.
    """
    kind = sections["kind"]
    if kind == "comparison":
        n = len(sections["missed"]) + sections.get("missed_more", 0)
        if n:
            return f"{n} target{'s' if n != 1 else ''} missed"
        if not sections["targets_checked"]:
            return "no targets to check"
        return "no target missed in the data read" if sections["problems"] else "all targets met"
    if kind == "status":
        n = len(sections["breaches"]) + sections.get("breaches_more", 0)
        return f"{n} in breach now" if n else "everything within its limits"
    if kind == "plan":
        n = len(sections["shortfalls"]) + sections.get("shortfalls_more", 0)
        return f"{n} queue-week{'s' if n != 1 else ''} short" if n else "supply covers demand"
    if kind == "reconciliation":
        c = sections["counts"]
        one_sided = c["only_left"] + c["only_right"]
        return f"{c['matched']:,} matched, {one_sided:,} on one side only, {c['differing']:,} differ"
    totals = sections["file_totals"]
    said = [f"{totals['read']} file{'s' if totals['read'] != 1 else ''} read"]
    if totals["quarantined"]:
        said.append(f"{totals['quarantined']} quarantined")
    if totals["rejected"]:
        said.append(f"{totals['rejected']:,} row{'s' if totals['rejected'] != 1 else ''} rejected")
    if len(said) == 1:
        said.append(f"{totals['rows']:,} rows")
    return ", ".join(said)


def _trend_chart(raw: Any) -> tuple[bytes, str]:
    """``{"title", "series", "percent", "dashed", "y_min", "y_max"}``, or the series mapping alone."""
    raw = mapping(raw, "summary.trend")
    full = "series" in raw
    series_raw = mapping(raw["series"], "summary.trend.series") if full else raw
    dashed = tuple((raw.get("dashed") if full else None) or ("Target",))
    series: dict[str, list[tuple[date, float | None]]] = {}
    for label, points in series_raw.items():
        where = f"summary.trend.series.{label}"
        series[str(label)] = [(date.fromisoformat(str(day)[:10]), number(v, where)) for day, v in points]
    if not any(series.values()):
        raise TaskError("no points to draw")
    title = str(raw.get("title") or "") if full else ""
    title = title or ", ".join(label for label in series if label not in dashed) or "Trend"
    percent = bool(raw.get("percent")) if full else False
    low, high = number(raw.get("y_min"), "summary.trend.y_min"), number(raw.get("y_max"), "summary.trend.y_max")
    y_range = (float(low), float(high)) if full and low is not None and high is not None else None
    return trend_chart_png(series, title, percent=percent, dashed=dashed, y_range=y_range), title


def _parse_period(text: str, tz: Any, scheduled_for: datetime) -> Period | None:
    if not text:
        return None
    try:
        return Period.parse(text, tz=tz, scheduled_for=scheduled_for)
    except PeriodError:
        return None
