"""A pytest plugin for task authors: run a task as a real run would, against real local servers.

Enable it in a ``conftest.py`` (or a test module)::

    pytest_plugins = ["opskit.testing"]

or on the command line with ``pytest -p opskit.testing``. Its fixtures:

``opskit_context(task="task", *, job=None, params=None, scheduled_for=None, tz=None, sources=None,
data_dir=None, options=None) -> RunContext``
    A factory of real RunContexts: a run folder with a ``run.log`` in ``tmp_path``, ``data_dir``,
    ``state_dir``, a logger whose secrets are redacted, ``sources`` (SourceConfig, a URL, a dict of
    SourceConfig fields, or the ``opskit_console`` server).
``opskit_run(task, /, *, ctx=None, **params) -> Result``
    Run a task by name (from the project's tasks folder) or by function: the parameters are
    validated and converted through the registry exactly as ``runner.py run`` does (a bad value
    raises the same ``ParamError``), then the task runs in-process with ``ctx`` (default: a fresh
    ``opskit_context(task)``), and its temporary files are cleaned up as in a real run.
``opskit_console -> demo.server.ConsoleServer``
    The Moderation Console on a free port of 127.0.0.1 over a small generated database (one per
    session; the data cover 2026-10-19 to 2026-11-15). ``CONSOLE_USER``, ``CONSOLE_PASSWORD``,
    ``CONSOLE_API_TOKEN`` and ``CONSOLE_URL`` are set for the test and restored after it.
``opskit_smtp -> SmtpServer``
    A real SMTP server (aiosmtpd, no TLS, no login) that keeps every message it accepts.
``opskit_site(folder) -> str``
    Serves a folder of static files (a stand-in for a web app: HTML and plain JavaScript) on a free
    port of 127.0.0.1 and returns its URL; stopped after the test. ``runner.py new --kind browser``
    writes such a site beside the task's test.
``opskit_source(name, **overrides) -> SourceConfig``
    A source of the project's config.yaml, its ``${VAR}``s filled from the environment (monkeypatch
    them), validated, with ``overrides`` on top: ``opskit_source("desk", url=opskit_site(SITE))``.
``opskit_config_path -> Path | None``
    The config.yaml whose ``paths.tasks``, ``timezone`` and ``sources`` the fixtures use: the nearest
    one above the test file. Override this fixture in a conftest.py to choose another.

The plugin also registers the ``browser`` and ``slow`` markers, and marks every test that uses
``opskit_site`` as ``browser``.

Runs are "scheduled for" ``DEFAULT_SCHEDULED_FOR`` (Monday 2026-11-16 07:00 UTC) unless a test says
otherwise, so ``period="yesterday"`` is a day the console's data cover, and a test never depends on
the wall clock. Imports are deferred to the fixtures, so enabling the plugin costs nothing.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from opskit.config.email import EmailSettings
    from opskit.config.model import SourceConfig
    from opskit.context import Result, RunContext
    from opskit.tasks import Registry, TaskSpec

DEFAULT_SCHEDULED_FOR = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
CONSOLE_START, CONSOLE_DAYS, CONSOLE_SCALE = date(2026, 10, 19), 28, 3000

# One registry per tasks folder and per version of its files: re-importing every task for every
# test would cost more than the tests.
_registries: dict[tuple[Path, tuple[tuple[str, int], ...]], Registry] = {}


def find_config(start: Path) -> Path | None:
    """The nearest config.yaml in ``start`` or a folder above it."""
    for folder in (start, *start.parents):
        if (folder / "config.yaml").is_file():
            return folder / "config.yaml"
    return None


def load_registry(tasks_dir: Path) -> Registry:
    """The tasks of ``tasks_dir``, imported once for as long as their files do not change."""
    from opskit.tasks import discover  # on use: enabling the plugin stays light

    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in tasks_dir.glob("*.py")))
    key = (tasks_dir.resolve(), stamp)
    if key not in _registries:
        _registries[key] = discover(tasks_dir)
    return _registries[key]


class ContextFactory:
    """Makes RunContexts in a test's ``tmp_path``; the ``opskit_context`` fixture is one."""

    def __init__(self, root: Path, config_path: Path | None):
        self.root = root
        self.config_path = config_path
        self._numbers = itertools.count(1)
        self._undo: list[Callable[[], None]] = []
        self._raw: Any = None

    # ------------------------------------------------------------------------- the project

    @property
    def _config(self) -> Any:
        if self._raw is None and self.config_path is not None:
            from opskit.config.file import read_config_file  # on use: enabling the plugin stays light

            self._raw = read_config_file(self.config_path, interpolate=False)
        return self._raw

    @property
    def tasks_dir(self) -> Path:
        """The project's tasks folder (``paths.tasks`` of config.yaml).

        Raises:
            UsageError: there is no config.yaml above the test, so no tasks folder to look in.
        """
        if self._config is None:
            from opskit.errors import UsageError  # on use: enabling the plugin stays light

            raise UsageError(
                "no config.yaml above the test, so no tasks folder to find tasks in",
                hint="Override the opskit_config_path fixture, or pass the task function",
            )
        return Path(self._config.path_setting("tasks"))

    @property
    def timezone(self) -> str:
        """The config's top-level ``timezone`` (UTC when there is none)."""
        value = self._config.data.get("timezone") if self._config is not None else None
        return str(value or "UTC")

    def spec(self, task: str | Callable[..., Any] | TaskSpec) -> TaskSpec:
        """The TaskSpec of a task name (from the tasks folder), a @task function, or a spec.

        Raises:
            UsageError: an unknown or broken task name, with a "did you mean" hint.
            TypeError: a function that is not marked with ``@task``.
        """
        from opskit.tasks import TaskSpec  # on use: enabling the plugin stays light

        if isinstance(task, TaskSpec):
            return task
        if isinstance(task, str):
            return load_registry(self.tasks_dir).get(task)
        spec = getattr(task, "_opskit_task", None)
        if spec is None:
            raise TypeError(f"{task!r} is not an opskit task (mark it with @task)")
        return spec  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------- contexts

    def __call__(
        self,
        task: str = "task",
        *,
        job: str | None = None,
        params: Mapping[str, Any] | None = None,
        scheduled_for: datetime | None = None,
        tz: str | Any = None,
        sources: Mapping[str, Any] | None = None,
        data_dir: Path | None = None,
        options: Mapping[str, Any] | None = None,
        vendor_reports: Mapping[str, Any] | Any = None,
    ) -> RunContext:
        """A real RunContext for ``task``, its folders in the test's tmp_path.

        Args:
            task: The task's name.
            job: The job's name (``ctx.job``); None is a bare task run.
            params: The run's parameters, stored in ``ctx.params``; when the project has the task,
                they are validated through its signature (strings convert as from ``--param``).
            scheduled_for: The slot the run is for; ``DEFAULT_SCHEDULED_FOR`` by default.
            tz: The job's timezone (a name or a ZoneInfo); the config's timezone by default.
            sources: Sources by name: a SourceConfig, a URL, a dict of SourceConfig fields, or the
                ``opskit_console`` server (its API token and login are read from ``CONSOLE_*``).
            data_dir: The shared data folder; ``tmp_path/data`` by default.
            options: Run options (``headed``, ``slowmo``).
            vendor_reports: The ``vendor_reports:`` section (a dict or ``VendorReports``); by default the
                project config.yaml's, validated as when it loads.
        """
        from zoneinfo import ZoneInfo

        from opskit.context import LOG_FORMAT, RunContext  # on use: enabling the plugin stays light
        from opskit.redact import Redactor  # on use: enabling the plugin stays light

        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz or self.timezone))
        when = scheduled_for or DEFAULT_SCHEDULED_FOR
        if when.tzinfo is None:
            raise ValueError(f"scheduled_for must be an aware datetime, not {when!r}")
        values = dict(params or {})
        spec: TaskSpec | None = None
        if params is not None and self._config is not None:
            spec = load_registry(self.tasks_dir).tasks.get(task)
        data = data_dir or self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        if spec is not None:
            values = spec.validate(values, tz=zone, scheduled_for=when, **_test_data_context(data))
        run_id = f"test-{next(self._numbers)}"
        folder = self.root / "runs" / run_id
        folder.mkdir(parents=True, mode=0o700)
        redactor = Redactor()
        log = self._logger(f"opskit.task.{task}.{run_id}", folder / "run.log", redactor, LOG_FORMAT)
        return RunContext(
            run_id=run_id,
            job=job,
            task=task,
            params=values,
            scheduled_for=when,
            tz=zone,
            folder=folder,
            data_dir=data,
            sources={k: as_source(v) for k, v in (sources or {}).items()},
            state_dir=self.root / "var" / "state",
            log=log,
            redactor=redactor,
            options=dict(options or {}),
            vendor_reports=self._vendor_reports(vendor_reports),
        )

    def _vendor_reports(self, given: Any) -> Any:
        """``given`` (or the project's ``vendor_reports:``) as a VendorReports; None when neither exists."""
        from opskit.config.vendors import VendorReports  # pydantic: only when a context is made

        if isinstance(given, VendorReports):
            return given
        if given is None and self._config is not None:
            given = self._config.data.get("vendor_reports")
        return None if given is None else VendorReports.model_validate(given)

    def _logger(self, name: str, path: Path, redactor: Any, fmt: str) -> logging.Logger:
        """The context's logger: INFO and up to ``run.log`` and to caplog, secrets redacted."""
        logger = logging.getLogger(name)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(fmt))
        logger.addHandler(handler)
        logger.addFilter(redactor)  # on the logger, so caplog sees the redacted text too
        previous = logger.level
        logger.setLevel(logging.INFO)

        def undo() -> None:
            logger.removeHandler(handler)
            logger.removeFilter(redactor)
            logger.setLevel(previous)
            handler.close()

        self._undo.append(undo)
        return logger

    def run(
        self, task: str | Callable[..., Any] | TaskSpec, /, *, ctx: RunContext | None = None, **params: Any
    ) -> Result:
        """Validate ``params`` like a real run, call the task with ``ctx``, and return its Result.

        Raises:
            ParamError: a parameter is unknown, missing or does not convert (as ``runner.py run``).
            Whatever the task raises (DataError, SourceUnavailable, ...).
        """
        from opskit.context import Result  # on use: enabling the plugin stays light

        spec = self.spec(task)
        ctx = ctx or self(spec.name)
        values = spec.validate(params, tz=ctx.tz, scheduled_for=ctx.scheduled_for, **_test_data_context(ctx.data_dir))
        ctx.params = values
        try:
            outcome = spec.func(ctx, **values)
        finally:
            ctx.cleanup()  # what the worker does: no half-written outputs, the session closed
        if outcome is None:
            return Result()
        if isinstance(outcome, dict):
            return Result(summary=outcome)
        if not isinstance(outcome, Result):
            raise TypeError(f"task {spec.name} returned {type(outcome).__name__}, not a Result")
        return outcome

    def close(self) -> None:
        while self._undo:
            self._undo.pop()()


def as_source(value: Any) -> SourceConfig:
    """A SourceConfig from what a test has: a SourceConfig, a URL, a dict, or the console."""
    from opskit.config.model import SourceConfig  # on use: enabling the plugin stays light

    if isinstance(value, SourceConfig):
        return value
    if isinstance(value, str):
        return SourceConfig(url=value)
    if isinstance(value, Mapping):
        return SourceConfig(**value)
    if hasattr(value, "url") and hasattr(value, "api_token"):  # demo.server.ConsoleServer
        return SourceConfig(
            url=value.url, username_env="CONSOLE_USER", password_env="CONSOLE_PASSWORD", token_env="CONSOLE_API_TOKEN"
        )
    raise TypeError(f"cannot make a source of {value!r} (give a SourceConfig, a URL or a dict)")


# ----------------------------------------------------------------------------------- fixtures


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real headless Chromium")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that serve a site to a browser are ``browser`` tests (``-m "not browser"`` leaves them out)."""
    for item in items:
        if "opskit_site" in getattr(item, "fixturenames", ()):
            item.add_marker("browser")


@pytest.fixture
def opskit_config_path(request: pytest.FixtureRequest) -> Path | None:
    """The project's config.yaml: the nearest one above the test file (override to choose)."""
    return find_config(Path(request.path).parent)


@pytest.fixture
def opskit_context(tmp_path: Path, opskit_config_path: Path | None) -> Iterator[ContextFactory]:
    """``opskit_context(task, params=..., scheduled_for=..., sources=...)`` makes a RunContext."""
    factory = ContextFactory(tmp_path, opskit_config_path)
    yield factory
    factory.close()


@pytest.fixture
def opskit_run(opskit_context: ContextFactory) -> Callable[..., Result]:
    """``opskit_run("my_task", period="last_week")`` runs a task like ``runner.py run`` would."""
    return opskit_context.run


@pytest.fixture(scope="session")
def opskit_console_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One console database for the session (seed 7, 2026-10-19 + 28 days, ~3,000 cases)."""
    try:
        from demo.generate import generate
    except ImportError as exc:
        pytest.fail(
            f"the Moderation Console (demo/) cannot be imported: {exc}; run pytest from the opskit repository",
            pytrace=False,
        )
    folder = tmp_path_factory.mktemp("opskit_console")
    return generate(folder / "console.db", seed=7, days=CONSOLE_DAYS, start=CONSOLE_START, scale=CONSOLE_SCALE).db_path


@pytest.fixture
def opskit_console(opskit_console_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The Moderation Console, running on a free port of 127.0.0.1; stopped after the test."""
    from demo.server import ConsoleServer

    # Its exports go to the test's folder: the console's own temporary folder outlives stop().
    server = ConsoleServer(opskit_console_db, port=0, use_env=False, export_dir=tmp_path / "console-exports")
    monkeypatch.setenv("CONSOLE_USER", server.username)
    monkeypatch.setenv("CONSOLE_PASSWORD", server.password)
    monkeypatch.setenv("CONSOLE_API_TOKEN", server.api_token)
    monkeypatch.setenv("CONSOLE_URL", server.url)
    with server:
        yield server


@pytest.fixture
def opskit_site() -> Iterator[Callable[[str | Path], str]]:
    """``opskit_site(folder)`` serves static files on 127.0.0.1 and returns the URL; stopped after the test."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(folder: str | Path) -> str:
        root = Path(folder)
        if not (root / "index.html").is_file():
            pytest.fail(f"opskit_site: {root} has no index.html", pytrace=False)
        handler = functools.partial(Quiet, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"opskit_site {root.name}", daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def opskit_source(opskit_config_path: Path | None) -> Callable[..., SourceConfig]:
    """``opskit_source(name, **overrides)``: a source of config.yaml, its ${VAR}s filled, validated."""

    def load(name: str, **overrides: Any) -> SourceConfig:
        from pydantic import ValidationError

        from opskit.config.file import read_config_file  # on use: enabling the plugin stays light
        from opskit.config.model import SourceConfig  # on use: enabling the plugin stays light
        from opskit.errors import ConfigError, did_you_mean  # on use: enabling the plugin stays light

        if opskit_config_path is None:
            raise ConfigError("no config.yaml above the test to load a source from", hint="Override opskit_config_path")
        raw = read_config_file(opskit_config_path)
        sources = raw.data.get("sources") or {}
        if name not in sources:
            raise ConfigError(
                f"unknown source '{name}' in {opskit_config_path}",
                hint=did_you_mean(name, sources) or f"Sources: {', '.join(sources) or 'none'}",
            )
        values = {**sources[name], **overrides}
        try:
            source = SourceConfig(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"source '{name}', {where}: {first['msg']}") from None
        if not source.url:
            raise ConfigError(f"source '{name}' has no url", hint="Set its ${VAR} in the test, or pass url=")
        return source

    return load


@dataclass
class ReceivedMail:
    """One message the test SMTP server accepted: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    """A plain SMTP server on 127.0.0.1 (no TLS, no login); ``received`` is what it accepted."""

    host: str
    port: int
    received: list[ReceivedMail] = field(default_factory=list)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def config_yaml(self, sender: str = "Ops Reports <reports@example.com>") -> str:
        """The ``email:`` section of a config.yaml that sends through this server."""
        return (
            f"email:\n  backend: smtp\n  host: {self.host}\n  port: {self.port}\n"
            f"  security: none\n  sender: {sender}\n  timeout_s: 5\n"
        )

    def email_settings(self, outbox_dir: Path, **overrides: Any) -> EmailSettings:
        """EmailSettings that send through this server, keeping the outbox in ``outbox_dir``."""
        from opskit.config.email import EmailSettings  # on use: enabling the plugin stays light

        values: dict[str, Any] = dict(
            backend="smtp",
            outbox_dir=outbox_dir,
            host=self.host,
            port=self.port,
            security="none",
            timeout_s=5,
            sender="Ops Reports <reports@example.com>",
        )
        return EmailSettings(**{**values, **overrides})


@pytest.fixture
def opskit_smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd, a dev dependency) on 127.0.0.1; stopped after the test."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        pytest.fail("opskit_smtp needs aiosmtpd: pip install -r requirements-dev.txt", pytrace=False)
    from email import policy
    from email.parser import BytesParser

    with socket.socket() as s:  # aiosmtpd checks it is up by connecting, so it needs a real port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = SmtpServer("127.0.0.1", port)

    class Handler:
        async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
            server.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            return "250 OK queued"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def _test_data_context(data: Path) -> dict[str, Any]:
    """``DataPath`` parameters in a test: relative to the test's data folder, and any file a test names is
    allowed (a test hands its task fixture files from anywhere). Confinement guards the entry points where
    values come from people: ``runner.py``, the scheduler and the web app (opskit/datapath.py)."""
    return {"data_dir": data, "data_roots": [Path(data.resolve().anchor)]}
