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
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="opskit-web", daemon=True)

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        """waitress's loop, ended from inside: sockets closed by another thread while this one is in select()
        fail it with EBADF, so the loop is woken (``stop``), leaves, and closes everything itself."""
        from waitress import wasyncore

        server: Any = self._server
        while not self._stopping.is_set():
            wasyncore.loop(timeout=1.0, map=server._map, count=1)
        server.close()  # no new connections
        for channel in list(server._map.values()):  # open ones (keep-alive, live logs) end their requests
            if channel is not server.trigger:
                channel.close()
        server.task_dispatcher.shutdown(timeout=10)  # their threads may still pull the trigger: it goes last
        wasyncore.close_all(server._map)

    def stop(self) -> None:
        """Close the listening socket and every open connection (keep-alive ones too), then the threads."""
        self._stopping.set()
        try:  # wake the loop now rather than at its next select timeout
            self._server.pull_trigger()  # type: ignore[union-attr]
        except OSError:  # the loop saw the flag first and has closed everything, the trigger too
            pass
        self._thread.join(timeout=20)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
