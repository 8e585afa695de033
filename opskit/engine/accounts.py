"""The web app's accounts in the run history: users, API tokens, sign-in sessions and the audit log.

``RunStore`` inherits these methods (``AccountTables``), so the web app and ``runner.py users`` reach the
tables only through the store, never with SQL of their own: the day the history moves to another
database, these methods are what is ported. Nothing here hashes or checks a password; the callers
(``opskit.web.security``) do, and store only the hash. Tokens and session ids are stored as SHA-256
digests of the random values the user holds, so a copy of the history cannot be used to sign in.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from opskit.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from opskit.engine.database import Db

SEEN_EVERY = timedelta(minutes=1)
"""A session's or token's "last seen" time is written at most this often: a page view is a read."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One web user: a role (viewer, runner, admin) and the job groups they may see."""

    name: str
    role: str
    groups: tuple[str, ...]
    password_hash: str | None
    disabled: bool
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "groups": list(self.groups),
            "disabled": self.disabled,
            "password": self.password_hash is not None,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in browser: whose, its CSRF token, and when it was created and last seen."""

    user: str
    csrf: str
    created_at: datetime
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when, from where."""

    id: int
    at: datetime
    user: str | None
    action: str
    target: str | None
    detail: dict[str, Any]
    ip: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "user": self.user,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "ip": self.ip,
        }


class AccountTables:
    """Users, tokens, sessions and the audit log; mixed into ``RunStore`` (which provides ``_db``, ``_write``)."""

    _db: Db

    def _write(self) -> AbstractContextManager[Db]:  # provided by RunStore
        raise NotImplementedError

    # -- users --

    def add_user(
        self, name: str, *, role: str, groups: tuple[str, ...], password_hash: str | None, now: datetime | None = None
    ) -> UserRecord:
        """Create a user. Raises UsageError when the name is taken."""
        at = _ts(now)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO web_users (name, role, groups, password_hash, created_at, updated_at)"
                    " VALUES (?,?,?,?,?,?)",
                    (name, role, json.dumps(sorted(set(groups))), password_hash, at, at),
                )
        except sa.exc.IntegrityError:
            raise UsageError(
                f"user '{name}' already exists", hint=f"Change it with `runner.py users set {name} ...`"
            ) from None
        return self.require_user(name)

    def update_user(
        self,
        name: str,
        *,
        role: str | None = None,
        groups: tuple[str, ...] | None = None,
        password_hash: str | None = None,
        disabled: bool | None = None,
        now: datetime | None = None,
    ) -> UserRecord:
        """Change what is given. A new password or a disabled user ends the user's sessions."""
        self.require_user(name)
        sets, args = ["updated_at=?"], [_ts(now)]  # type: list[str], list[Any]
        for column, value in (
            ("role", role),
            ("groups", json.dumps(sorted(set(groups))) if groups is not None else None),
            ("password_hash", password_hash),
            ("disabled", int(disabled) if disabled is not None else None),
        ):
            if value is not None:
                sets.append(f"{column}=?")
                args.append(value)
        with self._write() as db:
            db.execute(f"UPDATE web_users SET {', '.join(sets)} WHERE name=?", (*args, name))
            if password_hash is not None or disabled:
                db.execute('DELETE FROM web_sessions WHERE "user"=?', (name,))
        return self.require_user(name)

    def remove_user(self, name: str, *, now: datetime | None = None) -> None:
        """Delete a user, end their sessions and revoke their tokens (the audit log keeps their name)."""
        self.require_user(name)
        with self._write() as db:
            db.execute("DELETE FROM web_users WHERE name=?", (name,))
            db.execute('DELETE FROM web_sessions WHERE "user"=?', (name,))
            db.execute('UPDATE web_tokens SET revoked_at=? WHERE "user"=? AND revoked_at IS NULL', (_ts(now), name))

    def get_user(self, name: str) -> UserRecord | None:
        row = self._db.execute("SELECT * FROM web_users WHERE name=?", (name,)).fetchone()
        return _user(row) if row else None

    def require_user(self, name: str) -> UserRecord:
        user = self.get_user(name)
        if user is None:
            known = [u.name for u in self.list_users()]
            raise UsageError(f"no user '{name}'", hint=did_you_mean(name, known) or "List them with `runner.py users`")
        return user

    def list_users(self) -> list[UserRecord]:
        return [_user(r) for r in self._db.execute("SELECT * FROM web_users ORDER BY name")]

    # -- API tokens --

    def add_token(self, user: str, token_hash: str, *, label: str = "", now: datetime | None = None) -> str:
        """Store a token's digest for ``user``; returns the token's public id (for listing and revoking)."""
        self.require_user(user)
        token_id = secrets.token_hex(4)
        with self._write() as db:
            db.execute(
                'INSERT INTO web_tokens (id, "user", token_hash, label, created_at) VALUES (?,?,?,?,?)',
                (token_id, user, token_hash, label, _ts(now)),
            )
        return token_id

    def user_for_token(self, token_hash: str, *, now: datetime | None = None) -> UserRecord | None:
        """The enabled user a live token belongs to, or None; notes when the token was last used."""
        row = self._db.execute(
            'SELECT t.id, t.last_used_at, u.* FROM web_tokens t JOIN web_users u ON u.name = t."user"'
            " WHERE t.token_hash=? AND t.revoked_at IS NULL AND u.disabled=0",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        now = now or datetime.now(UTC)
        last = _parse(row["last_used_at"])
        if last is None or now - last >= SEEN_EVERY:
            with self._write() as db:
                db.execute("UPDATE web_tokens SET last_used_at=? WHERE id=?", (_ts(now), row["id"]))
        return _user(row)

    def list_tokens(self, user: str | None = None) -> list[dict[str, Any]]:
        sql, args = 'SELECT id, "user", label, created_at, last_used_at, revoked_at FROM web_tokens', []
        if user:
            sql += ' WHERE "user"=?'
            args.append(user)
        return [dict(r) for r in self._db.execute(sql + " ORDER BY created_at", args)]

    def revoke_token(self, token_id: str, *, now: datetime | None = None) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE web_tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL", (_ts(now), token_id)
            )
        return cursor.rowcount > 0

    # -- sign-in sessions --

    def create_session(
        self, id_hash: str, user: str, *, csrf: str, ip: str | None, now: datetime | None = None
    ) -> None:
        at = _ts(now)
        with self._write() as db:
            db.execute(
                'INSERT INTO web_sessions (id_hash, "user", csrf, created_at, seen_at, ip) VALUES (?,?,?,?,?,?)',
                (id_hash, user, csrf, at, at, ip),
            )

    def get_session(self, id_hash: str) -> SessionRecord | None:
        row = self._db.execute(
            'SELECT "user", csrf, created_at, seen_at FROM web_sessions WHERE id_hash=?', (id_hash,)
        ).fetchone()
        if row is None:
            return None
        return SessionRecord(row["user"], row["csrf"], _parse(row["created_at"]), _parse(row["seen_at"]))  # type: ignore[arg-type]

    def touch_session(self, id_hash: str, *, now: datetime | None = None) -> None:
        """Note activity (the caller writes at most every SEEN_EVERY: the idle timeout is coarse by that)."""
        with self._write() as db:
            db.execute("UPDATE web_sessions SET seen_at=? WHERE id_hash=?", (_ts(now), id_hash))

    def delete_session(self, id_hash: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM web_sessions WHERE id_hash=?", (id_hash,))

    def prune_sessions(self, *, idle_before: datetime, created_before: datetime) -> int:
        """Delete sessions idle or old past their limits; returns how many."""
        with self._write() as db:
            cursor = db.execute(
                "DELETE FROM web_sessions WHERE seen_at < ? OR created_at < ?", (_ts(idle_before), _ts(created_before))
            )
        return cursor.rowcount

    # -- the audit log --

    def audit(
        self,
        action: str,
        *,
        user: str | None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        ip: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record who did what (run, pause, resend, download, sign-in ...)."""
        with self._write() as db:
            db.execute(
                'INSERT INTO audit_log (at, "user", action, target, detail, ip) VALUES (?,?,?,?,?,?)',
                (_ts(now), user, action, target, json.dumps(detail or {}, default=str), ip),
            )

    def audit_entries(
        self, *, limit: int = 100, user: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        sql, args = "SELECT * FROM audit_log WHERE 1=1", []
        if user:
            sql += ' AND "user"=?'
            args.append(user)
        if action:
            sql += " AND action=?"
            args.append(action)
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return list(_entries(rows))

    def count_audit(self, action: str, *, since: datetime, user: str | None = None, ip: str | None = None) -> int:
        """How often ``action`` was recorded since ``since`` (for one user and/or address): the login limit."""
        sql, args = "SELECT COUNT(*) FROM audit_log WHERE action=? AND at>=?", [action, _ts(since)]
        if user is not None:
            sql += ' AND "user"=?'
            args.append(user)
        if ip is not None:
            sql += " AND ip=?"
            args.append(ip)
        row = self._db.execute(sql, args).fetchone()
        return int(row[0]) if row else 0


def _user(row: Any) -> UserRecord:
    return UserRecord(
        name=row["name"],
        role=row["role"],
        groups=tuple(json.loads(row["groups"])),
        password_hash=row["password_hash"],
        disabled=bool(row["disabled"]),
        created_at=_parse(row["created_at"]),  # type: ignore[arg-type]
    )


def _entries(rows: Any) -> Iterator[AuditEntry]:
    for r in rows:
        yield AuditEntry(
            id=r["id"],
            at=_parse(r["at"]),  # type: ignore[arg-type]
            user=r["user"],
            action=r["action"],
            target=r["target"],
            detail=json.loads(r["detail"]),
            ip=r["ip"],
        )


def _ts(value: datetime | None) -> str:
    return (value or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
