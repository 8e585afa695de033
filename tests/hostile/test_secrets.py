"""No secret leaves opskit, in any encoding: a hostile task tries every sink at once.

The secrets contain characters that every encoding changes (space, ``@``, ``/``, ``"``, ``<&>``, ``+``, ``é``).
A task reads one with ``ctx.secret``, finds two more in the config (a ``${API_TOKEN}`` and a source's
``*_env`` login) and writes all three, raw and encoded, to its log, its summary, its error and a crash. Then
every byte opskit wrote under the project is read back — files, the history's rows, the outbox's messages
decoded part by part, the run folders' workbooks unzipped — with what ``runner.py`` prints, and none of the
forms may appear. Real processes: ``runner.py`` runs the worker as a child, as a user runs it.
"""

from __future__ import annotations

import base64
import html
import json
import sqlite3
import subprocess
import sys
import zipfile
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.process

SECRET_CTX = 'p@ss w/"<&>+é-ctx-7Q'
SECRET_CFG = 'k3y w/"<&>+é-cfg-8R'
SECRET_PASSWORD = 'pw @/"<&>+é-env-9S'
USER = "svc-reporting"

LEAKY_TASK = '''
"""A task that tries to leak every secret it can reach, in every encoding (a test task)."""

import base64
import html
import json
import os
from urllib.parse import quote, quote_plus

from opskit import Result, RunContext, TaskError, task


def forms(value):
    return [value, quote(value, safe=""), quote(value), quote_plus(value), html.escape(value),
            json.dumps(value), json.dumps(value, ensure_ascii=False)]


@task
def leaky(ctx: RunContext, *, mode: str = "ok") -> Result:
    """Leak secrets everywhere (a test task)."""
    values = [ctx.secret("HOSTILE_TOKEN"), os.environ["API_TOKEN"], os.environ["CONSOLE_PASSWORD"]]
    basic = base64.b64encode(f"{os.environ['CONSOLE_USER']}:{values[2]}".encode()).decode()
    text = " | ".join(f for v in values for f in forms(v)) + " | Authorization: Basic " + basic
    ctx.log.info("calling the tool with %s", text)
    ctx.log.warning("GET https://tool.example/api?q=%s&p=%s", quote_plus(values[0]), quote(values[2]))
    if mode == "taskerror":
        raise TaskError(f"the tool refused {text}")
    if mode == "crash":
        raise ValueError(f"boom {text}")
    with ctx.output("report.csv") as tmp:
        tmp.write_text("queue,cases\\nQ1,3\\n", encoding="utf-8")
    return Result(
        files=[ctx.path("report.csv")],
        rows=1,
        summary={
            "title": f"Report for {values[0]}",
            "headline": text,
            "kpis": [{"name": f"Cases {values[1]}", "value": 3}],
            "drivers": [{"label": html.escape(values[2]), "share": 0.5}],
            "notes": [json.dumps({"token": values[1]})],
        },
    )
'''

CONFIG = """\
timezone: Europe/Berlin
defaults:
  timeout: 1m
  retries: 0
  retry_backoff: 0s
chat: {kind: slack, url_env: TEST_CHAT_URL, backoff_s: 0, max_attempts: 1}
sources:
  tool:
    url: http://127.0.0.1:9/
    description: "key ${API_TOKEN}"
    username_env: CONSOLE_USER
    password_env: CONSOLE_PASSWORD
jobs:
"""

JOB = """\
  {name}:
    task: leaky
    params:
      mode: {mode}
    email:
      to: [lead@example.com]
      subject: "{{{{ title }}}} ({{{{ status }}}})"
      "on": [success, failure]
"""


def every_form(secret: str) -> set[str]:
    """Each form the secret could take, computed here (not by opskit) so the test checks opskit's list."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote_plus(secret, safe=""),
        html.escape(secret),
        html.escape(secret, quote=False),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        base64.b64encode(secret.encode()).decode(),
    }
    return forms


FORMS = {
    form: name
    for name, secret in (("ctx.secret", SECRET_CTX), ("${API_TOKEN}", SECRET_CFG), ("password_env", SECRET_PASSWORD))
    for form in every_form(secret)
} | {base64.b64encode(f"{USER}:{SECRET_PASSWORD}".encode()).decode(): "basic auth"}


def leaks(text: str | bytes, where: str) -> list[str]:
    data = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return [f"{where}: {FORMS[form]} as {form!r}" for form in FORMS if form in data]


@pytest.fixture
def hook(monkeypatch):
    """A chat webhook on 127.0.0.1 recording every alert posted to it (tests/test_notify.py's)."""
    from tests.test_notify import Hook

    server = Hook()
    monkeypatch.setenv("TEST_CHAT_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def hostile_project(tmp_project, monkeypatch, hook):
    monkeypatch.setenv("HOSTILE_TOKEN", SECRET_CTX)
    monkeypatch.setenv("API_TOKEN", SECRET_CFG)
    monkeypatch.setenv("CONSOLE_USER", USER)
    monkeypatch.setenv("CONSOLE_PASSWORD", SECRET_PASSWORD)
    tmp_project.add_task("leaky", LEAKY_TASK)
    jobs = "".join(JOB.format(name=f"leak-{m}", mode=m) for m in ("ok", "taskerror", "crash"))
    tmp_project.config.write_text(CONFIG + jobs)
    return tmp_project


def runner(project, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--config", str(project.config), *argv],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=project.root,
    )


def written_leaks(root: Path) -> tuple[list[str], dict[str, int]]:
    """Every leak in what opskit wrote under ``root``, and how many files of each kind were read."""
    found: list[str] = []
    seen = {"eml": 0, "sqlite": 0, "log": 0, "zip": 0, "other": 0}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        if rel.startswith("tasks") or path.name == "config.yaml":
            continue  # the project's own files: the test wrote them, with no secret values in them
        data = path.read_bytes()
        found += leaks(data, rel)
        if path.suffix == ".eml":
            seen["eml"] += 1
            message = BytesParser(policy=policy.default).parsebytes(data)
            found += leaks(str(message["Subject"]), f"{rel} subject")
            for part in message.walk():
                if not part.is_multipart() and part.get_content_maintype() == "text":
                    found += leaks(part.get_content(), f"{rel} {part.get_content_type()}")
        elif path.suffix in (".sqlite", ".sqlite3"):
            seen["sqlite"] += 1
            found += database_leaks(path, rel)
        elif path.suffix in (".xlsx", ".zip"):
            seen["zip"] += 1
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    found += leaks(z.read(member), f"{rel}!{member}")
        elif path.name == "run.log":
            seen["log"] += 1
        else:
            seen["other"] += 1
    return found, seen


def database_leaks(path: Path, rel: str) -> list[str]:
    found: list[str] = []
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 (names from sqlite_master)
                for value in row:
                    if isinstance(value, str | bytes):
                        found += leaks(value, f"{rel} {table}")
    finally:
        db.close()
    return found


def test_no_secret_in_any_form_reaches_anything_opskit_writes_or_prints(hostile_project, hook):
    project = hostile_project
    printed: list[str] = []
    runs = {}
    for mode in ("ok", "taskerror", "crash"):
        done = runner(project, "run", f"leak-{mode}")
        assert done.returncode == (0 if mode == "ok" else 1), done.stderr
        printed += [f"run {mode} stdout\n" + done.stdout, f"run {mode} stderr\n" + done.stderr]
        runs[mode] = done.stdout.split()[1]
    for run_id in runs.values():
        for argv in (("show", run_id), ("show", run_id, "--json"), ("logs", run_id)):
            done = runner(project, *argv)
            assert done.returncode == 0, done.stderr
            printed.append(f"{' '.join(argv)}\n" + done.stdout + done.stderr)
    for argv in (("history",), ("history", "--json")):
        done = runner(project, *argv)
        printed.append(f"{' '.join(argv)}\n" + done.stdout + done.stderr)

    assert len(hook.posts) == 2  # the two failures' chat alerts, their cause masked
    assert all("***" in json.dumps(body) for _, body in hook.posts), hook.posts
    printed += [f"chat alert\n{json.dumps(body, ensure_ascii=False)}" for _, body in hook.posts]
    found = [leak for text in printed for leak in leaks(text, text.splitlines()[0])]
    written, seen = written_leaks(project.root)
    assert found + written == []

    # the sinks were really exercised: three logs, the history, three emails, the workbook-free run folder
    assert seen["log"] == 3 and seen["sqlite"] >= 2 and seen["eml"] == 3, seen
    history = "\n".join(printed)
    assert "calling the tool with ***" in history  # the log line is there, with its secrets masked
    assert "the tool refused ***" in history and "ValueError: boom ***" in history
    subjects = [
        str(BytesParser(policy=policy.default).parsebytes(p.read_bytes())["Subject"])
        for p in sorted((project.root / "outbox").glob("*.eml"))
    ]
    assert any(s.startswith("Report for ***") for s in subjects), subjects
    assert (project.root / "var" / "runs").exists()


def test_a_parameter_holding_a_secret_is_refused_before_it_is_stored(hostile_project):
    done = runner(hostile_project, "run", "leaky", "--param", f"mode=x{quote(SECRET_CFG)}")
    assert done.returncode == 2
    assert done.stderr.startswith("error: 'leaky', parameter 'mode': the value holds a secret"), done.stderr
    assert leaks(done.stdout + done.stderr, "stderr") == []
    history = hostile_project.root / "var" / "history.sqlite"
    assert not history.exists() or database_leaks(history, "history") == []


@pytest.mark.parametrize("secret", [SECRET_CTX, SECRET_CFG, "plain-token-1234", "ünïcødé päss wörd"])
def test_the_redactor_knows_every_form_of_a_secret(secret):
    from opskit.redact import Redactor

    redactor = Redactor([secret])
    forms = every_form(secret) | {quote(quote(secret, safe=""), safe=""), html.escape(secret).replace("&", "&amp;")}
    for form in forms:
        if len(form) >= 4:
            assert redactor.redact(f"<{form}>") in ("<***>", "<&amp;***>"), form
    assert redactor.redact("nothing secret here") == "nothing secret here"


def test_a_log_filter_follows_the_secrets_of_a_reloaded_config():
    import logging

    from opskit.redact import FollowingRedactor

    current = {SECRET_CFG}
    follow = FollowingRedactor(lambda: current)

    def line(text: str) -> str:
        record = logging.LogRecord("opskit", logging.INFO, __file__, 1, "%s", (text,), None)
        follow.filter(record)
        return record.getMessage()

    assert line(f"token {quote_plus(SECRET_CFG)}") == "token ***"
    assert line(f"token {SECRET_PASSWORD}") == f"token {SECRET_PASSWORD}"
    current = {SECRET_CFG, SECRET_PASSWORD}  # the config was reloaded with a new secret
    assert line(f"token {json.dumps(SECRET_PASSWORD)}") == 'token "***"'


def test_runs_the_scheduler_starts_leak_nothing_either(hostile_project):
    """The same three runs, started by ``runner.py schedule`` (zygote, courier thread): its console too."""
    from opskit.engine.history import RunStore
    from tests.conftest import wait_for

    project = hostile_project
    console = open(project.root / "scheduler-console.txt", "w")  # noqa: SIM115 - closed below
    scheduler = subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "--config", str(project.config), "schedule"],
        cwd=project.root,
        stdout=console,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with RunStore(project.root / "var" / "history.sqlite") as store:
            wait_for(lambda: (store.scheduler_info() or {}).get("pid") == scheduler.pid, what="the scheduler")
            for mode in ("ok", "taskerror", "crash"):
                store.add_run_request(f"leak-{mode}", overrides={}, trigger="web", requested_by="test")

            def delivered() -> bool:
                runs = store.list(limit=10)
                return len(runs) == 3 and all(r.finished_at and r.delivery for r in runs)

            wait_for(delivered, timeout=90, what="three runs ended and delivered")
            assert sorted(r.status for r in store.list(limit=10)) == ["failed", "failed", "succeeded"]
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=60)
        console.close()
    written, seen = written_leaks(project.root)
    assert written == []
    assert seen["eml"] == 3 and seen["log"] == 3, seen
    assert "run" in (project.root / "scheduler-console.txt").read_text()


def test_a_result_holding_a_secret_in_a_set_a_path_or_bytes_is_stored_without_it(tmp_path):
    """The history turns what JSON cannot hold into text after scrubbing: the text itself must be scrubbed."""
    from datetime import UTC, date, datetime

    from opskit.engine.history import RunStatus, RunStore, Trigger
    from opskit.redact import Redactor

    token = "sk-live-ABCDEF123456"
    summary = {
        "seen": {token},
        "where": Path("/x") / token,
        "raw": token,
        "b": token.encode(),
        "n": 3,
        "d": date.today(),
    }
    with RunStore(tmp_path / "history.sqlite", redactor=Redactor({token})) as store:
        record = store.create(
            job=None,
            task="t",
            params={},
            trigger=Trigger.MANUAL,
            scheduled_for=datetime.now(UTC),
            folder_root=tmp_path / "runs",
        )
        store.finish(record.id, RunStatus.SUCCEEDED, result={"summary": summary})
        stored = store._db.execute("SELECT result FROM runs WHERE id=?", (record.id,)).fetchone()[0]
    assert token not in stored and "ABCDEF" not in stored
    assert json.loads(stored)["summary"]["n"] == 3  # numbers stay numbers
    assert json.loads(stored)["summary"]["where"] == "/x/***"


# What other encoders write (JavaScript in the page, PHP's json_encode, lower-case hex), as they wrote it:
# taken from node (encodeURIComponent, URLSearchParams) and PHP, not from Python's own quote/json.
FOREIGN_FORMS = [
    ("Tr0ub4dor&3!", "Tr0ub4dor%263!"),  # encodeURIComponent keeps !'()*~
    ("pa ss!word", "pa%20ss!word"),
    ("naïve-pass!", "na%C3%AFve-pass!"),
    ("s3cr3t~key*x", "s3cr3t%7Ekey*x"),  # URLSearchParams encodes ~ and keeps *
    ("my pass/wd", "my+pass/wd"),  # + for a space, / kept
    ("clé/secrète", "cl\\u00e9\\/secr\\u00e8te"),  # json_encode: ASCII escapes and \/
    ("clé/secrète", "cl\\u00E9\\/secr\\u00E8te"),
    ("p@ss w/rd", "p%40ss%20w%2frd"),  # lower-case hex
]


@pytest.mark.parametrize(("secret", "encoded"), FOREIGN_FORMS)
def test_a_secret_encoded_by_a_page_or_another_language_is_redacted(secret, encoded):
    from opskit.redact import Redactor

    assert Redactor({secret}).redact(f"GET /login?u=ops&p={encoded}&next=/") == "GET /login?u=ops&p=***&next=/"
