"""The pytest plugin for task authors (opskit/testing.py), run by pytester on tiny projects."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import opskit.config.file  # noqa: F401  (PyYAML imported once: pytester's inline runs cannot re-import its C part)
from tests.conftest import REPO

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.process  # runs pytest on small projects; their tests start runs

TASK = '''
from opskit import Period, Result, RunContext, task


@task
def tally(ctx: RunContext, *, period: Period = "yesterday", queues: tuple[str, ...] = (),
          limit: int = 10) -> Result:
    """Count things for a period.

    Args:
        period: Days to count.
        queues: Only these queues.
        limit: At most this many.
    """
    token = ctx.secret("TALLY_TOKEN")
    ctx.log.info("tally for %s with token %s", period, token)
    with ctx.output("tally.txt") as tmp:
        tmp.write_text(f"{period.label} {','.join(queues)} {limit}")
    if limit < 0:
        with ctx.output("half.txt") as tmp:
            tmp.write_text("half")
            raise ValueError("negative limit")
    return Result(files=[ctx.path("tally.txt")], rows=limit, summary={"period": str(period)})
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project: config.yaml (tasks in jobs_code/, Berlin time), one task, warnings are errors."""
    monkeypatch.setenv("TALLY_TOKEN", "tok-123456")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    pytester.makefile(".yaml", config="timezone: Europe/Berlin\npaths:\n  tasks: jobs_code\n")
    (pytester.path / "jobs_code").mkdir()
    (pytester.path / "jobs_code" / "tally.py").write_text(TASK)
    (pytester.path / "tests").mkdir()
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    return pytester


def run_tests(project: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    (project.path / "tests" / "test_it.py").write_text(textwrap.dedent(source))
    # A pytest process of its own, as a task author's: in this one, opskit.testing is already imported (by
    # tests/tasks), so pytest could not rewrite its asserts and would warn (an error with filterwarnings).
    return project.runpytest_subprocess("-p", "opskit.testing", "tests/test_it.py", *args)


def test_opskit_context_is_a_real_run_context_in_tmp_path(project):
    result = run_tests(
        project,
        """
        import logging
        from datetime import date, datetime, UTC
        from opskit import Period
        from opskit.testing import DEFAULT_SCHEDULED_FOR

        def test_context(opskit_context, tmp_path, caplog):
            ctx = opskit_context("tally", job="weekly",
                                 params={"period": "last_week", "queues": "Q1,Q2"})
            assert ctx.folder.is_dir() and ctx.folder.parent.parent == tmp_path
            assert ctx.data_dir == tmp_path / "data" and ctx.data_dir.is_dir()
            assert ctx.state_path == tmp_path / "var" / "state" / "weekly.json"
            assert ctx.scheduled_for == DEFAULT_SCHEDULED_FOR and str(ctx.tz) == "Europe/Berlin"
            assert ctx.params == {"period": Period(date(2026, 11, 9), date(2026, 11, 15)),
                                  "queues": ("Q1", "Q2"), "limit": 10}
            secret = ctx.secret("TALLY_TOKEN")
            ctx.log.info("using %s", secret)
            assert "using ***" in (ctx.folder / "run.log").read_text()
            assert caplog.messages == ["using ***"]
            other = opskit_context(scheduled_for=datetime(2026, 3, 1, tzinfo=UTC), tz="UTC",
                                   sources={"console": "http://127.0.0.1:9"})
            assert other.folder != ctx.folder and other.task == "task"
            assert other.source("console").url == "http://127.0.0.1:9"
    """,
    )
    result.assert_outcomes(passed=1)


def test_opskit_run_validates_like_a_real_run_and_cleans_up(project):
    result = run_tests(
        project,
        '''
        import pytest
        from opskit import ParamError, UsageError
        from opskit.tasks import task
        from opskit import Result

        def test_by_name(opskit_run):
            result = opskit_run("tally", period="2026-W46", queues="Q1,Q2", limit="3")
            assert result.rows == 3 and result.summary == {"period": "2026-W46"}
            assert result.files[0].read_text() == "2026-W46 Q1,Q2 3"

        def test_defaults_resolve_against_the_scheduled_time(opskit_context, opskit_run):
            from datetime import datetime, UTC
            ctx = opskit_context("tally", scheduled_for=datetime(2026, 1, 1, 12, tzinfo=UTC))
            assert opskit_run("tally", ctx=ctx).summary == {"period": "2025-12-31"}
            assert ctx.params["limit"] == 10

        def test_bad_values(opskit_run):
            with pytest.raises(ParamError, match=(
                    "task 'tally', parameter 'period': 'fortnight' is not a period")):
                opskit_run("tally", period="fortnight")
            with pytest.raises(ParamError, match="unknown parameter 'limt'. Did you mean 'limit'"):
                opskit_run("tally", limt=3)
            with pytest.raises(UsageError, match="unknown task 'taly'. Did you mean 'tally'"):
                opskit_run("taly")

        def test_a_failing_task_leaves_no_half_file(opskit_context, opskit_run):
            ctx = opskit_context("tally")
            with pytest.raises(ValueError, match="negative limit"):
                opskit_run("tally", ctx=ctx, limit=-1)
            assert sorted(p.name for p in ctx.folder.iterdir()) == ["run.log", "tally.txt"]

        @task
        def inline(ctx, *, n: int = 1) -> Result:
            """An inline task."""
            return {"n": n * 2}

        def test_by_function(opskit_run):
            assert opskit_run(inline, n="21").summary == {"n": 42}
            with pytest.raises(TypeError, match="is not an opskit task"):
                opskit_run(len)
    ''',
    )
    result.assert_outcomes(passed=5)


def test_opskit_console_serves_the_api_with_the_env_credentials(project):
    result = run_tests(
        project,
        """
        import os
        import requests

        def test_console(opskit_console, opskit_context):
            assert os.environ["CONSOLE_API_TOKEN"] == opskit_console.api_token
            assert os.environ["CONSOLE_URL"] == opskit_console.url
            ctx = opskit_context(sources={"console": opskit_console})
            source = ctx.source("console")
            token = ctx.secret(source.token_env)
            response = ctx.http.get(source.url + "/api/v1/queues",
                                    headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert response.status_code == 200 and len(response.json()["data"]) == 30
            ctx.cleanup()

        def test_after(opskit_console_db):
            assert "CONSOLE_API_TOKEN" not in os.environ  # restored after the test that set it
            assert opskit_console_db.stat().st_size > 0
    """,
    )
    result.assert_outcomes(passed=2)


def test_opskit_smtp_receives_real_mail(project):
    result = run_tests(
        project,
        """
        import smtplib
        from email.message import EmailMessage

        def test_smtp(opskit_smtp):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "Hi"
            msg.set_content("body text")
            with smtplib.SMTP(opskit_smtp.host, opskit_smtp.port, timeout=5) as smtp:
                smtp.send_message(msg)
            [got] = opskit_smtp.received
            assert got.rcpt_tos == ["b@example.com"] and got.message["Subject"] == "Hi"
            assert opskit_smtp.messages[0].get_content().strip() == "body text"
            assert f"port: {opskit_smtp.port}" in opskit_smtp.config_yaml()
    """,
    )
    result.assert_outcomes(passed=1)


def test_opskit_smtp_settings_deliver_through_opskit(project):
    result = run_tests(
        project,
        """
        from email.message import EmailMessage

        def test_deliver(opskit_smtp, tmp_path):
            from opskit.delivery.compose import deliver

            msg = EmailMessage()
            msg["From"], msg["To"] = "reports@example.com", "lead@example.com"
            msg["Subject"] = "KPIs"
            msg["Message-ID"] = "<kpis-1@example.com>"
            msg.set_content("numbers")
            settings = opskit_smtp.email_settings(tmp_path / "outbox")
            entry = deliver(settings, msg, bcc=["boss@example.com"])
            assert str(entry.status) == "sent", entry.last_error
            [got] = opskit_smtp.received
            assert sorted(got.rcpt_tos) == ["boss@example.com", "lead@example.com"]
            assert "Bcc" not in got.message and got.message["Subject"] == "KPIs"
    """,
    )
    result.assert_outcomes(passed=1)


def test_without_a_config_a_task_name_says_what_to_do(pytester):
    (pytester.path / "test_it.py").write_text(
        textwrap.dedent("""
        import pytest
        from opskit import UsageError

        def test_no_config(opskit_run):
            with pytest.raises(UsageError, match="no config.yaml above the test"):
                opskit_run("tally")
    """)
    )
    pytester.runpytest("-p", "opskit.testing").assert_outcomes(passed=1)


def test_enabling_the_plugin_imports_nothing_heavy():
    code = (
        "import sys, opskit.testing; "
        "print(sorted(m for m in ('pydantic', 'openpyxl', 'jinja2', 'demo', 'aiosmtpd', "
        "'requests') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def run_in_subprocess(project: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """As ``run_tests``, in a process of its own (no event loop left over by an earlier inline run); the
    test sets PYTHONPATH to the repository so that the process finds opskit."""
    (project.path / "tests" / "test_it.py").write_text(textwrap.dedent(source))
    return project.runpytest_subprocess("-p", "opskit.testing", "-p", "no:cacheprovider", "tests/test_it.py", *args)


def test_opskit_source_loads_a_source_from_config_with_its_variables(project, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("DESK_URL", "http://127.0.0.1:9/desk")
    (project.path / "config.yaml").write_text(
        "timezone: Europe/Berlin\npaths:\n  tasks: jobs_code\nsources:\n  desk:\n    url: ${DESK_URL}\n"
        "    username_env: DESK_USER\n    browser:\n      selectors:\n        save: 'role=button[name=\"Save\"]'\n"
    )
    result = run_in_subprocess(
        project,
        """
        import pytest
        from opskit import ConfigError

        def test_source(opskit_source):
            desk = opskit_source("desk")
            assert desk.url == "http://127.0.0.1:9/desk" and desk.username_env == "DESK_USER"
            assert desk.browser.selectors == {"save": 'role=button[name="Save"]'}
            assert opskit_source("desk", url="http://127.0.0.1:8/").url == "http://127.0.0.1:8/"
            with pytest.raises(ConfigError, match="unknown source 'dsk' in .*config.yaml. Did you mean 'desk'"):
                opskit_source("dsk")
            with pytest.raises(ConfigError, match="source 'desk', timeout: "):
                opskit_source("desk", timeout="soon")
    """,
    )
    result.assert_outcomes(passed=1)


def test_opskit_site_serves_a_folder_and_marks_the_test_browser(project, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    site = project.path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>Sample app</h1>")
    result = run_in_subprocess(
        project,
        """
        import urllib.request

        def test_site(opskit_site):
            url = opskit_site("site")
            assert urllib.request.urlopen(url + "/").read() == b"<h1>Sample app</h1>"

        def test_plain():
            pass
    """,
        "-m",
        "not browser",
    )
    result.assert_outcomes(passed=1, deselected=1)
    run_in_subprocess(project, (project.path / "tests" / "test_it.py").read_text()).assert_outcomes(passed=2)
