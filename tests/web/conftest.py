"""Fixtures for the web app: one project with users and tokens per module, a real waitress server on a free
port, requests sessions signed in over HTTP, and (for the end-to-end tests) a real scheduler process."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from opskit.engine.history import RunStore
from opskit.web.security import digest, hash_password, new_token
from opskit.web.server import WebServer
from tests.conftest import FIXTURE_TASKS, REPO, wait_for

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

REPORT_TASK = '''
"""A small report: logs as it goes, writes a workbook, returns rows and a summary for the email."""

from __future__ import annotations

from opskit import Period, Result, RunContext, task


@task
def web_report(ctx: RunContext, *, period: Period = "yesterday", lines: int = 5, label: str = "x") -> Result:
    """A workbook of one row per day of the period.

    Args:
        period: The days to report.
        lines: How many progress lines to log.
        label: A label written into the workbook.
    """
    import openpyxl

    for i in range(lines):
        ctx.log.info("progress %d of %d for %s", i + 1, lines, label)
    days = [period.start.fromordinal(period.start.toordinal() + i) for i in range(period.days)]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Days"
    sheet.append(["day", "label"])
    for day in days:
        sheet.append([day.isoformat(), label])
    name = f"report_{period.label}.xlsx"
    with ctx.output(name) as tmp:
        book.save(tmp)
    return Result(
        files=[ctx.path(name)],
        rows=len(days),
        summary={"title": "Web report", "period": period.label, "headline": f"{len(days)} days for {label}"},
    )
'''

CONFIG = """\
timezone: Europe/Berlin
defaults: {timeout: 1m, retries: 0, retry_backoff: 0s}
email: {backend: outbox, outbox_dir: outbox, sender: "opskit <opskit@example.com>"}
scheduler: {max_concurrent_runs: 2}
web: {login_attempts: 3}
jobs:
  daily-report:
    description: Daily report for the leads
    group: ops
    task: web_report
    schedule: "30 8 * * MON-FRI"
    calendar: {market: DE}
    params: {period: yesterday, lines: 3}
    email:
      to: [leads@example.com]
      subject: "Web report {{ period }}"
      on: [success, failure]
      attach: ["*.xlsx"]
  chain:
    description: Two steps
    group: ops
    steps:
      - {name: first, task: kitchen_sink, params: {count: 2}}
      - {name: second, task: web_report, params: {lines: 2}}
  broken:
    description: Always fails
    group: ops
    task: boom
  other-team:
    description: Another group's job
    group: finance
    task: kitchen_sink
    schedule: "0 9 * * *"
"""


@dataclass
class WebProject:
    root: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    def store(self) -> RunStore:
        return RunStore(self.root / "var" / "history.sqlite")


def make_project(root: Path, config: str = CONFIG) -> WebProject:
    tasks = root / "tasks"
    tasks.mkdir(parents=True)
    for name in ("kitchen_sink.py", "misbehave.py", "_helpers.py"):
        if (FIXTURE_TASKS / name).exists():
            shutil.copy(FIXTURE_TASKS / name, tasks / name)
    (tasks / "web_report.py").write_text(REPORT_TASK)
    (root / "config.yaml").write_text(config)
    project = WebProject(root)
    hashed = hash_password(PASSWORD)
    with project.store() as store:
        for name, role, groups in (
            ("ada", "admin", ()),
            ("rui", "runner", ("ops",)),
            ("vic", "viewer", ("ops",)),
            ("fin", "runner", ("finance",)),
        ):
            store.add_user(name, role=role, groups=groups, password_hash=hashed)
            token = new_token()
            store.add_token(name, digest(token), label="tests")
            project.tokens[name] = token
    return project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> WebProject:
    return make_project(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def web(project) -> Iterator[WebServer]:
    with WebServer(project.config) as server:
        yield server


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(web: WebServer, user: str, password: str = PASSWORD) -> requests.Session:
    http = requests.Session()
    token = csrf_of(http.get(web.url + "/login").text)
    resp = http.post(web.url + "/login", data={"csrf_token": token, "username": user, "password": password})
    assert resp.status_code == 200 and resp.url.endswith("/jobs"), (resp.status_code, resp.url)
    return http


def api(web: WebServer, project: WebProject, user: str) -> requests.Session:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {project.tokens[user]}"
    return http


@pytest.fixture(scope="module")
def scheduler(project) -> Iterator[subprocess.Popen[str]]:
    """``runner.py schedule`` on the project, as a real process; stopped (SIGTERM) after the module."""
    log = open(project.root / "scheduler.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "--config", str(project.config), "schedule"],
        cwd=project.root,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with project.store() as store:
        wait_for(lambda: (store.scheduler_info() or {}).get("pid") == process.pid, timeout=30, what="the scheduler")
    yield process
    process.terminate()
    process.wait(timeout=60)
    log.close()


def write_config(project: WebProject, text: str) -> None:
    project.config.write_text(textwrap.dedent(text))
