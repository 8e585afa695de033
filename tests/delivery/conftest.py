"""Real local servers for the delivery tests: SMTP (aiosmtpd, STARTTLS + AUTH) and HTTP webhooks."""

from __future__ import annotations

from pathlib import Path

import pytest

# The SMTP server and its fixtures live in tests/smtp_fixtures.py, shared with tests/test_notify.py;
# importing the fixtures here makes them available to every test in this folder.
from tests.smtp_fixtures import (  # noqa: F401
    SMTP_PASSWORD,
    SMTP_USER,
    MisbehavingSmtp,
    Received,
    SmtpServer,
    free_port,
    ignore_aiosmtpd_warnings,
    misbehaving_smtp,
    smtp,
    smtp_env,
    smtp_stopped,
    tls_cert,
)


def pytest_collection_modifyitems(items):
    ignore_aiosmtpd_warnings(items)


@pytest.fixture
def workbook(tmp_path) -> Path:
    """A small real workbook with a non-ASCII file name."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(["queue", "completed", "aht_s"])
    ws.append(["DE comments", 1204, 61.5])
    ws.append(["BR search", 988, 71.0])
    path = tmp_path / "files" / "Wochenbericht_Größe_周报.xlsx"
    path.parent.mkdir()
    wb.save(path)
    return path


@pytest.fixture
def dropping_server():
    """An SMTP server that hangs up in the middle of the message (it never reads the final dot)."""
    server = MisbehavingSmtp("drop_mid_message")
    yield server
    server.stop()


@pytest.fixture
def silent_server():
    """An SMTP server that reads the whole message and never answers."""
    server = MisbehavingSmtp("silent_after_message")
    yield server
    server.stop()
