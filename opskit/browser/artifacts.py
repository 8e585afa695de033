"""What a browser session leaves on disk: saved sign-ins, failure artifacts, and their retention.

- Saved sign-ins (Playwright ``storage_state``: cookies and local storage, never a password) live in
  ``<var>/browser/<source>.json``, folder mode 0700, file mode 0600, written atomically.
- On a failure, ``<run folder>/failure/`` (mode 0700) receives ``screenshot.png`` (password fields, fields a
  secret was typed into and the configured masks painted over), ``page.html``, ``error.txt``, ``step.json``
  (the failing step, the task's line, the URL, the closest elements: what the failure alert shows) and, when
  the source has ``browser.trace: true``, the Playwright trace (``trace.zip``; open it with
  ``python -m playwright show-trace``). Files are mode 0600.
- Secrets never reach these files: the sign-in is not traced (its requests are left out of the trace even
  when their answers arrive after tracing resumed), and every secret of the run is replaced by
  ``***`` in the text of every file, trace members included, in every form a page or a request carries it:
  raw, URL-encoded (``%20`` and ``+``), HTML-escaped and JSON-escaped.
- Failure folders of earlier runs older than the source's ``artifacts_retention`` are deleted when a new
  session starts, so screenshots of user content do not pile up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import zipfile
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from opskit.files import atomic_path, atomic_write, private_dir
from opskit.redact import Redactor

log = logging.getLogger(__name__)

FAILURE_DIR = "failure"


def state_file(var_dir: Path, source: str) -> Path:
    """Where the saved sign-in of ``source`` lives."""
    return var_dir / "browser" / f"{source}.json"


def save_storage_state(context: Any, path: Path) -> None:
    """Write the context's cookies and storage to ``path`` atomically, mode 0600."""
    private_dir(path.parent)
    with atomic_path(path) as tmp:
        context.storage_state(path=str(tmp))


def scrub_zip(
    path: Path, redactor: Redactor, drop: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset()
) -> None:
    """Rewrite a trace zip atomically: the requests in ``drop`` (method, URL: the sign-in's) and the bodies
    they refer to are left out, and every secret form is replaced in every other member."""
    with atomic_path(path) as tmp, zipfile.ZipFile(path) as source:
        dropped: set[str] = set()
        members = {item.filename: source.read(item) for item in source.infolist()}
        for name, data in members.items():
            if name.endswith(".network") and drop:
                members[name] = _without_requests(data, drop, dropped)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for item in source.infolist():
                if item.filename.rsplit("/", 1)[-1] in dropped:
                    continue
                out.writestr(item, redactor.redact_bytes(members[item.filename]))


def _without_requests(data: bytes, drop: set[tuple[str, str]] | frozenset[tuple[str, str]], dropped: set[str]) -> bytes:
    """A trace's network log without the entries of ``drop``; the names of their body files go to ``dropped``."""
    kept = []
    for line in data.splitlines(keepends=True):
        try:
            entry = json.loads(line)
            request = entry.get("snapshot", {}).get("request", {})
            key = (str(request.get("method", "")).upper(), str(request.get("url", "")))
        except (ValueError, AttributeError):
            kept.append(line)
            continue
        if key in drop:
            text = line.decode("utf-8", "replace")
            dropped.update(re.findall(r"[0-9a-f]{40}(?:\.\w+)?", text))
            continue
        kept.append(line)
    return b"".join(kept)


def prune_failures(runs_dir: Path, keep: timedelta, *, current: Path | None = None) -> list[Path]:
    """Delete ``<runs_dir>/*/failure`` folders last modified more than ``keep`` ago."""
    if not runs_dir.is_dir():
        return []
    cutoff = time.time() - keep.total_seconds()
    removed = []
    for run in runs_dir.iterdir():
        folder = run / FAILURE_DIR
        if run == current or not folder.is_dir():
            continue
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        except OSError:
            continue
    if removed:
        log.info("deleted %d failure folder(s) older than %s", len(removed), keep)
    return removed


def _settled(page: Any, what: str, take: Callable[[dict[str, Any]], Any], tries: list[dict[str, Any]]) -> Any:
    """``take(options)`` for each of ``tries`` until one works: a page that reloads itself (a "this page
    refreshes" status page) navigates in the middle of a capture, so each failure waits for the load to finish
    before the next try. None, with one warning, when none worked."""
    error = ""
    for options in tries:
        try:
            return take(options)
        except Exception as exc:  # the page may be navigating, or gone; the other artifacts still help
            error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if page.is_closed():
                break
            try:
                page.wait_for_load_state("load", timeout=5_000)
            except Exception:
                pass
    log.warning("no failure %s: %s", what, error)
    return None


def _screenshot(page: Any, target: Path, masks: list[Any]) -> Path | None:
    """A full page twice, then the viewport."""

    def take(options: dict[str, Any]) -> Path:
        page.screenshot(path=str(target), mask=masks, timeout=10_000, **options)
        return target

    return _settled(page, "screenshot", take, [{"full_page": True}, {"full_page": True}, {"full_page": False}])


def save_failure(
    folder: Path,
    *,
    page: Any,
    context: Any,
    masks: list[Any],
    message: str,
    secrets: Iterable[str],
    staged_traces: list[Path],
    tracing: bool,
    step: dict[str, Any],
    signin_requests: set[tuple[str, str]] | None = None,
    html: str | None = None,
) -> Path:
    """Save a screenshot, the page's HTML, the trace, the error and the step into ``folder``; returns it.

    Each part is attempted on its own: a crashed page still leaves the error and the step, and the reverse.
    A session that had no browser yet (``page`` None: its pages came over HTTP) leaves the ``html`` it read.
    """
    private_dir(folder)
    redactor = Redactor(secrets)
    parts: list[Path] = []
    shot = _screenshot(page, folder / "screenshot.png", masks) if page is not None else None
    if shot is not None:
        parts.append(shot)
    html_text = _settled(page, "page", lambda _: page.content(), [{}, {}, {}]) if page is not None else html
    if html_text is not None:
        atomic_write(folder / "page.html", redactor.redact_bytes(html_text.encode("utf-8")))
        parts.append(folder / "page.html")
    traces: list[Path] = []
    for i, staged in enumerate(staged_traces, 1):
        if staged.exists():
            target = folder / f"trace-{i}.zip"
            os.replace(staged, target)
            traces.append(target)
    if tracing:
        try:
            target = folder / "trace.zip"
            context.tracing.stop_chunk(path=str(target))
            traces.append(target)
        except Exception as exc:
            log.warning("no failure trace: %s", str(exc).splitlines()[0])
    for trace in traces:
        try:
            scrub_zip(trace, redactor, signin_requests or set())
            parts.append(trace)
        except Exception as exc:  # never keep a trace that could not be cleaned
            trace.unlink(missing_ok=True)
            log.warning("failure trace %s dropped, it could not be redacted: %s", trace.name, exc)
    atomic_write(folder / "error.txt", redactor.redact_bytes((message + "\n").encode("utf-8")))
    parts.append(folder / "error.txt")
    step = {**step, "screenshot": "screenshot.png" if (folder / "screenshot.png") in parts else None}
    step["trace"] = next((p.name for p in parts if p.name == "trace.zip"), None)
    text = json.dumps(step, indent=2, ensure_ascii=False)
    atomic_write(folder / "step.json", redactor.redact_bytes(text.encode("utf-8")))
    parts.append(folder / "step.json")
    for part in parts:
        if part.exists():
            os.chmod(part, 0o600)
    return folder
