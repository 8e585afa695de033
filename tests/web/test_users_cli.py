"""``runner.py users``: passwords from stdin as salted hashes, roles and groups checked, tokens shown once;
``runner.py history`` names who started a run from the web."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from opskit.engine.history import RunStore
from opskit.engine.requests_table import RequestStatus
from opskit.web.security import digest, verify_password

GROUPED = """\
timezone: Europe/Berlin
jobs:
  nightly:
    task: kitchen_sink
    group: ops
"""


@pytest.fixture
def project(tmp_project):
    tmp_project.write_config(GROUPED)
    return tmp_project


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_stores_a_salted_hash_and_lists_the_user(run_cli, project, monkeypatch):
    _stdin(monkeypatch, "a-long-password\n")
    result = run_cli("users", "add", "alice", "--role", "runner", "--groups", "ops")
    assert result.exit_code == 0 and result.stdout == "user alice added: runner, groups ops\n"
    with RunStore(project.root / "var" / "history.sqlite") as store:
        user = store.require_user("alice")
    assert user.password_hash.startswith("scrypt$32768$8$1$") and "a-long-password" not in user.password_hash
    assert verify_password("a-long-password", user.password_hash)
    listing = run_cli("users")
    assert "alice                    runner   password  enabled   ops" in listing.stdout


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["--role", "boss"], "a-long-password\n", "error: unknown role 'boss'. Use one of viewer, runner, admin\n"),
        (["--role", "viewer"], "short\n", "error: the password is too short: at least 10 characters\n"),
        (
            ["--role", "viewer", "--groups", "opz"],
            "a-long-password\n",
            "error: no job is in group 'opz'. Did you mean 'ops'?\n",
        ),
        (
            ["--role", "viewer"],
            "",
            "error: no password on stdin. Pipe it in, or use --no-password for SSO-only users\n",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_cli, project, monkeypatch, argv, stdin, message):
    _stdin(monkeypatch, stdin)
    result = run_cli("users", "add", "bob", *argv)
    assert (result.exit_code, result.stderr) == (2, message)


def test_a_token_is_printed_once_and_stored_as_a_digest_then_revoked(run_cli, project, monkeypatch):
    _stdin(monkeypatch, "")
    assert run_cli("users", "add", "sso-user", "--role", "viewer", "--no-password").exit_code == 0
    result = run_cli("users", "token", "sso-user", "--label", "BI refresh")
    token = result.stdout.strip()
    assert token.startswith("opskit_") and len(token) > 40
    with RunStore(project.root / "var" / "history.sqlite") as store:
        [row] = store.list_tokens("sso-user")
        assert store.user_for_token(digest(token)).name == "sso-user"
    assert f"revoke it with `runner.py users revoke {row['id']}`" in result.stderr
    assert run_cli("users", "revoke", row["id"]).exit_code == 0
    with RunStore(project.root / "var" / "history.sqlite") as store:
        assert store.user_for_token(digest(token)) is None
    again = run_cli("users", "revoke", row["id"])
    assert again.exit_code == 2 and "no live token" in again.stderr


def test_set_and_remove_end_the_users_sessions(run_cli, project, monkeypatch):
    _stdin(monkeypatch, "a-long-password\n")
    run_cli("users", "add", "carol", "--role", "viewer")
    with RunStore(project.root / "var" / "history.sqlite") as store:
        store.create_session("h1", "carol", csrf="c", ip=None)
    assert run_cli("users", "set", "carol", "--disable").stdout == "user carol: viewer, groups -, disabled\n"
    with RunStore(project.root / "var" / "history.sqlite") as store:
        assert store.get_session("h1") is None
    assert run_cli("users", "remove", "carol").exit_code == 0
    missing = run_cli("users", "set", "carol", "--role", "admin")
    assert missing.exit_code == 2 and missing.stderr.startswith("error: no user 'carol'")


def test_history_names_who_started_a_run_from_the_web(run_cli, project):
    with RunStore(project.root / "var" / "history.sqlite") as store:
        request = store.add_run_request("nightly", overrides={}, trigger="web", requested_by="alice")
        record = store.create(
            job="nightly",
            task="kitchen_sink",
            params={},
            trigger="web",
            scheduled_for=datetime.now(UTC),
            folder_root=project.root / "var" / "runs",
        )
        assert store.close_run_request(request.id, RequestStatus.STARTED, run_id=record.id)
    result = run_cli("history")
    assert f"{record.id:<44} queued     web by alice" in result.stdout
    shown = run_cli("show", record.id)
    assert "requested_by    alice" in shown.stdout
