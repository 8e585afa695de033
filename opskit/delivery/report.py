"""The report email's content, from the task's ``Result.summary``: KPI tiles, missed targets, drivers, trend.

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

Documents show the same sections as the email (``summary_sections``, ``trend_chart``); tasks reach them
through ``RunContext.summary_sections``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.delivery.charts import trend_chart_png
from opskit.errors import TaskError
from opskit.period import Period, PeriodError
from opskit.redact import scrub

if TYPE_CHECKING:
    from opskit.config.model import Config, JobConfig
    from opskit.delivery.record import DeliveryLog
    from opskit.engine.history import RunRecord
    from opskit.redact import Redactor

log = logging.getLogger(__name__)

KINDS = ("num", "pct", "duration", "rate")
DIRECTIONS = ("higher_is_better", "lower_is_better")
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
    sections = summary_sections(summary)
    missed = sections["missed"]
    headline = str(summary.get("headline") or "")
    # The body answers "are we on target?": the first few misses (the task's order, worst first
    # by convention), then how many more the workbook lists.
    context.update(
        kpis=sections["kpis"],
        missed=missed[:MISSED_SHOWN],
        missed_more=max(0, len(missed) - MISSED_SHOWN),
        drivers=sections["drivers"],
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
    try:
        return Period.parse(text, tz=tz, scheduled_for=scheduled_for)
    except PeriodError:
        return None
