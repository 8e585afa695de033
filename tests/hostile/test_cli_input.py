"""The command line under bad input: one line on stderr, exit 2, never a traceback, never a hang.

Most checks run runner.py as a real process (as a user or a script calls it); the fuzz of every subcommand
runs ``main()`` in-process, where an escaping exception fails the test just as a traceback would.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from opskit.cli.main import build_parser, main
from opskit.cli.values import MAX_NEXT_COUNT
from tests.conftest import REPO


def runner(project, *argv: str | bytes, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """runner.py as a process; bytes arguments reach it undecoded (as a non-UTF-8 terminal sends them)."""
    args = [sys.executable, str(REPO / "runner.py"), "--config", str(project.config)]
    done = subprocess.run(
        [os.fsencode(a) for a in [*args, *argv]], capture_output=True, timeout=timeout, cwd=project.root
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )


def one_clear_line(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.process  # runner.py as a process
@pytest.mark.parametrize(
    "argv",
    [
        ("run", b"night\xffly"),
        ("show", b"\xff\xfe"),
        ("history", "--job", b"\xe9t\xe9"),
        ("run", "nightly", "--param", b"period=\xff", "--dry-run"),
    ],
)
def test_arguments_that_are_not_utf8_are_refused_in_one_line(tmp_project, argv):
    line = one_clear_line(runner(tmp_project, *argv))
    assert "is not UTF-8 text: byte 0x" in line


@pytest.mark.process  # runner.py as a process
def test_an_absurd_cron_step_fails_validate(tmp_project):
    text = tmp_project.config.read_text().replace('"30 2 * * *"', '"*/99999999 2 * * *"')
    tmp_project.config.write_text(text)
    done = runner(tmp_project, "validate")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "minute step '/99999999' is larger than any cron field" in done.stderr


@pytest.mark.process  # runner.py as a process
@pytest.mark.parametrize(
    "argv, message",
    [
        (("run", "nightly", "--param", "period=0001-01-01", "--dry-run"), "0001-01-01 is outside the years"),
        (("run", "nightly", "--param", "period=9999-12-31", "--dry-run"), "9999-12-31 is outside the years"),
        (("run", "nightly", "--param", "period=２０２６-11-01", "--dry-run"), "is not a period"),
        (("run", "nightly", "--as-of", "0001-01-01T00:00", "--dry-run"), "--as-of '0001-01-01T00:00' is outside"),
        (("run", "nightly", "--as-of", "9999-12-31T23:59", "--dry-run"), "is outside the years 1900 to 2999"),
        (("backfill", "nightly", "--from", "0001-01-01", "--to", "0001-01-03"), "--from '0001-01-01' is outside"),
        (("backfill", "nightly", "--from", "9999-12-29", "--to", "9999-12-31"), "is outside the years"),
        (("backfill", "nightly", "--from", "1900-01-01", "--to", "2999-12-31"), "more than 10,000 slots"),
        (("history", "--limit", "³"), "argument --limit: '³' is not a whole number"),
        (("next", "--count", "٣"), "argument --count: '٣' is not a whole number"),
        (("web", "--port", "99999999"), "argument --port: 99999999 is out of range 0-65535"),
        (("new", "a" * 300), "the task name is 300 characters long; at most 64"),
    ],
)
def test_bad_values_get_one_clear_line_and_exit_2(tmp_project, argv, message):
    line = one_clear_line(runner(tmp_project, *argv))
    assert message in line
    assert len(line) < 400  # a 300-character name is not echoed back whole


def test_a_new_task_with_the_longest_name_is_written(tmp_project):
    name = "a" * 64
    assert main(["--config", str(tmp_project.config), "new", name]) == 0
    assert (tmp_project.root / "tasks" / f"{name}.py").is_file()
    assert (tmp_project.root / "tests" / "tasks" / f"test_{name}.py").is_file()


@pytest.mark.process  # runner.py as a process
def test_next_count_is_capped_with_a_note(tmp_project):
    done = runner(tmp_project, "next", "nightly", "--count", "100000000", timeout=30)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert f"showing the first {MAX_NEXT_COUNT} slots per job" in done.stderr
    assert len([line for line in done.stdout.splitlines() if line.startswith("  ")]) == MAX_NEXT_COUNT


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


GARBAGE = {
    "unknown_option": ["--no-such-option"],
    "undecodable": ["\udcff\udcfe"],  # what Python makes of non-UTF-8 bytes in argv
    "bad_number": ["--count", "¹²"],
    "huge": ["--" + "x" * 5000],
}


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_refuses_garbage_with_exit_2(tmp_project, capsys, command, garbage):
    code = main(["--config", str(tmp_project.config), command, *GARBAGE[garbage]])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("error: ") and len(err) < 1000, err


def test_the_subcommand_list_is_complete():
    assert {"run", "next", "backfill", "new", "validate", "web", "users", "outbox"} <= set(_subcommands())
