"""The failure alert of a browser job: the failing step and the task's line, the screenshot attached, the
trace's command, and a re-run command that works as pasted."""

from __future__ import annotations

import re
import shlex
import subprocess
from email import policy
from email.parser import BytesParser

import pytest

from opskit.delivery.alerts import task_line_of
from tests.browser.conftest import DESK_PASSWORD_ENV, DESK_USER_ENV, GOT_IT

TASK = '''
from opskit import Result, RunContext, task


@task
def desk_check(ctx: RunContext) -> Result:
    """Open an appeal and save it."""
    with ctx.browser("desk") as s:
        s.goto("#/appeals/AP-0001")
        s.check("label=Uphold")
        s.click("save_button")
    return Result()
'''


@pytest.mark.browser
def test_a_browser_failure_alert_names_the_step_and_line_attaches_the_page_and_reruns_as_pasted(
    run_cli, tmp_project, desk, monkeypatch
):
    from tests.fixtures.appdesk.server import USER

    monkeypatch.setenv(DESK_USER_ENV, USER)
    monkeypatch.setenv(DESK_PASSWORD_ENV, desk.password)
    tmp_project.add_task("desk_check", TASK)
    tmp_project.write_config(
        f"""\
        timezone: Europe/Berlin
        sources:
          desk:
            url: {desk.url}
            username_env: {DESK_USER_ENV}
            password_env: {DESK_PASSWORD_ENV}
            browser:
              trace: true
              action_timeout: 2s
              dismiss: ['{GOT_IT}']
              selectors:
                save_button: 'role=button[name="Save decisions"]'
        jobs:
          desk-check:
            task: desk_check
            email:
              to: [leads@example.com]
              "on": [failure]
        """
    )
    result = run_cli("run", "desk-check")
    assert result.exit_code == 1
    (eml,) = (tmp_project.root / "outbox").rglob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    assert re.search(r"Step:      click save_button \(tasks/desk_check\.py:11\)", text)
    assert "<strong>click save_button</strong> at <code>tasks/desk_check.py:11</code>" in html
    assert f"Page:      {desk.url}/#/appeals/AP-0001" in text
    assert 'Closest:   role=button[name="Save decision"] (button "Save decision")' in text
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "screenshot.png" and attached.get_content()[:4] == b"\x89PNG"
    trace = re.search(r"Trace:     (.+ -m playwright show-trace (\S+))", text)
    assert trace and trace.group(2).endswith("/failure/trace.zip")
    rerun = re.search(r"Re-run it by hand once the cause is fixed:\n(.+)", text).group(1)
    assert f"--config {tmp_project.config} run desk-check --as-of " in rerun
    # pasted as it is, from another folder, it runs the same job for the same slot
    pasted = subprocess.run(shlex.split(rerun), cwd="/", capture_output=True, text=True, timeout=120)
    assert pasted.returncode == 1, pasted.stderr
    from opskit.engine.history import RunStore

    with RunStore(tmp_project.root / "var" / "history.sqlite") as store:
        runs = store.list(job="desk-check")
    assert len(runs) == 2 and runs[0].scheduled_for == runs[1].scheduled_for
    assert "no element matches 'role=button[name=\"Save decisions\"]'" in runs[0].error


def test_the_task_line_is_the_innermost_frame_outside_opskit():
    from pathlib import Path

    import opskit

    inside = Path(opskit.__file__).parent / "context.py"
    traceback = (
        'Traceback (most recent call last):\n  File "/srv/ops/tasks/merge.py", line 12, in merge\n'
        '    rows = _read(path)\n  File "/srv/ops/tasks/merge.py", line 40, in _read\n'
        f'  File "{inside}", line 99, in output\n  File "/v/lib/python3.11/site-packages/x.py", line 5, in f\n'
        "ValueError: boom\n"
    )
    assert task_line_of(traceback) == "tasks/merge.py:40"
    assert task_line_of("no traceback") is None
