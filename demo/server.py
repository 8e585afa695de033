"""Run the Moderation Console: in a background thread for tests (``ConsoleServer``), or in the
foreground for people (``main``, behind ``python runner.py console`` and ``python -m demo.server``).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from types import TracebackType

from werkzeug.serving import WSGIRequestHandler, make_server

from demo.app import create_app
from demo.settings import ConsoleSettings


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):  # tests need no access log on stderr
        pass


class ConsoleServer:
    """The console on 127.0.0.1 on a free port, served by a thread; a context manager.

    >>> with ConsoleServer("data/console.db", alt_layout=True) as server:
    ...     requests.get(server.url + "/login")

    Args:
        db_path: A database written by ``demo.generate``.
        port: 0 picks a free port.
        use_env: Read ``CONSOLE_*`` variables first (credentials, switches); overrides still win.
        quiet: No access log lines on stderr.
        **overrides: ConsoleSettings fields, e.g. ``latency_ms=200``, ``otp="123456"``.
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        use_env: bool = True,
        quiet: bool = True,
        **overrides: object,
    ):
        self.db_path = Path(db_path)
        base = ConsoleSettings.from_env() if use_env else ConsoleSettings()
        self.settings = base.with_overrides(overrides)
        self.app = create_app(self.db_path, self.settings)
        handler = _QuietHandler if quiet else None
        self._server = make_server(host, port, self.app, threaded=True, request_handler=handler)
        self.host, self.port = host, self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def username(self) -> str:
        return self.settings.username

    @property
    def password(self) -> str:
        return self.settings.password

    @property
    def api_token(self) -> str:
        return self.settings.api_token

    @property
    def exports(self):
        """The export job manager (``wait(job_id, timeout)`` lets tests wait without sleeping)."""
        return self.app.extensions["console"].exports

    def start(self) -> ConsoleServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # a quick shutdown() name="console-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wait for running exports."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()
        self.exports.wait_all(timeout=30)
        self.app.extensions["console"].close()

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Generate a data set into ``--data-dir`` if there is none, then serve until Ctrl-C."""
    from demo.generate import generate  # numpy: only when the console is started from the command line

    parser = argparse.ArgumentParser(prog="python -m demo.server", description=main.__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="folder for console.db")
    parser.add_argument("--scale", type=int, default=50_000, help="cases to generate if needed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--regenerate", action="store_true", help="write a fresh data set first")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    args = parser.parse_args(argv)
    db_path = args.data_dir / "console.db"
    if args.regenerate or not db_path.exists():
        print(f"generating {args.scale:,} cases into {db_path} ...", flush=True)
        summary = generate(db_path, seed=args.seed, scale=args.scale)
        print(f"  {summary.cases:,} cases, {summary.start}..{summary.end} in {summary.seconds:.1f}s")
    server = ConsoleServer(db_path, host=args.host, port=args.port, quiet=False)
    s = server.settings
    print(f"Moderation Console at {server.url}/login")
    print(f"  user: {s.username}  password: {s.password}  API token: {s.api_token}")
    if s.otp_enabled:
        print("  one-time code: from CONSOLE_OTP" + (f" / {s.otp_file}" if s.otp_file else ""))
    print("Ctrl-C to stop.", flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
