"""The cluster tests: a real PostgreSQL per session (tests/pg_fixtures.py); every test here is ``cluster``."""

from __future__ import annotations

import pytest

from tests.pg_fixtures import pg_url, postgres_server  # noqa: F401 (fixtures)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.cluster)
