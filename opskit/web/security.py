"""Passwords, tokens and the app's secret key: the parts of sign-in that need no web framework.

``runner.py users`` and the web app share them. Passwords are stored as salted scrypt hashes (memory-hard,
in the standard library); API tokens and session ids are random values of which only a SHA-256 digest is
stored (they carry 256 bits of chance, so a fast digest is enough, and lookups need no scan).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from opskit.errors import UsageError
from opskit.files import atomic_write, private_dir

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
"""scrypt's cost: about 32 MiB and 0.1 s per check here, which makes guessing a stolen hash expensive."""
MIN_PASSWORD = 10
TOKEN_PREFIX = "opskit_"
SECRET_ENV = "OPSKIT_WEB_SECRET"
ROLES = ("viewer", "runner", "admin")
"""Each role can do what the ones before it can: viewer sees, runner also runs, admin also manages."""

_DUMMY = None


def hash_password(password: str) -> str:
    """A salted scrypt hash, as stored: ``scrypt$N$r$p$salt$hash`` (base64).

    Raises:
        UsageError: the password is shorter than MIN_PASSWORD characters.
    """
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password is too short: at least {MIN_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; with no stored hash it still spends the same time."""
    global _DUMMY
    if not stored:
        _DUMMY = _DUMMY or hash_password("x" * MIN_PASSWORD)
        stored, password = _DUMMY, password + "-never"
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        found = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(found, _unb64(digest))


def new_token() -> str:
    """A new API token, as the user copies it: ``opskit_`` and 43 URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """What the history stores of a token or session id."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"unknown role '{role}'", hint=f"Use one of {', '.join(ROLES)}")
    return role


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` includes what ``needed`` may do (an unknown role allows nothing)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def secret_key(var_dir: Path) -> bytes:
    """The key that signs the web app's cookies: $OPSKIT_WEB_SECRET, else ``var/web-secret.key``.

    The file is generated on first use, owner-only (0600), so sessions survive a restart; deleting it
    signs everybody out. It is never in config.yaml.
    """
    env = os.environ.get(SECRET_ENV)
    if env:
        if len(env) < 32:
            raise UsageError(f"{SECRET_ENV} is too short: use at least 32 random characters")
        return env.encode("utf-8")
    path = var_dir / "web-secret.key"
    if not path.exists():
        private_dir(var_dir)
        atomic_write(path, secrets.token_hex(32))
    return path.read_bytes().strip()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * n * r * 2, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
