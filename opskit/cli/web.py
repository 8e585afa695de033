"""``runner.py web`` (the web app, served by waitress) and ``runner.py users`` (who may sign in to it)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from opskit.config.model import Config, load_config
from opskit.engine.database import redact_url
from opskit.engine.history import RunStore
from opskit.errors import UsageError, did_you_mean
from opskit.redact import Redactor
from opskit.terminal import PrintableFormatter
from opskit.web.security import check_role, digest, hash_password, new_token


def cmd_web(args: argparse.Namespace, config_path: Path) -> int:
    import logging

    from opskit.web.server import make_server, serve_forever  # on use: `runner.py list` stays light

    config = load_config(config_path)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)-7s %(message)s"))
    handler.addFilter(Redactor(config.secrets))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    with RunStore(config.history_target) as store:
        users = store.list_users()
    server = make_server(config_path.resolve(), host=args.host, port=args.port, threads=args.threads)
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{server.effective_port}"
    print(f"opskit web app on {url}  (history {redact_url(config.history_target)}; Ctrl-C stops)", flush=True)
    if config.settings.web.auth == "local" and not users:
        print(
            "no users yet: add one with `runner.py users add NAME --role admin` (the password is read from stdin)",
            flush=True,
        )
    serve_forever(server)
    return 0


def cmd_users(args: argparse.Namespace, config_path: Path) -> int:
    config = load_config(config_path)
    action = args.users_command or "list"
    with RunStore(config.history_target) as store:
        return int(_ACTIONS[action](store, config, args))


def _list(store: RunStore, config: Config, args: argparse.Namespace) -> int:
    users = store.list_users()
    if getattr(args, "json", False):
        print(json.dumps([u.to_json() for u in users], indent=2))
        return 0
    if not users:
        print("no users yet: `runner.py users add NAME --role admin` adds the first")
        return 0
    print(f"{'USER':<24} {'ROLE':<8} {'SIGN-IN':<9} {'STATE':<9} GROUPS")
    for u in users:
        sign_in = "password" if u.password_hash else "sso only"
        state = "disabled" if u.disabled else "enabled"
        print(f"{u.name:<24} {u.role:<8} {sign_in:<9} {state:<9} {', '.join(u.groups) or '-'}")
    return 0


def _add(store: RunStore, config: Config, args: argparse.Namespace) -> int:
    name = _check_name(args.name)
    check_role(args.role)
    groups = _groups(args.groups, config)
    password_hash = None if args.no_password else hash_password(_read_password())
    store.add_user(name, role=args.role, groups=groups, password_hash=password_hash)
    store.audit("user_added", user=None, target=name, detail={"role": args.role, "groups": list(groups)})
    print(f"user {name} added: {args.role}, groups {', '.join(groups) or '(none: sees no job unless admin)'}")
    return 0


def _set(store: RunStore, config: Config, args: argparse.Namespace) -> int:
    if args.role:
        check_role(args.role)
    groups = _groups(args.groups, config) if args.groups is not None else None
    password_hash = hash_password(_read_password()) if args.password else None
    disabled = True if args.disable else (False if args.enable else None)
    user = store.update_user(args.name, role=args.role, groups=groups, password_hash=password_hash, disabled=disabled)
    store.audit(
        "user_changed",
        user=None,
        target=args.name,
        detail={"role": args.role, "groups": groups, "password": bool(args.password), "disabled": disabled},
    )
    state = "disabled" if user.disabled else "enabled"
    print(f"user {user.name}: {user.role}, groups {', '.join(user.groups) or '-'}, {state}")
    return 0


def _remove(store: RunStore, config: Config, args: argparse.Namespace) -> int:
    store.remove_user(args.name)
    store.audit("user_removed", user=None, target=args.name)
    print(f"user {args.name} removed; their sessions ended and their tokens were revoked")
    return 0


def _token(store: RunStore, config: Config, args: argparse.Namespace) -> int:
    token = new_token()
    token_id = store.add_token(args.name, digest(token), label=args.label or "")
    store.audit("token_created", user=None, target=args.name, detail={"token_id": token_id, "label": args.label})
    print(token)
    print(
        f"token {token_id} for {args.name}: shown once, keep it secret. Send it as `Authorization: Bearer <token>`;"
        f" revoke it with `runner.py users revoke {token_id}`",
        file=sys.stderr,
    )
    return 0


def _tokens(store: RunStore, config: Config, args: argparse.Namespace) -> int:
    rows = store.list_tokens(args.name)
    if not rows:
        print("no tokens")
        return 0
    print(f"{'TOKEN':<10} {'USER':<20} {'CREATED':<17} {'LAST USED':<17} {'STATE':<8} LABEL")
    for t in rows:
        state = "revoked" if t["revoked_at"] else "live"
        print(
            f"{t['id']:<10} {t['user']:<20} {t['created_at'][:16]:<17} {(t['last_used_at'] or '-')[:16]:<17} "
            f"{state:<8} {t['label']}"
        )
    return 0


def _revoke(store: RunStore, config: Config, args: argparse.Namespace) -> int:
    if not store.revoke_token(args.token_id):
        raise UsageError(f"no live token '{args.token_id}'", hint="List them with `runner.py users tokens`")
    store.audit("token_revoked", user=None, target=args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


_ACTIONS = {
    "list": _list,
    "add": _add,
    "set": _set,
    "remove": _remove,
    "token": _token,
    "tokens": _tokens,
    "revoke": _revoke,
}


def _read_password() -> str:
    """From the terminal (asked twice), or the first line of stdin when it is a pipe."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise UsageError("the two passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise UsageError("no password on stdin", hint="Pipe it in, or use --no-password for SSO-only users")
    return line


def _check_name(name: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}", name):
        raise UsageError(f"user name '{name[:80]}' may use letters, digits and . _ @ + - (at most 64)")
    return name


def _groups(text: str, config: Config) -> tuple[str, ...]:
    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    known = {g for job in config.jobs.values() for g in job.groups}
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise UsageError(
            f"no job is in group '{unknown[0]}'",
            hint=did_you_mean(unknown[0], known) or f"Groups in config.yaml: {', '.join(sorted(known)) or 'none'}",
        )
    return groups
