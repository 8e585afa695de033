"""Every file opskit writes that can hold run data is owner-only (0600, folders 0700), whatever the umask.

A run by ``runner.py`` as a user runs it (umask 022, the usual default that makes new files world-readable),
then ``stat`` on what it left: the history and its WAL files, the outbox index and messages, the run folder,
its log, its workbook and a file the task wrote by hand.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.process

TASK = '''
from opskit import Result, RunContext, task


@task
def book(ctx: RunContext) -> Result:
    """Write a workbook (a test task)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["queue", "cases"])
    with ctx.output("book.xlsx") as tmp:
        wb.save(tmp)
    with open(ctx.path("notes.txt"), "w", encoding="utf-8") as out:  # by hand, not through ctx.output
        out.write("written without opskit's help")
    ctx.log.info("wrote the workbook")
    return Result(files=[ctx.path("book.xlsx")], rows=1, summary={"title": "Book"})
'''

CONFIG = """\
timezone: Europe/Berlin
defaults: {timeout: 1m, retries: 0, retry_backoff: 0s}
jobs:
  book:
    task: book
    email:
      to: [lead@example.com]
      "on": [success, failure]
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_history_outbox_run_folder_log_and_workbook_are_owner_only(tmp_project):
    tmp_project.add_task("book", TASK)
    tmp_project.config.write_text(CONFIG)
    done = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--config", str(tmp_project.config), "run", "book"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_project.root,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert done.returncode == 0, done.stderr
    root = tmp_project.root
    (run_folder,) = [p for p in (root / "var" / "runs").iterdir() if p.is_dir()]
    folders = [root / "var", root / "var" / "runs", run_folder, root / "outbox"]
    files = [
        root / "var" / "history.sqlite",
        root / "outbox" / "index.sqlite3",
        run_folder / "run.log",
        run_folder / "book.xlsx",
        run_folder / "notes.txt",
        *(root / "outbox").glob("*.eml"),
        *(p for p in (root / "var").glob("history.sqlite-*")),
    ]
    assert len(list((root / "outbox").glob("*.eml"))) == 1
    wrong = {str(p.relative_to(root)): oct(mode(p)) for p in folders if mode(p) != 0o700}
    wrong |= {str(p.relative_to(root)): oct(mode(p)) for p in files if mode(p) != 0o600}
    assert wrong == {}


def test_a_history_left_world_readable_by_an_older_version_is_narrowed_when_opened(tmp_path):
    import sqlite3

    from opskit.engine.history import RunStore

    path = tmp_path / "var" / "history.sqlite"
    path.parent.mkdir()
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    with RunStore(path) as store:
        store.list()
        assert mode(path) == 0o600
        assert all(mode(p) == 0o600 for p in path.parent.glob("history.sqlite-*"))
    assert mode(path.parent) == 0o700
