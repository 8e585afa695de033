"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, STARTTLS or implicit TLS, AUTH required).

Shared by tests/delivery/ (its conftest imports these fixtures) and the job-level delivery tests
(tests/test_notify.py, through ``pytest_plugins``).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import warnings
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from opskit.config.email import EmailSettings

SMTP_USER = "ops-bot"
SMTP_PASSWORD = "s3cret-Pa55word!"

# aiosmtpd 1.4.6 itself sets the deprecated Session.login_data on every successful AUTH, and
# warns on every implicit-TLS connection that AUTH does not "require" (STARTTLS) TLS.
AIOSMTPD_WARNINGS = (
    "ignore:Session.login_data is deprecated:DeprecationWarning",
    "ignore:Requiring AUTH while not requiring TLS:UserWarning",
)


def ignore_aiosmtpd_warnings(items) -> None:
    """Mark items to ignore the warnings above (call from ``pytest_collection_modifyitems``)."""
    for item in items:
        for spec in AIOSMTPD_WARNINGS:
            item.add_marker(pytest.mark.filterwarnings(spec))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and AUTH; ``received`` is what it accepted."""

    port: int
    tls_cert: tuple[Path, Path]
    implicit_tls: bool = False
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    data_reply: str | None = None  # e.g. "552 too big" to refuse at DATA
    _controller: object = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                if server.data_reply:
                    return server.data_reply
                server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                return "250 OK queued"

        def authenticator(smtp, session, envelope, mechanism, auth_data):
            ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
            server.logins.append(f"{auth_data.login.decode()}:{'ok' if ok else 'refused'}")
            return AuthResult(success=ok, handled=False)

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*map(str, self.tls_cert))
        kwargs = dict(authenticator=authenticator, auth_required=True)
        if self.implicit_tls:
            kwargs["ssl_context"] = ctx
            kwargs["auth_require_tls"] = False  # the whole connection is TLS
        else:
            kwargs.update(tls_context=ctx, require_starttls=True)
        with warnings.catch_warnings():
            # implicit TLS: aiosmtpd only counts STARTTLS as TLS, so AUTH must not "require" it
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, outbox_dir: Path, **overrides) -> EmailSettings:
        values = dict(
            backend="smtp",
            outbox_dir=outbox_dir,
            sender="Ops Reports <reports@example.com>",
            host="127.0.0.1",
            port=self.port,
            security="tls" if self.implicit_tls else "starttls",
            username_env="TEST_SMTP_USER",
            password_env="TEST_SMTP_PASSWORD",
            tls_ca_file=self.tls_cert[0],
            timeout_s=5,
        )
        values.update(overrides)
        return EmailSettings(**values)

    def config_yaml(self, indent: str = "  ") -> str:
        """The ``email:`` block of a config.yaml that sends through this server (login from env)."""
        lines = [
            "email:",
            "backend: smtp",
            "host: 127.0.0.1",
            f"port: {self.port}",
            f"security: {'tls' if self.implicit_tls else 'starttls'}",
            "username_env: TEST_SMTP_USER",
            "password_env: TEST_SMTP_PASSWORD",
            f"tls_ca_file: {self.tls_cert[0]}",
            "sender: Ops Reports <reports@example.com>",
            "timeout_s: 5",
        ]
        return "\n".join([lines[0], *(indent + line for line in lines[1:])]) + "\n"


@pytest.fixture
def smtp_env(monkeypatch):
    monkeypatch.setenv("TEST_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)


@pytest.fixture
def smtp(tls_cert, smtp_env):
    """A running STARTTLS + AUTH server; stopped by the fixture."""
    server = SmtpServer(free_port(), tls_cert)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_stopped(tls_cert, smtp_env):
    """A server not running yet (its port is reserved by number only); start() it in the test."""
    server = SmtpServer(free_port(), tls_cert)
    yield server
    server.stop()


class MisbehavingSmtp:
    """A bare SMTP server on 127.0.0.1 that misbehaves on purpose, one way per instance (``mode``):

    - ``mute``: accepts the TCP connection and never says a word (not even its greeting);
    - ``drop_after_data_command``: takes the envelope, reads DATA and hangs up before answering 354;
    - ``drop_mid_message``: answers 354, reads a little of the message and hangs up with the rest unread
      (its system then resets the connection): it never sees the final dot;
    - ``drop_after_message``: reads the whole message, final dot included, and hangs up without answering;
    - ``silent_after_message``: reads the whole message and never answers.

    It serves connection after connection until stopped. ``messages`` holds every message it read to the
    final dot (what a real server could have queued); ``open`` counts the connections open right now.
    """

    def __init__(self, mode: str):
        import threading

        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.open = 0
        self.messages: list[bytes] = []
        self.dropped = threading.Event()
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import threading

        while not self._stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.open += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        try:
            if self.mode == "mute":
                with self._lock:
                    self._held.append(conn)
                conn.recv(1)  # until the client gives up (or the server stops)
                return
            f = conn.makefile("rb", buffering=0)
            conn.sendall(b"220 misbehaving ESMTP\r\n")
            while line := f.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 misbehaving\r\n")
                elif verb == b"DATA":
                    if self.mode == "drop_after_data_command":
                        return
                    conn.sendall(b"354 go ahead\r\n")
                    if self.mode == "drop_mid_message":
                        f.read(64)  # a little of it; the rest stays unread
                        return
                    message = b""
                    while (body := f.readline()) and body != b".\r\n":
                        message += body
                    with self._lock:
                        self.messages.append(message)
                    if self.mode == "silent_after_message":
                        f.readline()  # until the client gives up
                    return
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 OK\r\n")
        except OSError:
            pass
        finally:
            self.dropped.set()
            with self._lock:
                self.open -= 1
            conn.close()

    def message_ids(self) -> list[str]:
        parsed = [BytesParser(policy=policy.default).parsebytes(m) for m in self.messages]
        return [str(m["Message-ID"]) for m in parsed]

    def stop(self) -> None:
        self._stopping.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout=5)


@pytest.fixture
def misbehaving_smtp():
    """``misbehaving_smtp("mute")`` starts a ``MisbehavingSmtp``; every one is stopped by the fixture."""
    servers: list[MisbehavingSmtp] = []

    def start(mode: str) -> MisbehavingSmtp:
        server = MisbehavingSmtp(mode)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
