"""Real local servers for the delivery tests: SMTP (aiosmtpd, STARTTLS + AUTH) and HTTP webhooks."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

# The SMTP server and its fixtures live in tests/smtp_fixtures.py, shared with tests/test_notify.py;
# importing the fixtures here makes them available to every test in this folder.
from tests.smtp_fixtures import (  # noqa: F401
    SMTP_PASSWORD,
    SMTP_USER,
    Received,
    SmtpServer,
    free_port,
    ignore_aiosmtpd_warnings,
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


class DroppingServer:
    """A bare SMTP server that takes the envelope, starts DATA, reads part of the body and hangs up."""

    def __init__(self, port: int, *, silent_after_data: bool = False):
        import threading

        self.port, self.silent_after_data = port, silent_after_data
        self.listener = socket.create_server(("127.0.0.1", port))
        self.dropped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            f = conn.makefile("rb")
            conn.sendall(b"220 dropper ESMTP\r\n")
            while line := f.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 dropper\r\n")
                elif verb in (b"MAIL", b"RCPT"):
                    conn.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    if self.silent_after_data:  # read the whole message, then never answer
                        while (body := f.readline()) and body != b".\r\n":
                            pass
                        self.dropped.set()
                        f.readline()  # wait for the client to give up
                        break
                    f.readline()  # the first line of the message, then hang up mid-send
                    break
                else:
                    conn.sendall(b"250 OK\r\n")
        self.dropped.set()

    def stop(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.fixture
def dropping_server():
    server = DroppingServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def silent_server():
    server = DroppingServer(free_port(), silent_after_data=True)
    yield server
    server.stop()
