"""The run pages: the list, one run (status, steps, artifacts, the email as sent, gates, failure), its
live log over server-sent events, and downloads.

The live log sends the tail of a big log first (the last 64 KiB; the whole file is a download), then
every new line as the run writes it. One stream lasts at most STREAM_SECONDS: the browser reconnects by
itself with the last offset it saw (``Last-Event-ID``), so a server thread is never held for long and a
dropped connection loses no line. Log text is redacted of the config's secrets once more on the way out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request, send_file, stream_with_context

from opskit.engine.history import RunRecord
from opskit.errors import OpskitError
from opskit.redact import Redactor
from opskit.web.auth import client_ip, state
from opskit.web.mail import messages_of_run
from opskit.web.summaries import LIGHTS, rows_of

bp = Blueprint("runs", __name__)

TAIL_BYTES = 64 * 1024
STREAM_SECONDS = 25.0
POLL_S = 0.2
STATUS_EVERY_S = 1.0
_STEP_START = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) .*: step '(.+?)' \(task (\S+)\) starting")
_FAILED_STEP = re.compile(r"^step '(.+?)' \((\S+)\) failed: |during step '(.+?)'")
FINAL = ("succeeded", "failed", "timed_out", "skipped", "abandoned")
DELIVERY_GRACE = timedelta(minutes=2)


@bp.route("/runs")
def runs() -> Any:
    st = state()
    viewer = g.viewer
    job = request.args.get("job") or None
    visible = st.visible_jobs(viewer)
    if job is not None and job not in visible:
        abort(404)
    jobs = [job] if job else (None if viewer.role == "admin" else visible)
    records = st.store.runs_page(
        jobs=jobs,
        status=request.args.get("status") or None,
        trigger=request.args.get("trigger") or None,
        before=request.args.get("before") or None,
        limit=50,
    )
    return render_template("runs.html", runs=records, job=job, lights=LIGHTS, rows_of=rows_of, args=request.args)


@bp.route("/runs/<run_id>")
def run(run_id: str) -> Any:
    st = state()
    record = visible_run(run_id)
    config = st.config
    job = config.jobs.get(record.job) if record.job else None
    tz = config.job_timezone(job)
    failure = _failure(record)
    return render_template(
        "run.html",
        run=record,
        tz=tz,
        light=LIGHTS.get(record.status, LIGHTS["never"]),
        final=record.status in FINAL,
        steps=_steps(record),
        artifacts=_artifacts(record),
        messages=messages_of_run(st.config, record),
        delivery=record.delivery or {},
        delivery_pending=_delivery_pending(record),
        failure=failure,
        rows=rows_of(record),
    )


def _delivery_pending(record: RunRecord) -> bool:
    """A run that has just ended is delivered by the scheduler's delivery thread a moment later: the page
    says so and looks again, for as long as such a hand-over can take (a run found later was never delivered)."""
    delivered = record.delivery is not None and record.delivery.get("state") != "claimed"
    if record.status not in FINAL or record.status == "skipped" or delivered or record.finished_at is None:
        return False
    return datetime.now(UTC) - record.finished_at < DELIVERY_GRACE


@bp.route("/runs/<run_id>/log")
def log_file(run_id: str) -> Any:
    record = visible_run(run_id)
    path = Path(record.folder) / "run.log"
    if not path.is_file():
        abort(404, "This run has no log file (not started yet, or its folder was pruned by the retention setting)")
    text = _redactor().redact(path.read_text(encoding="utf-8", errors="replace"))
    return Response(text, mimetype="text/plain", headers={"Content-Disposition": f'inline; filename="{record.id}.log"'})


@bp.route("/runs/<run_id>/log/stream")
def log_stream(run_id: str) -> Any:
    record = visible_run(run_id)
    st = state()
    path = Path(record.folder) / "run.log"
    try:
        offset = int(request.headers.get("Last-Event-ID") or request.args.get("from") or -1)
    except ValueError:
        offset = -1
    redactor = _redactor()
    store = st.store

    def events() -> Iterator[str]:
        nonlocal offset
        yield "retry: 1000\n\n"
        deadline = time.monotonic() + STREAM_SECONDS
        status, checked = record.status, 0.0
        first = True
        while True:
            size = path.stat().st_size if path.is_file() else 0
            if offset < 0:
                offset = 0
                if size > TAIL_BYTES:
                    offset = _line_start(path, size - TAIL_BYTES)
                    yield f"event: skipped\ndata: {offset}\n\n"
            if size > offset:
                chunk, offset = _read_lines(path, offset, final=status in FINAL)
                if chunk:
                    lines = redactor.redact(chunk).split("\n")
                    yield f"id: {offset}\nevent: log\n" + "".join(f"data: {line}\n" for line in lines) + "\n"
                    continue
            now = time.monotonic()
            if first or now - checked >= STATUS_EVERY_S:
                fresh = store.get(record.id).status
                if first or fresh != status:
                    yield f"event: status\ndata: {fresh}\n\n"
                first, checked, status = False, now, fresh
                if status in FINAL:
                    size = path.stat().st_size if path.is_file() else 0
                    if size <= offset:
                        yield f"id: {offset}\nevent: end\ndata: {status}\n\n"
                        return
                    continue
            if now > deadline:
                return  # the browser reconnects with Last-Event-ID
            time.sleep(POLL_S)

    return Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@bp.route("/runs/<run_id>/files/<path:name>")
def download(run_id: str, name: str) -> Any:
    record = visible_run(run_id)
    path = artifact_path(record, name)
    state().store.audit("download", user=g.viewer.name, target=record.id, detail={"file": name}, ip=client_ip())
    inline = path.suffix.lower() in (".png", ".jpg", ".jpeg") and request.args.get("inline") == "1"
    return send_file(path, as_attachment=not inline, download_name=path.name)


def visible_run(run_id: str) -> RunRecord:
    """The run, if the viewer may see its job; 404 otherwise (also for an unknown id: ids are not probed)."""
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{6,200}", run_id):
        abort(404)
    st = state()
    try:
        record = st.store.get(run_id)
    except OpskitError:
        abort(404)
    if record.id != run_id or not st.run_visible(g.viewer, record):
        abort(404)
    return record


def artifact_path(record: RunRecord, name: str) -> Path:
    """A file of the run, by its name in the run's artifact list, that resolves inside the run's folder."""
    folder = Path(record.folder).resolve()
    known = set(record.artifacts) | {_relative(folder, f) for f in (record.result or {}).get("files") or []}
    if name not in known:
        abort(404)
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        abort(404, "This file is no longer there (its run folder may have been pruned by the retention setting)")
    return path


def _relative(folder: Path, file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(folder))
    except ValueError:
        return ""


def _artifacts(record: RunRecord) -> list[dict[str, Any]]:
    folder = Path(record.folder)
    out = []
    for name in sorted(
        set(record.artifacts)
        | {_relative(folder.resolve(), f) for f in (record.result or {}).get("files") or []} - {""}
    ):
        path = folder / name
        if name == "run.log":
            continue
        out.append(
            {
                "name": name,
                "size": path.stat().st_size if path.is_file() else None,
                "kind": path.suffix.lower().lstrip(".") or "file",
                "image": path.suffix.lower() in (".png", ".jpg", ".jpeg"),
            }
        )
    return out


def _steps(record: RunRecord) -> list[dict[str, Any]]:
    """The steps with their start times from the run's log, and how each ended."""
    path = Path(record.folder) / "run.log"
    starts: list[tuple[str, str, datetime]] = []
    if path.is_file():
        with path.open(encoding="utf-8", errors="replace") as handle:
            for n, line in enumerate(handle):
                if n > 20000:
                    break
                m = _STEP_START.match(line)
                if m:
                    starts.append(
                        (
                            m.group(3),
                            m.group(4),
                            datetime.strptime(f"{m.group(1)}.{m.group(2)}", "%Y-%m-%d %H:%M:%S.%f"),
                        )
                    )
    if not starts:
        return []
    failed = None
    m = _FAILED_STEP.search(record.error or "")
    if m:
        failed = m.group(1) or m.group(3)
    steps = []
    for i, (label, task, at) in enumerate(starts):
        if i + 1 < len(starts):
            seconds: float | None = (starts[i + 1][2] - at).total_seconds()
            outcome = "succeeded"
        else:
            total = record.duration_s
            seconds = total - (at - starts[0][2]).total_seconds() if total is not None else None
            outcome = "failed" if label == failed else (record.status if record.status in FINAL else "running")
        steps.append({"name": label, "task": task, "seconds": seconds, "outcome": outcome})
    return steps


def _failure(record: RunRecord) -> dict[str, Any] | None:
    if record.status not in ("failed", "timed_out", "abandoned"):
        return None
    m = _FAILED_STEP.search(record.error or "")
    shots = [a for a in record.artifacts if a.endswith("screenshot.png")]
    traces = [a for a in record.artifacts if Path(a).name.startswith("trace") and a.endswith(".zip")]
    result = record.result or {}
    return {
        "error": record.error,
        "step": (m.group(1) or m.group(3)) if m else None,
        "type": result.get("error_type"),
        "traceback": result.get("traceback"),
        "screenshot": shots[0] if shots else None,
        "traces": traces,
        "retryable": result.get("retryable"),
    }


def _redactor() -> Redactor:
    return Redactor(set(state().config.secrets))


def _line_start(path: Path, at: int) -> int:
    """The offset of the first line that starts at or after ``at``."""
    with path.open("rb") as handle:
        handle.seek(at)
        handle.readline()
        return handle.tell()


def _read_lines(path: Path, offset: int, *, final: bool) -> tuple[str, int]:
    """Whole lines from ``offset`` (up to 64 KiB); a run still writing may leave half a line for later."""
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(TAIL_BYTES)
    end = data.rfind(b"\n")
    if end < 0:
        if not final and len(data) < TAIL_BYTES:
            return "", offset
        end = len(data) - 1
    chunk = data[: end + 1]
    return chunk.decode("utf-8", errors="replace").rstrip("\n"), offset + len(chunk)
