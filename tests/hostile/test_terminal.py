"""Text from outside never drives the terminal: escape sequences and control characters are stripped.

A vendor file named with an escape sequence, a scraped title that clears the screen, an error message that
sets the clipboard (OSC 52): a task logs and raises them, and nothing ``runner.py`` prints — the run's
console, ``logs``, ``show``, ``history`` — may carry a control character other than tab and newline.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from opskit.terminal import printable
from tests.conftest import REPO

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

HOSTILE_NAME = (
    "vendor\x1b[2J\x1b[H\x1b]52;c;cm0gLXJmIH4=\x07\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\\r.xlsx"
)

TASK = '''
from opskit import Result, RunContext, TaskError, task


@task
def escapes(ctx: RunContext, *, fail: bool = False) -> Result:
    """Log and raise text full of terminal escapes (a test task)."""
    name = "vendor\\x1b[2J\\x1b[H\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b]8;;http://evil.example\\x1b\\\\click\\x1b]8;;\\x1b\\\\\\r.xlsx"
    ctx.log.info("read %s (\\x9b31mred\\x9b0m, bell\\x07, back\\x08space, nul\\x00, del\\x7f)", name)
    if fail:
        raise TaskError(f"cannot read {name}")
    return Result(rows=1, summary={"title": f"Report {name}", "headline": name})
'''


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x1b[31mred\x1b[0m b", "ared b"),
        ("\x1b[2J\x1b[Hclear", "clear"),
        ("copy\x1b]52;c;cm0gLXJmIH4=\x07 done", "copy done"),
        ("link \x1b]8;;http://evil\x1b\\text\x1b]8;;\x1b\\ end", "link text end"),
        ("8-bit \x9b31mcsi\x9b0m and \x9d0;title\x9c osc", "8-bit csi and  osc"),
        ("over\rwrite", "overwrite"),
        ("nul\x00 bell\x07 bs\x08 del\x7f vt\x0b ff\x0c c1\x85", "nul bell bs del vt ff c1"),
        ("keeps\ttabs\nand newlines, é, 漢字, 🙂", "keeps\ttabs\nand newlines, é, 漢字, 🙂"),
        ("unterminated \x1b]0;title\nnext line", "unterminated \nnext line"),
        ("lone escape at the end \x1b", "lone escape at the end "),
    ],
)
def test_printable_removes_sequences_whole_and_keeps_text(text, expected):
    assert printable(text) == expected
    assert not CONTROL.search(printable(text))


def runner(project, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--config", str(project.config), *argv],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=project.root,
    )


@pytest.mark.process
def test_nothing_runner_prints_carries_a_control_character(tmp_project):
    tmp_project.add_task("escapes", TASK)
    printed: list[tuple[str, str]] = []
    ids = []
    for argv in (("run", "escapes"), ("run", "escapes", "--param", "fail=yes")):
        done = runner(tmp_project, *argv)
        assert done.returncode in (0, 1), done.stderr
        printed.append((" ".join(argv), done.stdout + done.stderr))
        ids.append(done.stdout.split()[1])
    assert "cannot read vendor" in printed[1][1]  # the error is printed, without its escapes
    for run_id in ids:
        for argv in (("show", run_id), ("logs", run_id), ("show", run_id, "--json")):
            done = runner(tmp_project, *argv)
            assert done.returncode == 0, done.stderr
            printed.append((" ".join(argv), done.stdout + done.stderr))
    done = runner(tmp_project, "history")
    printed.append(("history", done.stdout + done.stderr))
    dirty = {what: sorted(set(CONTROL.findall(text))) for what, text in printed if CONTROL.search(text)}
    assert dirty == {}
    logs = next(text for what, text in printed if what.startswith("logs"))
    assert "read vendorclick.xlsx (red, bell, backspace, nul, del)" in logs
    # the log file keeps what was logged; only what is printed is cleaned
    (folder,) = [p for p in (tmp_project.root / "var" / "runs").iterdir() if p.name == ids[0]]
    assert "\x1b[2J" in (folder / "run.log").read_text(encoding="utf-8")


def test_a_hostile_config_cannot_drive_the_terminal_through_list_or_validate(tmp_project, run_cli):
    tmp_project.config.write_text(
        'jobs:\n  nightly:\n    task: "kitchen_sink\\e]52;c;cm0gLXJmIH4=\\a"\n'
        '    schedule: "\\e[2J\\e[H every day\\x9b31m"\n'
    )
    for argv in (("list",), ("validate",), ("run", "nightly", "--dry-run")):
        result = run_cli(*argv)
        assert not CONTROL.search(result.stdout + result.stderr), (argv, result.stdout + result.stderr)
    assert "every day" in run_cli("list").stdout
