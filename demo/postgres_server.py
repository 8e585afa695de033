"""A throwaway PostgreSQL on 127.0.0.1: Debian's binaries, an unprivileged user, a temp folder, a free port.

Used by ``make demo-cluster`` and, through tests/pg_fixtures.py, by the tests. ``initdb`` and ``pg_ctl`` run as
the ``postgres`` system user when this runs as root (PostgreSQL refuses to run as root), else as the current
user; the server listens on 127.0.0.1 only, with password authentication over TCP, and keeps nothing durable
(fsync off): it is for demos and tests, never for a real history.
"""

from __future__ import annotations

import glob
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD = "pg-" + secrets.token_hex(8)
USER = "opskit"


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL's bin folder (/usr/lib/postgresql/N/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in a temp folder; ``stop()``/``start()`` simulate an outage."""

    bin: Path
    folder: Path
    port: int
    run_as: str | None
    databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", *, password: str | None = PASSWORD) -> str:
        auth = f"{USER}:{password}" if password else USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]],
            user=self.run_as,
            capture_output=True,
            text=True,
            check=check,
            cwd=self.folder if self.folder.is_dir() else "/",  # a folder cleaned up early still lets it stop
            timeout=60,
        )

    def init(self) -> None:
        pwfile = self.folder / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.run_as:
            shutil.chown(self.folder, self.run_as)
            shutil.chown(pwfile, self.run_as)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "30", "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as c:
            c.execute(statement)  # type: ignore[arg-type]

    def create_database(self) -> str:
        name = f"t_{secrets.token_hex(5)}"
        self.sql(f"CREATE DATABASE {name}")
        self.databases.append(name)
        return name

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
