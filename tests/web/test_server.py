"""``runner.py web`` as a real process: it serves with waitress, says where, and a taken port is one line."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests

from tests.conftest import REPO, free_port, wait_for
from tests.web.conftest import make_project


@pytest.mark.slow
@pytest.mark.process
def test_runner_web_serves_the_app_and_says_where(tmp_path):
    project = make_project(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "--config", str(project.config), "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url + "/healthz"), timeout=30, what="runner.py web")
        login = requests.get(url + "/login")
        assert login.status_code == 200 and "Sign in to opskit" in login.text
        assert login.headers["Server"] == "opskit"  # waitress, not the Flask development server
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert f"opskit web app on http://127.0.0.1:{port}" in out


@pytest.mark.process
def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    project = make_project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(REPO / "runner.py"), "--config", str(project.config), "web", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use. Pick another --port\n"


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
