"""A real PostgreSQL for the tests: Debian's binaries, an unprivileged user, a temp folder, a free port.

``postgres_server`` (one per test session) runs ``initdb`` and ``pg_ctl`` as the ``postgres`` system user
when the tests run as root (PostgreSQL refuses to run as root), else as the current user, in a fresh folder
under /tmp, listening on 127.0.0.1 only, with password authentication over TCP; it is stopped at the end.
``pg_url`` gives each test a database of its own (created, then dropped). Tests skip only when the
binaries are absent; ``make test`` installs them first (``runner.py bootstrap`` / scripts/bootstrap.sh).

Modules use them by importing the fixtures (``from tests.pg_fixtures import postgres_server, pg_url``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.postgres_server import PostgresServer, postgres_bin
from tests.conftest import free_port


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
