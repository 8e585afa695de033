"""Shared fixtures: a temporary project, the CLI run in-process, and a real local HTTP server."""

from __future__ import annotations

import http.server
import inspect
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A test that starts processes (runner.py, a worker, the daemon, the zygote) is marked `process`, so that
# `make test-fast` can leave it out: whole modules say so with `pytestmark`, and any other test whose body
# runs a job or starts a process is marked by the hook below.
_STARTS_PROCESSES = re.compile(
    r"run_cli\(\s*\"(?:run|backfill)\"|run_subprocess|run_job\(|opskit_run\(|subprocess\.|Popen\(|start_daemon\("
    r"|run_forever\(|execute\("
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is None or item.get_closest_marker("process"):
            continue
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        if _STARTS_PROCESSES.search(source):
            item.add_marker(pytest.mark.process)


FIXTURE_TASKS = REPO / "tests" / "fixtures" / "tasks"

BASE_CONFIG = """\
timezone: Europe/Berlin
defaults:
  timeout: 1m
  retries: 0
  retry_backoff: 0s
sources:
  local:
    url: {url}
jobs:
  nightly:
    task: kitchen_sink
    schedule: "30 2 * * *"
    params:
      period: last_week
      count: 7
  failing:
    task: boom
"""


@dataclass
class Project:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    def write_config(self, text: str) -> Path:
        self.config.write_text(textwrap.dedent(text))
        return self.config

    def add_task(self, name: str, source: str) -> Path:
        path = self.root / "tasks" / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path


@pytest.fixture
def tmp_project(tmp_path: Path) -> Project:
    """A project folder with the built-in tasks, the test tasks, and a small config."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for src in [*(REPO / "tasks").glob("*.py"), *FIXTURE_TASKS.glob("*.py")]:
        if src.name != "broken_syntax.py":
            shutil.copy(src, tasks / src.name)
    project = Project(tmp_path)
    project.write_config(BASE_CONFIG.format(url="http://127.0.0.1:9/"))
    return project


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], tmp_project: Project) -> Callable[..., CliResult]:
    """Call runner.py's main() in-process with the temporary project's config."""
    from opskit.cli.main import main

    def run(*argv: str, config: Path | None = None) -> CliResult:
        capsys.readouterr()
        code = main(["--config", str(config or tmp_project.config), *argv])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def run_subprocess(tmp_project: Project) -> Callable[..., subprocess.CompletedProcess[str]]:
    """runner.py as a real process, as a user runs it."""

    def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO / "runner.py"), "--config", str(tmp_project.config), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_project.root,
        )

    return run


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll a condition with a deadline (waiting on state, never a fixed sleep); returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status = self.server.status_for.get(self.path, 200)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if status < 400 else b"down")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[Callable[..., str]]:
    """Start real HTTP servers on 127.0.0.1; ``http_server({"/": 503})`` returns the base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(status_for: dict[str, int] | None = None) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.status_for = status_for or {}  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
