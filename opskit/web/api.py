"""The JSON API, ``/api/v1/...``: the pages' data for other tools, with bearer tokens and the same rules.

``Authorization: Bearer <token>`` (``runner.py users token NAME``) on every call; the token's user has
the same role and groups as on the pages, so a job of another group is 404 here too. Errors are JSON
``{"error": "..."}`` with 400 (bad request), 401 (no or bad token), 403 (role), 404, 422 (a parameter
that does not validate, with the same message as ``--param``) or 429.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, g, jsonify, request, send_file, url_for
from werkzeug.exceptions import HTTPException

from opskit.engine.planning import plan_run
from opskit.errors import OpskitError
from opskit.web.admin import health_facts
from opskit.web.auth import client_ip, require, state
from opskit.web.forms import check_untrusted
from opskit.web.jobs import preview, visible_job
from opskit.web.runs import FINAL, artifact_path, visible_run
from opskit.web.security import digest
from opskit.web.state import Viewer
from opskit.web.summaries import summarize

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate() -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "send an API token: Authorization: Bearer <token> (runner.py users token NAME)")
    user = state().store.user_for_token(digest(token.strip()))
    if user is None:
        return _error(401, "the token is unknown, revoked, or its user is disabled")
    g.viewer = Viewer(user.name, user.role, frozenset(user.groups))
    return None


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    return _error(exc.code or 500, exc.description or exc.name)


@bp.route("/jobs")
def jobs() -> Any:
    return jsonify({"jobs": [s.to_json() for s in summarize(state(), g.viewer)]})


@bp.route("/jobs/<name>")
def job(name: str) -> Any:
    st = state()
    job = visible_job(name)
    summary = summarize(st, g.viewer, only=name)[0]
    slots = st.next_slots(name, datetime.now(UTC), 10) if job.schedule and job.enabled else []
    data = summary.to_json()
    data["next_slots"] = [{"at": s.at.isoformat(), "skipped": s.skipped, "dst": s.dst} for s in slots]
    data["steps"] = [
        {
            "name": step.label,
            "task": step.task,
            "params": [
                {"name": p.name, "type": p.type_label, "help": p.help}
                for p in (st.registry.tasks[step.task].params if step.task in st.registry.tasks else ())
            ],
        }
        for step in job.step_list
    ]
    return jsonify(data)


@bp.route("/jobs/<name>/runs", methods=["GET"])
def job_runs(name: str) -> Any:
    visible_job(name)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 500)
    records = state().store.runs_page(
        jobs=[name], status=request.args.get("status") or None, before=request.args.get("before") or None, limit=limit
    )
    return jsonify({"runs": [_run_json(r) for r in records]})


@bp.route("/jobs/<name>/runs", methods=["POST"])
def start_run(name: str) -> Any:
    job = visible_job(name)
    viewer = require("runner")
    body = request.get_json(silent=True)
    if body is None and request.data:
        abort(400, 'the body must be JSON: {"params": {...}, "dry_run": false}')
    body = body or {}
    params = body.get("params") or {}
    if not isinstance(params, dict):
        abort(400, "'params' must be an object of parameter names to values")
    st = state()
    now = datetime.now(UTC)
    try:
        check_untrusted(params)
        plan = plan_run(st.config, st.registry, name, overrides=params, scheduled_for=now)
    except OpskitError as exc:
        return _error(422, str(exc))
    if body.get("dry_run"):
        facts = preview(name, job, plan)
        return jsonify(
            {
                "dry_run": True,
                "job": name,
                "scheduled_for": facts["scheduled_for"].isoformat(),
                "timezone": facts["tz"],
                "steps": [
                    {
                        "name": s["name"],
                        "task": s["task"],
                        "params": s["params"],
                        "periods": {
                            k: {"start": str(v["start"]), "end": str(v["end"])} for k, v in s["periods"].items()
                        },
                    }
                    for s in facts["steps"]
                ],
                "email": _email_json(job),
            }
        )
    run_request = st.store.add_run_request(name, overrides=params, trigger="web", requested_by=viewer.name, now=now)
    st.store.audit(
        "run",
        user=viewer.name,
        target=name,
        detail={"params": params, "request": run_request.id, "via": "api"},
        ip=client_ip(),
    )
    alive, _ = st.scheduler_alive()
    response = jsonify(
        {
            "request": run_request.to_json(),
            "scheduler_running": alive,
            "links": {"request": url_for("api.request_status", request_id=run_request.id)},
        }
    )
    response.status_code = 202
    response.headers["Location"] = url_for("api.request_status", request_id=run_request.id)
    return response


@bp.route("/requests/<request_id>")
def request_status(request_id: str) -> Any:
    try:
        run_request = state().store.get_run_request(request_id)
    except OpskitError:
        abort(404)
    visible_job(run_request.job)
    data = run_request.to_json()
    if run_request.run_id:
        data["links"] = {"run": url_for("api.run", run_id=run_request.run_id)}
    return jsonify(data)


@bp.route("/runs/<run_id>")
def run(run_id: str) -> Any:
    return jsonify(_run_json(visible_run(run_id), full=True))


@bp.route("/runs/<run_id>/artifacts")
def artifacts(run_id: str) -> Any:
    record = visible_run(run_id)
    folder = Path(record.folder)
    return jsonify(
        {
            "artifacts": [
                {
                    "name": name,
                    "size": (folder / name).stat().st_size if (folder / name).is_file() else None,
                    "url": url_for("api.artifact", run_id=record.id, name=name),
                }
                for name in record.artifacts
            ]
        }
    )


@bp.route("/runs/<run_id>/artifacts/<path:name>")
def artifact(run_id: str, name: str) -> Any:
    record = visible_run(run_id)
    path = artifact_path(record, name)
    state().store.audit(
        "download", user=g.viewer.name, target=record.id, detail={"file": name, "via": "api"}, ip=client_ip()
    )
    return send_file(path, as_attachment=True, download_name=path.name)


@bp.route("/jobs/<name>/<action>", methods=["POST"])
def pause_resume(name: str, action: str) -> Any:
    if action not in ("pause", "resume"):
        abort(404)
    visible_job(name)
    viewer = require("runner")
    st = state()
    st.store.set_paused(name, action == "pause")
    st.store.audit(action, user=viewer.name, target=name, detail={"via": "api"}, ip=client_ip())
    return jsonify({"job": name, "paused": action == "pause"})


@bp.route("/health")
def health() -> Any:

    facts = health_facts()
    info = facts["scheduler"]
    return jsonify(
        {
            "scheduler_running": facts["alive"],
            "heartbeat_age_s": facts["heartbeat_age_s"],
            "pid": info["pid"] if info else None,
            "lag_median_s": facts["lag_median_s"],
            "queued": [r.id for r in facts["queued"]],
            "running": [r.id for r in facts["running"]],
            "pending_requests": [r.id for r in facts["requests"]],
            "last_errors": [{"id": r.id, "job": r.job, "error": r.error} for r in facts["errors"]],
        }
    )


def _run_json(record: Any, *, full: bool = False) -> dict[str, Any]:
    data = record.to_json()
    for key in ("pid", "host", "folder"):
        data.pop(key, None)
    if not full:
        data.pop("result", None)
        data.pop("delivery", None)
    else:
        data["final"] = record.status in FINAL
        data["links"] = {
            "artifacts": url_for("api.artifacts", run_id=record.id),
            "page": url_for("runs.run", run_id=record.id),
        }
    return data


def _email_json(job: Any) -> dict[str, Any] | None:
    if job.email is None:
        return None
    return {
        "to": list(job.email.to),
        "cc": list(job.email.cc),
        "bcc": len(job.email.bcc),
        "subject": job.email.subject,
        "on": list(job.email.on),
        "attach": list(job.email.attach),
    }


def _error(status: int, message: str) -> Any:
    response = jsonify({"error": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="opskit"'
    return response
