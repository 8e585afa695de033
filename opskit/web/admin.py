"""Scheduler health for everyone signed in; users and the audit log for admins; ``/healthz`` for monitors."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from opskit.engine.history import RunStatus
from opskit.web.auth import client_ip, require, state
from opskit.web.summaries import LIGHTS

bp = Blueprint("admin", __name__)


def health_facts() -> dict[str, Any]:
    """Heartbeat, lag, queue, running runs, pending requests and the last errors the viewer may see."""
    st = state()
    viewer = g.viewer
    alive, info = st.scheduler_alive()
    now = datetime.now(UTC)
    store = st.store
    visible = set(st.visible_jobs(viewer))
    seen = (lambda job: job in visible) if viewer.role != "admin" else (lambda job: True)
    lags = store.start_lags(limit=50)
    queued = [r for r in store.by_status(RunStatus.QUEUED) if seen(r.job)]  # type: ignore[attr-defined]
    running = [r for r in store.by_status(RunStatus.RUNNING) if seen(r.job)]  # type: ignore[attr-defined]
    requests = [r for r in store.run_requests(status="pending", limit=100) if seen(r.job)]
    errors = [
        r for r in store.runs_page(jobs=None if viewer.role == "admin" else sorted(visible), status="failed", limit=10)
    ]
    return {
        "alive": alive,
        "scheduler": info,
        "heartbeat_age_s": (now - info["heartbeat_at"]).total_seconds() if info else None,
        "lag_median_s": statistics.median(lags) if lags else None,
        "lag_max_s": max(lags) if lags else None,
        "lag_runs": len(lags),
        "queued": queued,
        "running": running,
        "requests": requests,
        "errors": errors,
    }


@bp.route("/health")
def health() -> Any:
    return render_template("health.html", facts=health_facts(), lights=LIGHTS)


@bp.route("/healthz")
def healthz() -> Any:
    """For a load balancer or a monitor: 200 while the web app answers (no data, no sign-in)."""
    return {"ok": True}


@bp.route("/admin/users", methods=["GET", "POST"])
def users() -> Any:
    viewer = require("admin")
    st = state()
    if request.method == "POST":
        name = request.form.get("user", "")
        action = request.form.get("action")
        if action in ("disable", "enable"):
            st.store.update_user(name, disabled=action == "disable")
        elif action == "revoke":
            st.store.revoke_token(request.form.get("token", ""))
        else:
            abort(400, "unknown action")
        st.store.audit(f"user_{action}", user=viewer.name, target=name or request.form.get("token"), ip=client_ip())
        flash("Done.")
        return redirect(url_for("admin.users"), code=303)
    groups = sorted({grp for job in st.config.jobs.values() for grp in job.groups})
    return render_template("users.html", users=st.store.list_users(), tokens=st.store.list_tokens(), groups=groups)


@bp.route("/admin/audit")
def audit() -> Any:
    require("admin")
    st = state()
    entries = st.store.audit_entries(
        limit=300, user=request.args.get("user") or None, action=request.args.get("action") or None
    )
    return render_template("audit.html", entries=entries, args=request.args)
