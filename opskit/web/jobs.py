"""The jobs pages: the list, one job, "Run now" (with its dry-run preview), pause/resume, backfill.

A job another group owns answers 404, exactly like a job that does not exist. Runs started here are run
requests (``RunStore.add_run_request``): the scheduler plans and queues them on its next tick.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup

from opskit.config.model import JobConfig
from opskit.engine.planning import PlannedRun, plan_run
from opskit.engine.requests_table import RequestStatus
from opskit.errors import OpskitError
from opskit.period import Period
from opskit.redact import Redactor
from opskit.web.auth import client_ip, require, safe_next, state
from opskit.web.forms import job_form, overrides_from_form
from opskit.web.summaries import LIGHTS, rows_of, summarize

bp = Blueprint("jobs", __name__)

MAX_BACKFILL_SLOTS = 400
STATUS_FILTERS = {
    "problem": ("failed", "timed_out", "abandoned", "blocked"),
    "ok": ("succeeded",),
    "running": ("running", "queued"),
    "paused": ("paused",),
    "never": ("never",),
}


@bp.route("/")
def index() -> Any:
    return redirect(url_for("jobs.jobs"))


@bp.route("/jobs")
def jobs() -> Any:
    viewer = g.viewer
    st = state()
    group = request.args.get("group", "")
    status = request.args.get("status", "")
    text = request.args.get("q", "").strip().lower()
    key = ("jobs", viewer.role == "admin", viewer.groups, group, status, text)
    table, groups = st.cached(key, lambda: _jobs_table(st, viewer, group, status, text))
    if request.headers.get("HX-Request"):
        return table
    alive, _ = st.scheduler_alive()
    return render_template(
        "jobs.html", table=table, groups=groups, group=group, status=status, q=text, scheduler_alive=alive
    )


def _jobs_table(st: Any, viewer: Any, group: str, status: str, text: str) -> tuple[Markup, list[str]]:
    """The jobs table's HTML and the groups for its filter (the same for everyone with the same groups)."""
    everything = summarize(st, viewer)
    groups = sorted({grp for s in everything for grp in s.groups})
    shown = [
        s
        for s in everything
        if (not group or group in s.groups)
        and (not status or s.light in STATUS_FILTERS.get(status, (status,)))
        and (not text or text in s.name.lower() or text in s.description.lower())
    ]
    html = render_template("_jobs_table.html", jobs=shown, total=len(everything), now=datetime.now(UTC))
    return Markup(html), groups


@bp.route("/jobs/<name>")
def job(name: str) -> Any:
    st = state()
    job = visible_job(name)
    now = datetime.now(UTC)
    tz = st.config.job_timezone(job)
    timetable = st.timetable(name)
    slots = st.next_slots(name, now, 10) if timetable is not None and job.enabled else []
    runs = st.store.runs_page(jobs=[name], limit=20)
    trend = st.store.job_trend(name, limit=60)
    paused = bool(st.store.job_state(name).get("paused"))
    summary = next(iter(summarize(st, g.viewer, now=now, only=name)), None)
    return render_template(
        "job.html",
        name=name,
        job=job,
        tz=tz,
        timetable=timetable,
        slots=slots,
        runs=runs,
        chart=_chart(trend),
        paused=paused,
        summary=summary,
        config_text=_config_text(name),
        rows_of=rows_of,
        lights=LIGHTS,
    )


@bp.route("/jobs/<name>/run", methods=["GET", "POST"])
def run_now(name: str) -> Any:
    st = state()
    job = visible_job(name)
    viewer = require("runner")
    steps = job_form(name, job, st.registry)
    alive, _ = st.scheduler_alive()
    context: dict[str, Any] = {"name": name, "job": job, "steps": steps, "scheduler_alive": alive, "values": {}}
    if request.method == "GET":
        return render_template("run_form.html", **context)
    context["values"] = request.form
    now = datetime.now(UTC)
    try:
        overrides = overrides_from_form(request.form, steps)
        plan = plan_run(st.config, st.registry, name, overrides=overrides, scheduled_for=now)
    except OpskitError as exc:
        context["error"] = str(exc)
        template = "_preview.html" if request.headers.get("HX-Request") else "run_form.html"
        return render_template(template, **context), 422
    if request.form.get("action") != "run":
        context["preview"] = preview(name, job, plan)
        template = "_preview.html" if request.headers.get("HX-Request") else "run_form.html"
        return render_template(template, **context)
    run_request = st.store.add_run_request(name, overrides=overrides, trigger="web", requested_by=viewer.name, now=now)
    st.store.audit(
        "run", user=viewer.name, target=name, detail={"params": overrides, "request": run_request.id}, ip=client_ip()
    )
    return redirect(url_for("jobs.request_page", request_id=run_request.id), code=303)


@bp.route("/requests/<request_id>")
def request_page(request_id: str) -> Any:
    st = state()
    run_request = _visible_request(request_id)
    if run_request.run_id and request.headers.get("HX-Request"):
        response = jsonify({})
        response.headers["HX-Redirect"] = url_for("runs.run", run_id=run_request.run_id)
        return response
    if run_request.run_id and not request.args.get("stay"):
        return redirect(url_for("runs.run", run_id=run_request.run_id))
    alive, _ = st.scheduler_alive()
    if request.headers.get("HX-Request"):
        # 286 tells htmx to stop polling: the request was rejected or cancelled.
        code = 200 if run_request.status == RequestStatus.PENDING else 286
        return render_template("_request_status.html", req=run_request, scheduler_alive=alive), code
    return render_template("request.html", req=run_request, scheduler_alive=alive)


@bp.route("/requests/<request_id>/cancel", methods=["POST"])
def cancel_request(request_id: str) -> Any:
    viewer = require("runner")
    run_request = _visible_request(request_id)
    if run_request.requested_by != viewer.name and not viewer.can("admin"):
        abort(403, "Only who asked for the run (or an admin) can cancel it")
    st = state()
    if st.store.close_run_request(request_id, RequestStatus.CANCELLED, error=f"cancelled by {viewer.name}"):
        st.store.audit(
            "cancel", user=viewer.name, target=run_request.job, detail={"request": request_id}, ip=client_ip()
        )
        flash("The run request was cancelled; nothing ran.")
    return redirect(url_for("jobs.request_page", request_id=request_id, stay=1), code=303)


@bp.route("/jobs/<name>/<action>", methods=["POST"])
def pause_resume(name: str, action: str) -> Any:
    if action not in ("pause", "resume"):
        abort(404)
    visible_job(name)
    viewer = require("runner")
    st = state()
    st.store.set_paused(name, action == "pause")
    st.store.audit(action, user=viewer.name, target=name, ip=client_ip())
    flash(f"{name} is paused: its slots are skipped until resumed." if action == "pause" else f"{name} resumed.")
    return redirect(safe_next(request.form.get("back")) or url_for("jobs.job", name=name), code=303)


@bp.route("/jobs/<name>/backfill", methods=["GET", "POST"])
def backfill(name: str) -> Any:
    st = state()
    job = visible_job(name)
    viewer = require("runner")
    context: dict[str, Any] = {"name": name, "job": job, "values": request.form}
    timetable = st.timetable(name)
    if timetable is None:
        context["error"] = f"{name} has no schedule, so it has no slots to backfill; use Run now instead."
        return render_template("backfill.html", **context), 422 if request.method == "POST" else 200
    if request.method == "GET":
        return render_template("backfill.html", **context)
    tz = st.config.job_timezone(job)
    try:
        first = date.fromisoformat(request.form.get("from", ""))
        last = date.fromisoformat(request.form.get("to", ""))
    except ValueError:
        context["error"] = "Give a first and a last day (YYYY-MM-DD)."
        return render_template("backfill.html", **context), 422
    if last < first:
        context["error"] = "The last day is before the first."
        return render_template("backfill.html", **context), 422
    start = datetime.combine(first, time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz)
    slots = []
    for slot in timetable.fires_between(start - timedelta(microseconds=1), end - timedelta(microseconds=1)):
        slots.append(slot)
        if len(slots) > MAX_BACKFILL_SLOTS:
            context["error"] = f"More than {MAX_BACKFILL_SLOTS} slots: backfill a shorter range at a time."
            return render_template("backfill.html", **context), 422
    again = request.form.get("again") == "yes"
    listed = [{"at": s, "ran": st.store.has_slot(name, s, count_skipped=False)} for s in slots]
    if request.form.get("action") != "run":
        context.update(slots=listed, again=again, tz=tz)
        return render_template("backfill.html", **context)
    asked: list[datetime] = [s["at"] for s in listed if again or not s["ran"]]  # type: ignore[misc]
    for slot in asked:
        st.store.add_run_request(
            name,
            overrides={},
            trigger="backfill",
            requested_by=viewer.name,
            scheduled_for=slot,
            options={"again": again},
        )
    st.store.audit(
        "backfill",
        user=viewer.name,
        target=name,
        detail={"from": str(first), "to": str(last), "slots": len(asked)},
        ip=client_ip(),
    )
    flash(f"{len(asked)} backfill run(s) of {name} asked for; they run one after another.")
    return redirect(url_for("runs.runs", job=name, trigger="backfill"), code=303)


def preview(name: str, job: JobConfig, plan: PlannedRun) -> dict[str, Any]:
    """What the dry run shows: resolved parameters, the periods' dates, what would be sent."""
    st = state()
    steps = []
    for step in plan.steps:
        values = plan.params_json().get(step.name, {}) if plan.chained else plan.params_json()
        periods = {
            key: {"start": v.start, "end": v.end, "days": v.days, "label": v.human_label}
            for key, v in step.params.items()
            if isinstance(v, Period)
        }
        steps.append({"name": step.name, "task": step.spec.name, "params": values, "periods": periods})
    email = job.email
    runs = st.store.runs_page(jobs=[name], status="running", limit=1) + st.store.runs_page(
        jobs=[name], status="queued", limit=1
    )
    return {
        "scheduled_for": plan.scheduled_for.astimezone(plan.tz),
        "tz": str(plan.tz),
        "timeout": plan.timeout,
        "retries": plan.retries,
        "steps": steps,
        "email": email,
        "gates": job.gates,
        "busy": runs[0].id if runs else None,
        "overlap": job.overlap,
        "paused": bool(st.store.job_state(name).get("paused")),
    }


def visible_job(name: str) -> JobConfig:
    """The job, if the viewer may see it; 404 otherwise (the same answer as for a job that does not exist)."""
    job = state().job_for(g.viewer, name)
    if job is None:
        abort(404)
    return job


def _visible_request(request_id: str) -> Any:
    try:
        run_request = state().store.get_run_request(request_id)
    except OpskitError:
        abort(404)
    visible_job(run_request.job)
    return run_request


def _config_text(name: str) -> str:
    """The job as written in config.yaml: ``${VAR}`` left unresolved, ``*_env`` values and secrets hidden."""
    import yaml

    st = state()
    raw = st.raw_jobs().get(name, {})
    text = yaml.safe_dump(_hide_env(raw), sort_keys=False, allow_unicode=True, default_flow_style=False)
    return Redactor(set(st.config.secrets)).redact(text)


def _hide_env(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("(hidden)" if str(k).endswith("_env") else _hide_env(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_env(v) for v in value]
    return value


def _chart(trend: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Bars of duration and a line of rows, laid out for an inline SVG (no script, no inline style)."""
    if not trend:
        return None
    width, height, pad = 720, 160, 4
    durations = [t["duration_s"] or 0.0 for t in trend]
    rows = [t["rows"] for t in trend]
    top = max(durations) or 1.0
    top_rows = max((r for r in rows if r is not None), default=0) or 1
    step = (width - 2 * pad) / len(trend)
    bars, points = [], []
    for i, t in enumerate(trend):
        h = (height - 20) * (durations[i] / top)
        x = pad + i * step
        bars.append(
            {
                "x": round(x + 1, 1),
                "y": round(height - 10 - h, 1),
                "w": round(max(step - 2, 1), 1),
                "h": round(h, 1),
                "cls": LIGHTS.get(t["status"], LIGHTS["never"])[0],
                "title": f"{t['scheduled_for']:%Y-%m-%d %H:%M} {t['status']}: "
                f"{durations[i]:.1f}s" + (f", {rows[i]:,} rows" if rows[i] is not None else ""),
                "id": t["id"],
            }
        )
        if rows[i] is not None:
            points.append(f"{x + step / 2:.1f},{height - 10 - (height - 20) * rows[i] / top_rows:.1f}")
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "line": " ".join(points),
        "max_duration": top,
        "max_rows": top_rows if points else None,
        "first": trend[0]["scheduled_for"],
        "last": trend[-1]["scheduled_for"],
    }
