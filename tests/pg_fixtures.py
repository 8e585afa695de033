"""A real PostgreSQL for the tests: Debian's binaries, an unprivileged user, a temp folder, a free port.

``postgres_server`` (one per test session) runs ``initdb`` and ``pg_ctl`` as the ``postgres`` system user
when the tests run as root (PostgreSQL refuses to run as root), else as the current user, in a fresh folder
under /tmp, listening on 127.0.0.1 only, with password authentication over TCP; it is stopped at the end.
``pg_url`` gives each test a database of its own (created, then dropped). Tests skip only when the
binaries are absent; ``make test`` installs them first (``runner.py bootstrap`` / scripts/bootstrap.sh).

Modules use them by importing the fixtures (``from tests.pg_fixtures import postgres_server, pg_url``).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import free_port

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


def start_postgres() -> PostgresServer:
    """A new, running cluster (the caller stops it and removes ``folder``)."""
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; make test installs it)")
    run_as = None
    if os.geteuid() == 0:
        try:
            run_as = pwd.getpwnam("postgres").pw_name
        except KeyError:
            pytest.skip("no unprivileged 'postgres' user to run PostgreSQL as (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="opskit-pg-"))
    server = PostgresServer(bin=binaries, folder=folder, port=free_port(), run_as=run_as)
    try:
        server.init()
        server.start()
    except BaseException:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL (with its password) to a fresh, empty database of its own."""
    if not postgres_server.running():
        postgres_server.start()
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    deadline = time.monotonic() + 10
    while True:
        try:
            postgres_server.drop_database(name)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
