"""`runner.py new NAME --kind browser|api|excel`: each kind's files work as written — listed, their
suggested config validates, their own test passes under pytest — and the browser kind runs end to end
through `runner.py run` against its sample app with the config it suggests."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from functools import partial

import pytest
import yaml

from opskit.cli.scaffold import job_yaml
from tests.conftest import REPO


def run_generated_test(tmp_project, name: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("OPSKIT_CONFIG", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            f"--basetemp={tmp_project.root / 'pytest-tmp'}",
            f"tests/tasks/test_{name}.py",
        ],
        cwd=tmp_project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    ("kind", "extra", "tests"),
    [
        ("api", [], 3),
        ("excel", [], 2),
        pytest.param("browser", ["tests/sites/queue_requests/index.html"], 3, marks=pytest.mark.browser),
    ],
)
@pytest.mark.slow
def test_each_kind_writes_a_task_whose_own_test_passes(run_cli, tmp_project, kind, extra, tests):
    name = "queue_requests"
    result = run_cli("new", name, "--kind", kind)
    assert result.exit_code == 0, result.stderr
    written = [
        f"tasks/{name}.py",
        f"templates/email/{name}.html",
        f"templates/email/{name}.txt",
        f"tests/tasks/test_{name}.py",
        *extra,
    ]
    assert [line.split()[1] for line in result.stdout.splitlines()[: len(written)]] == written
    assert all((tmp_project.root / f).is_file() for f in written)
    assert name in run_cli("list").stdout
    # the config it suggests (the job, and a browser task's source) goes into config.yaml and validates
    suggested = yaml.safe_load(job_yaml(name, "queue-requests", kind))
    config = yaml.safe_load(tmp_project.config.read_text())
    for section, entries in suggested.items():
        config.setdefault(section, {}).update(entries)
    tmp_project.config.write_text(yaml.safe_dump(config))
    os.environ.setdefault("QUEUE_REQUESTS_USER", "x")  # validate checks the source's variables are set
    os.environ.setdefault("QUEUE_REQUESTS_PASSWORD", "x")
    try:
        checked = run_cli("validate")
    finally:
        os.environ.pop("QUEUE_REQUESTS_USER", None)
        os.environ.pop("QUEUE_REQUESTS_PASSWORD", None)
    assert checked.exit_code == 0, checked.stderr
    proc = run_generated_test(tmp_project, name)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{tests} passed" in proc.stdout


@pytest.mark.browser
@pytest.mark.slow
def test_the_browser_kind_runs_end_to_end_with_the_config_it_suggests(
    run_cli, tmp_project, run_subprocess, monkeypatch
):
    from openpyxl import Workbook, load_workbook

    name = "queue_requests"
    assert run_cli("new", name, "--kind", "browser").exit_code == 0
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_project.root / "tests" / "sites" / name))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        text = job_yaml(name, "queue-requests", "browser").replace(
            "http://127.0.0.1:8800", f"http://127.0.0.1:{server.server_address[1]}"
        )
        tmp_project.write_config(tmp_project.config.read_text() + "\n" + text.split("jobs:\n")[1].join(["jobs:\n", ""]))
        config = yaml.safe_load(tmp_project.config.read_text())
        config.update(yaml.safe_load(text.split("jobs:\n")[0]))
        config["jobs"].update(yaml.safe_load("jobs:\n" + text.split("jobs:\n")[1])["jobs"])
        tmp_project.config.write_text(yaml.safe_dump(config))
        (tmp_project.root / ".env").write_text(
            "QUEUE_REQUESTS_USER=me@example.com\nQUEUE_REQUESTS_PASSWORD=demo-password\n"
        )
        rows = tmp_project.root / "data" / name / "to_enter.xlsx"
        rows.parent.mkdir(parents=True)
        workbook = Workbook()
        for row in (("item", "decision", "note"), ("R-1", "approve", "fine"), ("R-2", "reject", "spam")):
            workbook.active.append(row)
        workbook.save(rows)
        proc = run_subprocess("run", "queue-requests", timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "succeeded" in proc.stdout and "queue_requests.xlsx" in proc.stdout and "queue_requests.png" in proc.stdout
    assert "email report: kept" in proc.stdout  # the job's email went to the outbox, workbook and screenshot attached
    eml = next((tmp_project.root / "outbox").rglob("*.eml")).read_text()
    assert "queue_requests.xlsx" in eml and "queue_requests.png" in eml and "2 row(s) entered" in eml
    out = next(p for p in (tmp_project.root / "var" / "runs").rglob("queue_requests.xlsx"))
    assert [r[0] for r in load_workbook(out)["In the app"].iter_rows(min_row=2, values_only=True)] == ["R-1", "R-2"]
