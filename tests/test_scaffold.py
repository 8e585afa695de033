"""`runner.py new NAME`: the files it writes work (list, run, their own test, the email), and a bad
name or an existing file writes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opskit.cli.scaffold import job_yaml, write_all
from opskit.errors import UsageError
from tests.conftest import REPO

pytestmark = pytest.mark.process  # starts runner.py, workers, the daemon or the zygote

NEW_FILES = [
    "tasks/backlog_snapshot.py",
    "templates/email/backlog_snapshot.html",
    "templates/email/backlog_snapshot.txt",
    "tests/tasks/test_backlog_snapshot.py",
]


def files_of(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def scaffolded(run_cli, tmp_project):
    result = run_cli("new", "backlog_snapshot")
    assert result.exit_code == 0, result.stderr
    return result


def test_new_writes_the_task_its_email_and_its_test_and_says_what_next(scaffolded, tmp_project):
    assert all((tmp_project.root / f).is_file() for f in NEW_FILES)
    out = scaffolded.stdout
    assert [line.split()[1] for line in out.splitlines()[:4]] == NEW_FILES
    assert "run backlog_snapshot -p period=yesterday" in out
    assert "    task: backlog_snapshot\n" in out and "template: email/backlog_snapshot.html" in out
    for step in ("validate", "next backlog-snapshot", "schedule"):
        assert f"--config {tmp_project.config} {step}" in out
    assert not list(tmp_project.root.rglob("*.new")), "temporary files left behind"


def test_the_new_task_is_listed_and_its_suggested_job_validates(scaffolded, run_cli, tmp_project):
    listed = run_cli("list")
    assert "backlog_snapshot" in listed.stdout
    assert "Completed cases and average handle time per queue" in listed.stdout
    # BASE_CONFIG ends with its jobs: the suggested job goes under them.
    job = job_yaml("backlog_snapshot", "backlog-snapshot").split("\n", 1)[1]
    tmp_project.write_config(tmp_project.config.read_text() + job)
    checked = run_cli("validate")
    assert checked.exit_code == 0, checked.stderr


def test_the_new_task_runs_as_a_real_process(scaffolded, run_subprocess):
    proc = run_subprocess("run", "backlog_snapshot", "-p", "period=2026-W46", "--as-of", "2026-11-16T08:00")
    assert proc.returncode == 0, proc.stderr
    assert "succeeded" in proc.stdout
    for ext in ("csv", "xlsx"):
        assert f"backlog_snapshot_2026-W46.{ext}" in proc.stdout


def test_the_generated_test_passes_under_pytest(scaffolded, tmp_project):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("OPSKIT_CONFIG", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            f"--basetemp={tmp_project.root / 'pytest-tmp'}",  # never the shared default folder
            "tests/tasks/test_backlog_snapshot.py",
        ],
        cwd=tmp_project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout


def test_the_email_templates_render_the_report_with_their_note(scaffolded, tmp_project, tmp_path):
    from opskit.delivery.render import Renderer
    from tests.delivery.samples import report_context

    # The job's renderer reads the repository's templates/: put the new ones beside them.
    templates = tmp_path / "all_templates"
    shutil.copytree(REPO / "templates", templates)
    for ext in ("html", "txt"):
        shutil.copy(tmp_project.root / "templates" / "email" / f"backlog_snapshot.{ext}", templates / "email")
    email = Renderer(templates).render_email("email/backlog_snapshot.html", report_context())
    for part in (email.html, email.text):
        assert "Average handle time is over the cases completed in" in part
        assert "Missed targets".upper() in part.upper()  # the standard report is still there


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Backlog", "error: 'Backlog' is not a valid task name. Use lowercase letters, digits and _"),
        ("2fast", "error: '2fast' is not a valid task name."),
        ("queue-summary", "error: 'queue-summary' is not a valid task name."),
        ("_helper", "error: '_helper' is not a valid task name."),
        (
            "class",
            "error: 'class' is a Python keyword, so it cannot name a task. Pick another name, e.g. class_report\n",
        ),
        ("csv", "error: 'csv' would hide a Python name the task module uses."),
        ("open", "error: 'open' would hide a Python name the task module uses."),
        (
            "kitchen_sink",
            "error: tasks/kitchen_sink.py already exists. Pick another name, or pass "
            "--force to overwrite tasks/kitchen_sink.py\n",
        ),
    ],
)
def test_a_bad_name_fails_with_exit_2_and_writes_nothing(run_cli, tmp_project, name, message):
    before = files_of(tmp_project.root)
    result = run_cli("new", name)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert files_of(tmp_project.root) == before


def test_a_task_of_that_name_in_another_file_is_refused_even_with_force(run_cli, tmp_project):
    other = tmp_project.add_task(
        "reports",
        """
        from opskit import RunContext, task

        @task(name="weekly_digest")
        def digest(ctx: RunContext) -> None:
            \"\"\"A digest.\"\"\"
    """,
    )
    before = files_of(tmp_project.root)
    result = run_cli("new", "weekly_digest", "--force")
    assert result.exit_code == 2
    assert result.stderr == (f"error: a task 'weekly_digest' is already defined in {other}. Pick another name\n")
    assert files_of(tmp_project.root) == before


def test_an_existing_file_is_kept_unless_forced(run_cli, tmp_project):
    email = tmp_project.root / "templates" / "email" / "backlog_snapshot.html"
    email.parent.mkdir(parents=True)
    email.write_text("mine")
    before = files_of(tmp_project.root)

    refused = run_cli("new", "backlog_snapshot")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(
        "error: templates/email/backlog_snapshot.html already exists. Pick another name, or pass "
        "--force to overwrite templates/email/backlog_snapshot.html\n"
    )
    assert files_of(tmp_project.root) == before and email.read_text() == "mine"

    forced = run_cli("new", "backlog_snapshot", "--force")
    assert forced.exit_code == 0
    assert '{% extends "email/report.html" %}' in email.read_text()
    assert all((tmp_project.root / f).is_file() for f in NEW_FILES)


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    good = tmp_path / "a" / "b" / "one.txt"
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(OSError):
        write_all({good: "1", blocked / "two.txt": "2"})  # a file where a folder should be
    assert files_of(tmp_path) == {"file"} and not (tmp_path / "a").exists()


def test_a_missing_config_is_a_config_error(tmp_path):
    from opskit.cli.scaffold import scaffold_task

    with pytest.raises(UsageError, match="config file .* does not exist"):
        scaffold_task("backlog_snapshot", config_path=tmp_path / "config.yaml")
    assert files_of(tmp_path) == set()


def test_the_tasks_folder_follows_paths_tasks(run_cli, tmp_project):
    tmp_project.write_config("paths:\n  tasks: jobs_code\n")
    result = run_cli("new", "backlog_snapshot")
    assert result.exit_code == 0, result.stderr
    assert (tmp_project.root / "jobs_code" / "backlog_snapshot.py").is_file()
    assert result.stdout.startswith("created jobs_code/backlog_snapshot.py ")
