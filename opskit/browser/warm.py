"""The scheduler's warm browser: one Chromium that the scheduler's runs connect to, instead of each starting
its own.

Starting Playwright's driver and a Chromium costs every browser run about 1.5 s and ~0.5 GB. The scheduler
(through its executor, opskit/engine/executors/warm.py) keeps one browser server running instead: Playwright's
own ``launch-server`` (its Node driver, started by hand), which runs Chromium with ``--remote-debugging-pipe``
(no debugging port open to the machine) and listens on 127.0.0.1 at a random secret path. The endpoint is
written to ``<var>/browser/warm.json`` (mode 0600, folder 0700): only the user running opskit can read it.

- Each run connects (``connect``) and gets a new browser context: its own cookies, storage and cache, as
  private as a browser of its own. When the run's process ends, however it ends, the server closes the
  contexts of its connection.
- The server is replaced when it died, and when its processes use more than ``memory_cap`` MiB (the new
  one takes new runs; the old one is stopped once its last run has disconnected). It is stopped after
  ``idle_stop`` without a run, and when the scheduler stops.
- A run that cannot connect (the server is restarting, or gone) starts a browser of its own, as a run by
  hand always does; nothing fails for want of the warm browser.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.browser.chromium import INSTALL_HINT, BrowserMissing, headless_shell, system_chromium
from opskit.files import atomic_write, private_dir

log = logging.getLogger(__name__)

ENDPOINT_FILE = "warm.json"
WANTED_FILE = "warm.wanted"
"""Left beside the endpoint file by a run that found no warm browser: the scheduler starts one then."""
START_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_MS = 10_000


def endpoint_path(var_dir: Path) -> Path:
    return var_dir / "browser" / ENDPOINT_FILE


def connect(pw: Any, endpoint_file: Path) -> Any | None:
    """A browser connected to the warm server named in ``endpoint_file``; None (logged) if there is none,
    and then the scheduler is told a run wanted one (``warm.wanted``)."""
    try:
        info = json.loads(endpoint_file.read_text(encoding="utf-8"))
        browser = pw.chromium.connect(info["ws"], timeout=CONNECT_TIMEOUT_MS)
        log.info("connected to the warm browser (pid %s)", info.get("pid"))
        return browser
    except FileNotFoundError:
        log.info("no warm browser is running yet; this run starts its own")
    except Exception as exc:  # noqa: BLE001 - a bad file or a server that just died: start our own
        log.warning("the warm browser did not answer (%s); this run starts its own", str(exc).splitlines()[0])
    try:
        private_dir(endpoint_file.parent)
        endpoint_file.with_name(WANTED_FILE).touch()
    except OSError:
        pass
    return None


def driver_command() -> list[str]:
    """Playwright's Node driver: ``[node, cli.js]`` of the installed ``playwright`` package."""
    try:
        from playwright._impl._driver import compute_driver_executable

        node, cli = compute_driver_executable()
        return [str(node), str(cli)]
    except Exception:  # the private helper moved: the driver's usual place
        import playwright

        driver = Path(playwright.__file__).resolve().parent / "driver"
        return [str(driver / "node"), str(driver / "package" / "cli.js")]


def executable() -> str | None:
    """The Chromium to serve (always headless): $OPSKIT_CHROMIUM_HEADLESS, $OPSKIT_CHROMIUM, Playwright's own
    if installed, else a system headless shell or Chromium (chromium.py says why a shell)."""

    if os.environ.get("OPSKIT_CHROMIUM_HEADLESS"):
        return str(headless_shell())
    if os.environ.get("OPSKIT_CHROMIUM"):
        return str(system_chromium())
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    bundled = sorted(cache.glob("chromium-*/chrome-linux*/chrome"))
    if bundled:
        return None  # the server's default is Playwright's own
    shell = headless_shell()
    if shell is not None:
        return str(shell)
    system = system_chromium()
    if system is None:
        raise BrowserMissing("no Chromium found for Playwright", hint=INSTALL_HINT)
    return str(system)


@dataclass
class Server:
    """One running browser server."""

    proc: subprocess.Popen[bytes]
    ws: str
    started: float

    @property
    def port(self) -> int:
        return int(self.ws.rsplit(":", 1)[1].split("/", 1)[0])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def memory_mb(self) -> float:
        """Proportional memory (PSS, else RSS) of the server and its browser processes, in MiB."""
        import psutil

        total = 0
        try:
            root = psutil.Process(self.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                try:
                    info = p.memory_full_info()
                    total += getattr(info, "pss", 0) or info.rss
                except psutil.Error:
                    continue
        except psutil.Error:
            return 0.0
        return total / 2**20

    def clients(self) -> int:
        """Runs connected now (established connections to its port)."""
        import psutil

        try:
            conns = psutil.Process(self.proc.pid).net_connections(kind="tcp")
        except psutil.Error:
            return 0
        return sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port)

    def stop(self) -> None:
        """Stop the server and its browser (they run in a session of their own: one signal reaches all)."""
        _signal(self.proc, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _signal(self.proc, signal.SIGKILL)
            self.proc.wait()
        _signal(self.proc, signal.SIGKILL)  # a browser process left behind by the server


class WarmBrowser:
    """Keeps one browser server running for the scheduler's runs (see the module docstring).

    Thread-safe: the scheduler's loop asks ``ensure`` (it never waits for a start), a maintenance thread
    calls ``maintain``. Starting a server happens outside the lock, so the loop is never held up by it.

    Args:
        var_dir: The config's ``paths.var``; the endpoint file goes in ``browser/`` there.
        memory_cap: Replace the server when its processes use more than this many MiB.
        idle_stop: Seconds without a run after which the server is stopped.
    """

    def __init__(self, var_dir: Path, *, memory_cap: float = 1536, idle_stop: float = 1800):
        self.var_dir = var_dir
        self.memory_cap, self.idle_stop = memory_cap, idle_stop
        self.endpoint = endpoint_path(var_dir)
        self.wanted_file = self.endpoint.with_name(WANTED_FILE)
        self.server: Server | None = None
        self.retired: list[Server] = []
        self.restarts = 0
        self._lock = threading.RLock()
        self._last_use = time.monotonic()
        self._starting: threading.Thread | None = None
        self._closed = False
        self._idle_since = 0.0

    def wanted(self) -> bool:
        """Whether a run has asked for a warm browser since it was last stopped for idleness (one is started
        only then, so a scheduler whose jobs never open a browser never has one)."""
        try:
            return self.wanted_file.stat().st_mtime > self._idle_since
        except OSError:
            return False

    def stop_stale(self) -> None:
        """Stop a server an earlier scheduler left running (it was killed before it could stop it)."""
        import psutil

        try:
            pid = int(json.loads(self.endpoint.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        try:
            if "launch-server" in " ".join(psutil.Process(pid).cmdline()):
                log.info("stopping the warm browser (pid %d) an earlier scheduler left running", pid)
                os.killpg(pid, signal.SIGKILL)
        except (psutil.Error, ProcessLookupError, PermissionError):
            pass
        self.endpoint.unlink(missing_ok=True)

    def ensure(self, *, wait: bool = False, use: bool = True) -> Path | None:
        """The endpoint file when the server is ready; else None, and it is (re)started in the background.

        Args:
            wait: Start it in this thread and wait until it is ready (a benchmark, a test).
            use: A run is about to use it (what ``idle_stop`` counts from).
        """
        with self._lock:
            self._closed = False
            if use:
                self._last_use = time.monotonic()
            self._check()
            if self.server is not None:
                return self.endpoint
            if not wait:
                if self._starting is None or not self._starting.is_alive():
                    self._starting = threading.Thread(target=self._start_quietly, name="warm-browser", daemon=True)
                    self._starting.start()
                return None
        self._install(self._spawn())
        return self.endpoint if self.server is not None else None

    def maintain(self) -> None:
        """Replace a dead or bloated server, stop retired ones without runs, stop an idle one."""
        with self._lock:
            self._check()
            if self.server is not None and time.monotonic() - self._last_use > self.idle_stop:
                if not self.server.clients():
                    log.info("stopping the warm browser: no run for %.0fs", self.idle_stop)
                    self._retire(self.server)
                    self.server = None
                    self._idle_since = time.time()
                    self._check()

    def stop(self) -> None:
        """Stop every server and remove the endpoint file (the scheduler is stopping)."""
        with self._lock:
            self._closed = True
            for server in [*self.retired, *([self.server] if self.server else [])]:
                server.stop()
            self.server, self.retired = None, []
            self.endpoint.unlink(missing_ok=True)
        if self._starting is not None:
            self._starting.join(timeout=START_TIMEOUT_S)

    def _check(self) -> None:
        server = self.server
        if server is not None and not server.alive():
            log.warning(
                "the warm browser (pid %d) exited with %s; starting another", server.proc.pid, server.proc.returncode
            )
            self.server = None
            self.endpoint.unlink(missing_ok=True)
            self.restarts += 1
        elif server is not None:
            used = server.memory_mb()
            if used > self.memory_cap:
                log.warning("the warm browser uses %.0f MiB (cap %.0f): replacing it", used, self.memory_cap)
                self._retire(server)
                self.server = None
                self.restarts += 1
        for old in list(self.retired):
            if not old.alive() or not old.clients():
                old.stop()
                self.retired.remove(old)

    def _retire(self, server: Server) -> None:
        self.endpoint.unlink(missing_ok=True)
        self.retired.append(server)

    def _start_quietly(self) -> None:
        try:
            self._install(self._spawn())
        except Exception as exc:  # noqa: BLE001 - runs start their own browsers meanwhile
            log.warning("could not start the warm browser: %s", exc)

    def _install(self, server: Server) -> None:
        """Make a new server the current one, unless one is already (or the browser was stopped meanwhile)."""
        with self._lock:
            if self.server is None and not self._closed:
                self.server = server
                atomic_write(
                    self.endpoint, json.dumps({"ws": server.ws, "pid": server.proc.pid, "started": server.started})
                )
                return
        server.stop()

    def _spawn(self) -> Server:
        """Start a browser server (Playwright's ``launch-server``) and wait for its endpoint."""
        token = secrets.token_urlsafe(24)
        options: dict[str, Any] = {"headless": True, "wsPath": f"/{token}", "host": "127.0.0.1", "port": 0}
        path = executable()
        if path:
            options["executablePath"] = path
        folder = private_dir(self.var_dir / "browser")
        fd, config = tempfile.mkstemp(prefix=".warm-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w") as out:
            json.dump(options, out)
        env = dict(os.environ)
        env.setdefault("NODE_COMPILE_CACHE", str(private_dir(folder / "node-cache")))
        started = time.monotonic()
        output = folder / "warm.log"  # a file, not a pipe: nothing blocks on output nobody reads
        with open(output, "wb") as out:
            os.chmod(output, 0o600)
            proc = subprocess.Popen(
                [*driver_command(), "launch-server", "--browser", "chromium", "--config", config],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # Ctrl-C in the scheduler's terminal is the scheduler's to handle
            )
        try:
            ws = _endpoint(proc, output, START_TIMEOUT_S)
        finally:
            os.unlink(config)
        if not ws.startswith("ws://"):
            _signal(proc, signal.SIGKILL)
            proc.wait()
            raise RuntimeError(f"the browser server did not start: {ws or 'no endpoint'} (see {output})")
        log.info("warm browser ready in %.1fs (pid %d)", time.monotonic() - started, proc.pid)
        return Server(proc, ws, time.time())


def _endpoint(proc: subprocess.Popen[bytes], output: Path, timeout: float) -> str:
    """The server's first line of output (its ws:// endpoint), or what it said before it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = output.read_text(encoding="utf-8", errors="replace")
        if "\n" in text:
            return text.splitlines()[0].strip()
        if proc.poll() is not None:
            return text.strip()[-300:] or f"exit code {proc.returncode}"
        time.sleep(0.02)
    return ""


def _signal(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
