"""The command line, run in-process (main(argv)) and, where signals matter, as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from opskit.engine.history import RunStore
from tests.conftest import REPO, wait_for


def history(project) -> RunStore:
    return RunStore(project.root / "var" / "history.sqlite")


def test_list_shows_tasks_parameters_jobs_and_broken_modules(run_cli, tmp_project):
    tmp_project.add_task("oops", "from opskit import task\n\n@task\ndef oops(ctx, *, x: int = 1)\n    pass\n")
    result = run_cli("list")
    assert result.exit_code == 0
    out = result.stdout
    assert "kitchen_sink             Echo every parameter into params.json." in out
    assert "--param period=<Period>  (default 'yesterday')  The days to report." in out
    assert "--param queues=<list of str>  (default (empty))" in out
    assert "oops                     BROKEN: " in out and "oops.py:4: SyntaxError" in out
    assert "nightly                  task kitchen_sink" in out and "30 2 * * *" in out
    assert "last: never run" in out


def test_list_does_not_import_heavy_modules(tmp_project):
    code = (
        "import sys; from opskit.cli.main import main; main(['--config', sys.argv[1], 'list']);"
        "heavy = [m for m in ('playwright', 'openpyxl', 'jinja2', 'pydantic', 'requests', 'matplotlib')"
        " if m in sys.modules]; print('HEAVY', heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_project.config)], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    assert "HEAVY []" in out


def test_run_a_job_with_overrides_prints_run_id_and_files(run_cli, tmp_project):
    result = run_cli("run", "nightly", "--param", "queues=Q1,Q2", "-p", "flag=true", "--as-of", "2026-11-18T02:30")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("run ") and " succeeded in " in lines[0]
    run_id = lines[0].split()[1]
    assert lines[-1].strip().endswith(f"{run_id}/params.json")
    echoed = json.loads((tmp_project.root / "var" / "runs" / run_id / "params.json").read_text())
    # job params (period, count) merged with the command line's; last_week of Wed 18 Nov is W46
    assert echoed["period"] == ["2026-11-09", "2026-11-15"]
    assert echoed["count"] == 7 and echoed["queues"] == ["Q1", "Q2"] and echoed["flag"] is True
    record = history(tmp_project).get(run_id)
    assert record.status == "succeeded" and record.trigger == "manual" and record.job == "nightly"
    assert record.params["period"] == "2026-W46"
    assert record.result["rows"] == 9 and "params.json" in record.artifacts and "run.log" in record.artifacts


def test_run_a_bare_task_with_json_output(run_cli):
    result = run_cli("run", "kitchen_sink", "--param", "period=2026-11", "--json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["status"] == "succeeded" and record["job"] is None and record["task"] == "kitchen_sink"
    assert record["params"]["period"] == "2026-11"
    assert record["result"]["summary"] == {"period": "2026-11"}


def test_dry_run_validates_and_runs_nothing(run_cli, tmp_project):
    result = run_cli("run", "nightly", "--dry-run", "--as-of", "2026-11-18T02:30")
    assert result.exit_code == 0
    assert "dry run: would run job 'nightly' (task kitchen_sink)" in result.stdout
    assert "period = 2026-W46" in result.stdout and "nothing was run" in result.stdout
    assert not (tmp_project.root / "var" / "history.sqlite").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nightyl"], "error: unknown job or task 'nightyl'. Did you mean 'nightly'?\n"),
        (
            ["run", "nightly", "-p", "perod=x"],
            "error: job 'nightly': unknown parameter 'perod'. Did you mean 'period'?\n",
        ),
        (
            ["run", "nightly", "-p", "period=last_fortnight"],
            "error: job 'nightly', parameter 'period': 'last_fortnight' is not a period (use yesterday, today, "
            "last_week, this_week, last_month, this_month, last_7_days, last_4_weeks, 2026-11-16, "
            "2026-11-01..2026-11-15, 2026-W46, 2026-11)\n",
        ),
        (
            ["run", "nightly", "-p", "novalue"],
            "error: --param 'novalue' is not KEY=VALUE. e.g. --param period=last_week\n",
        ),
        (
            ["run", "nightly", "--as-of", "monday"],
            "error: --as-of 'monday' is not a date and time. e.g. --as-of 2026-11-16T08:30\n",
        ),
        (["frobnicate"], "error: argument COMMAND: invalid choice: 'frobnicate'"),
        (["show", "nope"], "error: no run 'nope' in the history. List runs with `runner.py history`\n"),
    ],
)
def test_usage_errors_exit_2_with_one_line(run_cli, argv, message):
    result = run_cli(*argv)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_config_typo_exits_2_naming_the_line(run_cli, tmp_project):
    tmp_project.write_config("jobs:\n  nightly:\n    task: kitchen_sink\n    enabeld: false\n")
    result = run_cli("run", "nightly")
    assert result.exit_code == 2
    assert result.stderr == ("error: config.yaml:4: unknown key 'enabeld' in jobs.nightly. Did you mean 'enabled'?\n")


def test_a_task_that_raises_fails_with_one_line_and_a_traceback_in_the_log(run_cli, tmp_project):
    result = run_cli("run", "failing")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.endswith("failed in " + first.split(" failed in ")[1])
    assert "ValueError: the export had no header row" in first
    log_line = result.stdout.splitlines()[1].strip()
    assert log_line.startswith("log: ") and log_line.endswith("/run.log")
    log = Path(log_line[5:]).read_text()
    assert "Traceback (most recent call last)" in log and "raise ValueError(message)" in log
    assert "Traceback" not in result.stdout + result.stderr
    record = history(tmp_project).list(limit=1)[0]
    assert record.status == "failed" and record.error == "ValueError: the export had no header row"


def test_an_explained_failure_is_not_retried(run_cli, tmp_project):
    tmp_project.write_config("jobs:\n  vendor:\n    task: bad_data\n    retries: 2\n    retry_backoff: 0s\n")
    result = run_cli("run", "vendor")
    assert result.exit_code == 1
    assert "vendor.xlsx row 7: 'handled' is not a number" in result.stdout
    assert len(history(tmp_project).list(job="vendor")) == 1


def test_an_unexpected_failure_is_retried_as_new_history_rows(run_cli, tmp_project):
    tmp_project.write_config("jobs:\n  flaky:\n    task: boom\n    retries: 2\n    retry_backoff: 0s\n")
    result = run_cli("run", "flaky")
    assert result.exit_code == 1
    runs = history(tmp_project).list(job="flaky")
    assert [(r.attempt, r.trigger, r.status) for r in reversed(runs)] == [
        (1, "manual", "failed"),
        (2, "retry", "failed"),
        (3, "retry", "failed"),
    ]
    assert "retry 1 of 2" in result.stderr


def test_timeout_kills_the_whole_process_tree(run_cli, tmp_project):
    marker = tmp_project.root / "grandchild.pid"
    tmp_project.write_config(
        f"jobs:\n  hang:\n    task: spawn_child\n    timeout: 6s\n    params:\n      marker: {marker}\n"
    )
    result = run_cli("run", "hang")
    assert result.exit_code == 1
    assert "timed_out" in result.stdout and "timed out after 6s; its processes were killed" in result.stdout
    grandchild = int(marker.read_text())
    wait_for(
        lambda: not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == "zombie",
        what="the grandchild to be gone",
    )
    assert history(tmp_project).list(job="hang")[0].status == "timed_out"


def test_ctrl_c_records_interrupted_and_removes_temp_files(run_subprocess, tmp_project):
    marker = tmp_project.root / "started"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "runner.py"),
            "--config",
            str(tmp_project.config),
            "run",
            "slow",
            "-p",
            f"marker={marker}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(marker.exists, what="the task to start")
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    record = history(tmp_project).list(limit=1)[0]
    assert record.status == "failed" and record.error == "interrupted (Ctrl-C)"
    folder = Path(record.folder)
    assert not list(folder.glob("*.part")) and not (folder / "partial.csv").exists()
    assert "Traceback" not in err


def test_secrets_are_redacted_from_logs_history_and_console(run_cli, tmp_project, monkeypatch):
    monkeypatch.setenv("OPSKIT_TEST_PASSWORD", "hunter2-very-secret")
    result = run_cli("run", "leak_secret")
    assert result.exit_code == 1
    record = history(tmp_project).list(limit=1)[0]
    log = (Path(record.folder) / "run.log").read_text()
    assert "login refused for password ***" in record.error
    assert "logging in with password ***" in log
    everything = result.stdout + result.stderr + log + json.dumps(record.to_json())
    assert "hunter2-very-secret" not in everything


def test_missing_secret_names_the_variable(run_cli, monkeypatch):
    monkeypatch.delenv("OPSKIT_TEST_PASSWORD", raising=False)
    result = run_cli("run", "leak_secret")
    assert result.exit_code == 1
    assert "environment variable OPSKIT_TEST_PASSWORD is not set (needed by task 'leak_secret')" in result.stdout


def test_history_show_and_logs(run_cli, tmp_project):
    run_cli("run", "nightly")
    run_cli("run", "failing")
    listing = run_cli("history")
    assert listing.exit_code == 0
    rows = listing.stdout.splitlines()
    assert rows[0].startswith("RUN ID") and len(rows) == 3
    assert "failed" in rows[1] and "succeeded" in rows[2]
    only_failed = run_cli("history", "--status", "failed", "--json")
    failed = json.loads(only_failed.stdout)
    assert [r["job"] for r in failed] == ["failing"]
    assert run_cli("history", "--job", "none-such").stdout == "no runs recorded for these filters\n"
    run_id = failed[0]["id"]
    shown = run_cli("show", run_id[-6:])
    assert f"id              {run_id}" in shown.stdout and "ValueError" in shown.stdout
    logs = run_cli("logs", run_id)
    assert "task boom starting" in logs.stdout and "Traceback" in logs.stdout


def test_validate_prints_every_problem(run_cli, tmp_project, monkeypatch):
    monkeypatch.delenv("NEEDED_TOKEN", raising=False)
    tmp_project.write_config("""\
jobs:
  a:
    task: kitchen_snk
  b:
    task: kitchen_sink
    params:
      perod: yesterday
      count: many
  c:
    task: kitchen_sink
    env: [NEEDED_TOKEN]
""")
    result = run_cli("validate")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: config.yaml:3: job 'a': unknown task 'kitchen_snk'. Did you mean 'kitchen_sink'?",
        "error: config.yaml:7: job 'b': unknown parameter 'perod'. Did you mean 'period'?",
        "error: config.yaml:8: job 'b', parameter 'count': 'many' is not valid: input should be a valid "
        "integer, unable to parse string as an integer",
        "error: config.yaml:11: job 'c': environment variable NEEDED_TOKEN is not set. Set it in the "
        "environment or in .env beside config.yaml",
    ]
    assert "4 problem(s)" in result.stderr


def test_validate_ok(run_cli):
    result = run_cli("validate")
    assert result.exit_code == 0 and "OK (2 job(s)" in result.stdout


def test_a_dead_running_row_is_abandoned_at_the_next_start(run_cli, tmp_project):
    from datetime import UTC, datetime

    store = history(tmp_project)
    run = store.create(
        job="nightly",
        task="kitchen_sink",
        params={},
        trigger="schedule",
        scheduled_for=datetime.now(UTC),
        folder_root=tmp_project.root / "var" / "runs",
    )
    store.mark_running(run.id, pid=2**22 + 12345)  # no such process
    run_cli("history")
    assert store.get(run.id).status == "abandoned"


def test_runner_py_as_a_real_process(run_subprocess):
    result = run_subprocess("run", "nightly", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    assert run_subprocess("run", "nope").returncode == 2


def test_runner_console_starts_the_moderation_console_and_prints_how_to_sign_in(tmp_path):
    import requests

    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "runner.py"),
            "console",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--scale",
            "500",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = []
        banner = wait_for(
            lambda: lines.append(proc.stdout.readline()) or any("Ctrl-C to stop" in line for line in lines),
            what="the banner",
        )
        assert banner
        text = "".join(lines)
        assert f"Moderation Console at http://127.0.0.1:{port}/login" in text
        assert "user: analyst" in text and "password: " in text
        assert requests.get(f"http://127.0.0.1:{port}/login", timeout=10).status_code == 200
        assert (tmp_path / "console.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_old_run_folders_are_pruned_after_a_run_but_their_history_stays(run_cli, tmp_project):
    from datetime import UTC, datetime, timedelta

    store = history(tmp_project)
    old_time = datetime.now(UTC) - timedelta(days=45)
    old = store.create(
        job="nightly",
        task="kitchen_sink",
        params={},
        trigger="manual",
        scheduled_for=old_time,
        folder_root=tmp_project.root / "var" / "runs",
        now=old_time,
    )
    Path(old.folder).mkdir(parents=True)
    (Path(old.folder) / "run.log").write_text("old")
    store.finish(old.id, "succeeded", now=old_time)
    result = run_cli("run", "nightly")  # retention.run_folders defaults to 30 days
    assert result.exit_code == 0
    assert not Path(old.folder).exists()
    assert store.get(old.id).status == "succeeded"
    new = store.list(limit=1)[0]
    assert Path(new.folder).is_dir()


def test_run_with_the_history_locked_by_another_process_prints_one_line(run_cli, tmp_project, monkeypatch):
    import sqlite3

    from opskit.engine import history as history_module

    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_S", 0.2)
    assert run_cli("history").exit_code == 0  # the file exists
    path = tmp_project.root / "var" / "history.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a sqlite3 shell left in a transaction
    try:
        result = run_cli("run", "nightly")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 3
    assert result.stderr == (
        f"error: the run history {path} is locked: another process has held it for more than 0.2s. "
        "Try again in a moment; a long backup or an open sqlite3 shell can hold it\n"
    )
    assert result.stdout == ""
    assert run_cli("run", "nightly").exit_code == 0  # and once it is free, it works
