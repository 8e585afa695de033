"""What a browser session leaves on disk: saved sign-ins, failure artifacts, and their retention.

- Saved sign-ins (Playwright ``storage_state``: cookies and local storage, never a password) live in
  ``<var>/browser/<source>.json``, folder mode 0700, file mode 0600, written atomically.
- On a failure, ``<run folder>/failure/`` (mode 0700) receives ``screenshot.png`` (with the configured masks),
  ``page.html`` (secrets redacted), ``trace.zip`` (Playwright trace: open with ``playwright show-trace``)
  and ``error.txt``; files are mode 0600.
- Failure folders of earlier runs older than the source's ``artifacts_retention`` are deleted when a new
  session starts, so screenshots of user content do not pile up.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from opskit.files import atomic_path, private_dir

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


def save_failure(
    folder: Path,
    *,
    page: Any,
    context: Any,
    masks: list[Any],
    message: str,
    redact: Any,
    staged_traces: list[Path],
    tracing: bool,
) -> Path:
    """Save a screenshot, the page's HTML, the trace and the error into ``folder``; returns it.

    Each part is attempted on its own: a crashed page still leaves the trace, and the reverse.
    """
    private_dir(folder)
    parts: list[Path] = []
    try:
        target = folder / "screenshot.png"
        page.screenshot(path=str(target), full_page=True, mask=masks, timeout=10_000)
        parts.append(target)
    except Exception as exc:  # the page may be gone; the other artifacts still help
        log.warning("no failure screenshot: %s", str(exc).splitlines()[0])
    try:
        target = folder / "page.html"
        target.write_text(redact(page.content()), encoding="utf-8")
        parts.append(target)
    except Exception as exc:
        log.warning("no failure page: %s", str(exc).splitlines()[0])
    for i, staged in enumerate(staged_traces, 1):
        if staged.exists():
            target = folder / f"trace-{i}.zip"
            os.replace(staged, target)
            parts.append(target)
    if tracing:
        try:
            target = folder / "trace.zip"
            context.tracing.stop_chunk(path=str(target))
            parts.append(target)
        except Exception as exc:
            log.warning("no failure trace: %s", str(exc).splitlines()[0])
    target = folder / "error.txt"
    target.write_text(redact(message) + "\n", encoding="utf-8")
    parts.append(target)
    for part in parts:
        if part.exists():
            os.chmod(part, 0o600)
    return folder
