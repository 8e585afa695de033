"""The arguments of ``runner.py users``: light, so that building the command line never loads pydantic."""

from __future__ import annotations

import argparse

from opskit.web.security import ROLES


def add_users_parser(users: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """The ``runner.py users`` sub-commands (main.py builds the rest of the command line)."""
    users.add_argument("--json", action="store_true", help="list users as JSON")
    sub = users.add_subparsers(dest="users_command", metavar="ACTION", parser_class=parser_class)
    sub.add_parser("list", help="every user with role, groups and state")
    add = sub.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
    add.add_argument("--groups", default="", help="comma-separated job groups the user sees (admins see all)")
    add.add_argument("--no-password", action="store_true", help="no password: signs in through the SSO proxy only")
    change = sub.add_parser("set", help="change a user's role, groups, password or state")
    change.add_argument("name")
    change.add_argument("--role", help=f"one of {', '.join(ROLES)}")
    change.add_argument("--groups", help="comma-separated job groups (replaces the user's groups)")
    change.add_argument("--password", action="store_true", help="set a new password (read from stdin)")
    change.add_argument("--disable", action="store_true", help="the user can no longer sign in or use tokens")
    change.add_argument("--enable", action="store_true")
    remove = sub.add_parser("remove", help="delete a user (sessions end, tokens are revoked)")
    remove.add_argument("name")
    token = sub.add_parser("token", help="create an API token for a user; printed once")
    token.add_argument("name")
    token.add_argument("--label", help="what the token is for, e.g. 'BI refresh'")
    tokens = sub.add_parser("tokens", help="list API tokens (never their values)")
    tokens.add_argument("name", nargs="?")
    revoke = sub.add_parser("revoke", help="revoke an API token by its id")
    revoke.add_argument("token_id")
