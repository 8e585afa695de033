"""Serving the web app with waitress, a production WSGI server in pure Python (no C build, fine as root).

``serve`` runs in the foreground for ``runner.py web``; ``WebServer`` runs it in a thread on a given port
for tests and benchmarks, and stops it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from opskit.errors import UsageError

log = logging.getLogger(__name__)


def make_server(config_path: Path, *, host: str, port: int, threads: int | None = None) -> Any:
    """The app behind a waitress server listening on ``host:port``; ``server.run()`` serves until Ctrl-C.

    Raises:
        UsageError: the address cannot be bound (the port is taken, the host is not this machine's).
    """
    import waitress

    from opskit.web.app import create_app  # on use: Flask loads only to serve

    app = create_app(config_path)
    threads = threads or app.extensions["opskit"].config.settings.web.threads
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" lines are noise here
    try:
        server = waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="opskit",
            channel_timeout=60,
            clear_untrusted_proxy_headers=False,  # opskit believes X-Forwarded-* only from web.trusted_proxies
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="Pick another --port") from None
    return server


def serve_forever(server: Any) -> None:
    """Serve until Ctrl-C (SIGTERM ends the process: the app holds no state that needs a goodbye)."""
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


class WebServer:
    """The app on 127.0.0.1 in a background thread: ``with WebServer(config) as web: web.url``."""

    def __init__(self, config_path: Path, *, port: int = 0, threads: int = 16):
        from waitress.server import create_server

        from opskit.web.app import create_app  # on use: Flask loads only to serve

        self.app: Any = create_app(config_path)
        self._server = create_server(
            self.app, host="127.0.0.1", port=port, threads=threads, ident="opskit", clear_untrusted_proxy_headers=False
        )
        self.port = self._server.effective_port  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.run, name="opskit-web", daemon=True)

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection (keep-alive ones too), then the threads."""
        from waitress import wasyncore

        server: Any = self._server

        def close_everything() -> None:
            server.close()
            wasyncore.close_all(server._map)

        if self._thread.is_alive():
            # Closed in the server's own thread (a trigger runs it there): closing sockets from this thread
            # while that one waits in select() on them made it fail with EBADF now and then.
            server.trigger.pull_trigger(close_everything)
            self._thread.join(timeout=10)
        if server._map:
            close_everything()
        server.task_dispatcher.shutdown()
        self._thread.join(timeout=10)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
