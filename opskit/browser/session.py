"""Playwright sessions for tasks: launch, saved sign-ins, selectors by name, downloads, tracing on failure.

``with ctx.browser("console") as s:`` yields a ``Session``. Tasks name elements logically
(``s.click("search_button")``); the source's selector map (``sources.<name>.browser.selectors`` over
``DEFAULT_SELECTORS``) turns names into CSS, so a renamed button is a config fix.

- Sign-in is lazy and transparent: the first page that redirects to the sign-in page triggers the
  source's login recipe, and the sign-in is saved (``<var>/browser/<source>.json``) for later runs. A
  saved sign-in that has expired, or a session that ends mid-task, means signing in again and going on.
- Waits are on conditions (elements, downloads, load states), with the source's timeouts. Navigations
  answered with a server error are retried a bounded number of times; ``Session.run`` re-runs a
  multi-page step after a re-sign-in or a server error. Nothing else is retried.
- On any failure in the block, a masked screenshot, the page's HTML and a Playwright trace go to
  ``<run folder>/failure/``, and the error names the step, the selector, the URL and that folder.
  The sign-in itself is never traced (a trace would record the password in the form post).
- The browser and every process it started are gone when the block ends, fails or is interrupted.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from opskit.browser.artifacts import (
    FAILURE_DIR,
    private_dir,
    prune_failures,
    save_failure,
    save_storage_state,
    state_file,
)
from opskit.errors import OpskitError, SourceUnavailable, TaskError, UsageError, did_you_mean
from opskit.sources.retry import Backoff, call_with_retries

if TYPE_CHECKING:
    from opskit.config.browser import BrowserSettings
    from opskit.config.model import SourceConfig
    from opskit.context import RunContext

log = logging.getLogger(__name__)
T = TypeVar("T")
_CSS = re.compile(r"[#.\[\]:>=\s*]")


class BrowserError(TaskError):
    """A page did not behave as the recipe expects: an element is missing, a step timed out."""


class LoginFailed(TaskError):
    """The source refused the sign-in (wrong password, wrong one-time code)."""


class SessionExpired(BrowserError):
    """The session kept ending mid-task, even after signing in again."""


class ServerError(SourceUnavailable):
    """The source answered with server errors, after the bounded retries."""


class ExportTimeout(SourceUnavailable):
    """A download or background export was not ready within ``download_timeout``."""


@dataclass(slots=True)
class _Step:
    action: str
    name: str | None = None
    css: str | None = None

    def __str__(self) -> str:
        return f"{self.action} {self.name}" if self.name else self.action


class Session:
    """A signed-in page of one source, driven by logical selector names. Made by ``browser_session``."""

    def __init__(
        self,
        ctx: RunContext,
        name: str,
        source: SourceConfig,
        context: Any,
        page: Any,
        state_path: Path,
        *,
        auto_login: bool,
    ):
        self.ctx, self.name, self.source = ctx, name, source
        self.settings: BrowserSettings = source.browser
        self.context, self.page = context, page
        self.state_path, self.auto_login = state_path, auto_login
        self.step = _Step("start")
        self.logins = 0
        self.tracing = False
        self.staged_traces: list[Path] = []
        self._selectors = self.settings.selector_map()
        self._login_path = urlsplit(self.url(self.settings.login.path)).path
        # A server that just failed gets a moment: 0.2 s, 0.4 s, 0.8 s ... (``retries`` re-tries at most).
        self._backoff = Backoff(attempts=self.settings.retries + 1, first=0.2, cap=5.0)

    # --- names and places ------------------------------------------------------------------
    def selector(self, name: str) -> str:
        """The CSS for a logical name; text that already looks like CSS passes through.

        Raises:
            UsageError: an unknown name (with a "did you mean").
        """
        if name in self._selectors:
            return self._selectors[name]
        if _CSS.search(name):
            return name
        raise UsageError(
            f"unknown selector name '{name}' for source '{self.name}'",
            hint=did_you_mean(name, self._selectors) or f"Add it under sources.{self.name}.browser.selectors",
        )

    def url(self, path: str) -> str:
        return urljoin(self.source.url.rstrip("/") + "/", path.lstrip("/"))

    def locator(self, name: str, action: str = "find") -> Any:
        css = self.selector(name)
        self.step = _Step(action, name, css)
        return self.page.locator(css)

    # --- actions ---------------------------------------------------------------------------
    def goto(self, path: str) -> Any:
        """Open ``path`` (relative to the source's url), signing in first when the page asks for it.

        A server error (5xx) is retried up to ``retries`` times with backoff; then ServerError.
        """
        url = self.url(path)

        def open_once() -> Any:
            self.step = _Step(f"open {path}")
            response = self.page.goto(url)
            self._check_page(response)
            return response

        def attempt() -> Any:
            try:
                return open_once()
            except SessionExpired:
                if not self.auto_login or self.logins > self.settings.retries:
                    raise
                self.login()  # the sign-in form carries ?next=, but a fresh goto is simplest
                return open_once()

        try:
            return call_with_retries(attempt, self._backoff, retry_on_exception=_server_error)
        except ServerError as exc:
            exc.retried = True  # type: ignore[attr-defined]  # run() must not retry it again
            raise

    def click(self, name: str, *, navigates: bool = True) -> None:
        """Click an element; by default wait for the page it leads to, and check it."""
        self.locator(name, "click").click()
        if navigates:
            self.page.wait_for_load_state()
            self._check_page()

    def fill(self, name: str, value: str) -> None:
        self.locator(name, "fill").fill(value)

    def select(self, name: str, value: str) -> None:
        """Choose an option of a <select> by value or label ("" is usually "All").

        Raises:
            BrowserError: no such option (the message lists close ones), without waiting for a timeout.
        """
        loc = self.locator(name, "select")
        options = loc.evaluate("s => Array.from(s.options).flatMap(o => [o.value, o.label])")
        if value not in options:
            close = did_you_mean(value, [o for o in options if o])
            raise BrowserError(
                f"step '{self.step}': '{value}' is not an option of '{self.step.css}' at {self.page.url}",
                hint=close,
            )
        loc.select_option(value)

    def text(self, name: str) -> str:
        return str(self.locator(name, "read").inner_text()).strip()

    def table(self, name: str) -> tuple[list[str], list[list[str]]]:
        """A table's header texts and body rows (cell texts), read in one round trip."""
        return tuple(
            self.locator(name, "read table").evaluate(  # type: ignore[return-value]
                """t => [Array.from(t.querySelectorAll('thead th')).map(c => c.innerText.trim()),
                     Array.from(t.querySelectorAll('tbody tr')).map(
                         r => Array.from(r.cells).map(c => c.innerText))]"""
            )
        )

    def download(
        self,
        name: str,
        *,
        status: str = "export_status",
        link: str = "download_link",
        folder: Path | None = None,
    ) -> Path:
        """Click ``name`` and save the file it produces, under the server's file name, atomically.

        Works for both kinds of export: a file sent at once, or a background job whose ``status`` page
        (``data-status`` running/done/failed) shows a ``link`` when ready. Waits at most
        ``download_timeout`` in all.

        Raises:
            ExportTimeout: not ready in time (no file is left behind).
            ServerError, SessionExpired: the step should be re-run (see ``run``).
        """
        timeout_ms = self.settings.download_timeout.total_seconds() * 1000
        deadline = time.monotonic() + timeout_ms / 1000
        downloads: list[Any] = []

        def arrived(item: Any) -> None:
            downloads.append(item)

        self.page.on("download", arrived)

        def too_slow() -> Exception:
            return ExportTimeout(
                f"step '{self.step}': the export was not ready after "
                f"{self.settings.download_timeout.total_seconds():g}s at {self.page.url}"
            )

        try:
            self.locator(name, "click").click()
            status_css = self.selector(status)
            self.step = _Step("wait for export", None, status_css)
            self._wait_any(
                status_css,
                deadline,
                signed_out=True,
                until=lambda: bool(downloads),
                on_timeout=too_slow,
            )
            if not downloads:
                self._check_page()
                ready = self.page.locator(f"{status_css}:not([data-status='running'])")
                self._wait_any(ready, deadline, signed_out=True, on_timeout=too_slow, refresh=0.25)
                self._check_page()
                state = self.page.locator(status_css).get_attribute("data-status")
                if state != "done":
                    raise ServerError(
                        f"the export failed at {self.page.url}: {self.page.locator(status_css).inner_text().strip()}"
                    )
                with self.page.expect_download(timeout=_left(deadline)) as info:
                    self.locator(link, "click").click()
                downloads.append(info.value)
        finally:
            self.page.remove_listener("download", arrived)
        item = downloads[0]
        target = _free_name((folder or self.ctx.folder) / item.suggested_filename)
        self.step = _Step(f"save download {item.suggested_filename}")
        with self.ctx.output(target) as tmp:
            item.save_as(tmp)
            if item.failure():
                raise ServerError(f"the download from {item.url} failed: {item.failure()}")
        log.info("downloaded %s (%d bytes)", target.name, target.stat().st_size)
        return target

    def run(self, step: Callable[[], T]) -> T:
        """Run a multi-page step; after a session expiry or a server error, sign in / wait and re-run it.

        At most ``retries`` re-runs. Use it around steps that post forms (an export), which cannot
        simply be reloaded after signing in again.
        """
        expired = False

        def attempt() -> T:
            nonlocal expired
            if expired:
                log.info("session of %s ended during '%s'; signing in again", self.name, self.step)
                expired = False
                self.login()
            try:
                return step()
            except SessionExpired:
                expired = True
                raise

        def worth_retrying(exc: BaseException) -> bool:
            if isinstance(exc, SessionExpired):
                return self.auto_login
            return _server_error(exc) and not getattr(exc, "retried", False)

        return call_with_retries(attempt, self._backoff, retry_on_exception=worth_retrying)

    # --- signing in ------------------------------------------------------------------------
    def login(self) -> None:
        """Sign in with the source's recipe (and one-time code), then save the sign-in for later runs.

        Not traced: a trace would hold the password. Raises LoginFailed quoting the page's error.
        """
        recipe, src = self.settings.login, self.source
        if not (src.username_env and src.password_env):
            raise UsageError(f"source '{self.name}' needs username_env and password_env to sign in")
        user, password = self.ctx.secret(src.username_env), self.ctx.secret(src.password_env)
        self._pause_trace()
        self.logins += 1
        log.info("signing in to %s (%s)", self.name, self.url(recipe.path))
        call_with_retries(lambda: self._login_once(user, password), self._backoff, retry_on_exception=_server_error)
        save_storage_state(self.context, self.state_path)
        self._resume_trace()

    def _login_once(self, user: str, password: str) -> None:
        recipe = self.settings.login
        self.step = _Step(f"open {recipe.path}")
        self._check_page(self.page.goto(self.url(recipe.path)), login_page_ok=True)
        self.fill(recipe.username, user)
        self.fill(recipe.password, password)
        self.click(recipe.submit, navigates=False)
        self.step = _Step("check sign-in", recipe.success, self.selector(recipe.success))
        found = self._wait_any(
            self.selector(recipe.success),
            _deadline(self.settings.action_timeout),
            errors=(recipe.error, recipe.otp),
        )
        if found == "server_error":
            self._check_page()
        if found == recipe.error:
            raise LoginFailed(
                f"sign-in to {self.url(recipe.path)} was refused: '{self.text(recipe.error)}'",
                hint=f"Check {self.source.password_env} and {self.source.username_env}",
            )
        if found == recipe.otp:
            if not recipe.otp_env:
                raise LoginFailed(
                    f"{self.url(recipe.path)} asks for a one-time code",
                    hint=f"Set sources.{self.name}.browser.login.otp_env",
                )
            self.fill(recipe.otp, self.ctx.secret(recipe.otp_env))
            self.click(recipe.otp_submit, navigates=False)
            self.step = _Step("check one-time code", recipe.success, self.selector(recipe.success))
            found = self._wait_any(
                self.selector(recipe.success),
                _deadline(self.settings.action_timeout),
                errors=(recipe.otp_error,),
            )
            if found == recipe.otp_error:
                raise LoginFailed(
                    f"the one-time code was refused at {self.page.url}: '{self.text(recipe.otp_error)}'",
                    hint=f"Check {recipe.otp_env}",
                )

    # --- internals -------------------------------------------------------------------------
    def _check_page(self, response: Any = None, *, login_page_ok: bool = False) -> None:
        """Raise ServerError on an error page and SessionExpired on the sign-in page."""
        if response is not None and response.status >= 500:
            raise ServerError(f"HTTP {response.status} from {response.url} at step '{self.step}'")
        error_css = self.selector("server_error")
        if self.page.locator(error_css).count():
            text = self.page.locator(error_css).first.inner_text().strip()
            raise ServerError(f"{self.page.url} shows an error at step '{self.step}': {text}")
        if not login_page_ok and urlsplit(self.page.url).path == self._login_path:
            raise SessionExpired(f"signed out at step '{self.step}' ({self.page.url})")

    def _wait_any(
        self,
        target: Any,
        deadline: float,
        *,
        errors: tuple[str, ...] = (),
        signed_out: bool = False,
        until: Callable[[], bool] | None = None,
        on_timeout: Callable[[], Exception] | None = None,
        refresh: float | None = None,
    ) -> str | None:
        """Wait until ``target`` (CSS or locator), an ``errors`` element, the server-error element or
        (``signed_out``) the sign-in form is on the page. ``until`` ends the wait early (a download
        arrived). Returns the name of what was found: "target", an ``errors`` name, "server_error",
        "signed_out", or None for ``until``. ``refresh`` reloads the page every so many seconds
        while waiting (a status page that would refresh itself less often)."""
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        main = self.page.locator(target) if isinstance(target, str) else target
        others = {n: self.page.locator(self.selector(n)) for n in errors}
        others["server_error"] = self.page.locator(self.selector("server_error"))
        if signed_out:
            others["signed_out"] = self.page.locator(self.selector(self.settings.login.password))
        combined = main
        for loc in others.values():
            combined = combined.or_(loc)
        while True:
            if until is not None and until():
                return None
            # short slices only when something outside the page (a download) can end the wait
            slice_ms = _left(deadline)
            if until is not None or refresh is not None:
                slice_ms = min(1000 * (refresh or 0.25), slice_ms)
            try:
                combined.first.wait_for(state="attached", timeout=slice_ms)
            except PlaywrightTimeout:
                if time.monotonic() < deadline:
                    if refresh is not None:
                        try:
                            self.page.reload(wait_until="domcontentloaded")
                        except PlaywrightError:  # raced with the page's own refresh: fine
                            pass
                    continue
                if until is not None and until():
                    return None
                if on_timeout is not None:
                    raise on_timeout() from None
                raise
            for name, loc in others.items():
                if loc.count():
                    return name
            return "target"

    def _pause_trace(self) -> None:
        if self.tracing:
            staged = self.ctx.folder / ".trace" / f"part-{len(self.staged_traces) + 1}.zip"
            private_dir(staged.parent)
            self.context.tracing.stop_chunk(path=str(staged))
            self.staged_traces.append(staged)
            self.tracing = False

    def _resume_trace(self) -> None:
        if not self.tracing:
            self.context.tracing.start_chunk()
            self.tracing = True


@contextmanager
def browser_session(ctx: RunContext, source: str | None = None, *, login: bool = True) -> Iterator[Session]:
    """A browser on ``source``'s web UI, closed with all its processes when the block ends.

    Args:
        source: A source of config.yaml; may be omitted when there is only one.
        login: Sign in (per the source's recipe) whenever a page asks for it.

    Raises:
        UsageError: ``--headed`` without a display, an unknown source.
        SourceUnavailable: ``cannot reach <url>``; server errors after retries; exports not ready in time.
        BrowserError, LoginFailed: the page did not behave; the message names step, selector, URL and
            the failure folder.
    """
    name = source or _only_source(ctx)
    src = ctx.source(name)
    settings = src.browser
    headed = bool(ctx.options.get("headed"))
    if headed and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UsageError("--headed needs a display: run under xvfb-run")
    _check_reachable(src.url, src.timeout.total_seconds())
    prune_failures(ctx.folder.parent, settings.artifacts_retention, current=ctx.folder)
    var_dir = ctx.state_dir.parent
    saved = state_file(var_dir, name)

    import psutil
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    pw = sync_playwright().start()
    browser = context = session = None
    try:
        browser = pw.chromium.launch(
            headless=not headed, slow_mo=float(ctx.options.get("slowmo") or 0), **launch_options(pw)
        )
        context = browser.new_context(
            accept_downloads=True,
            ignore_https_errors=not src.verify_tls,
            storage_state=str(saved) if saved.is_file() else None,
        )
        context.set_default_timeout(settings.action_timeout.total_seconds() * 1000)
        context.set_default_navigation_timeout(settings.navigation_timeout.total_seconds() * 1000)
        session = Session(ctx, name, src, context, context.new_page(), saved, auto_login=login)
        context.tracing.start(screenshots=True, snapshots=True)
        session.tracing = True
        yield session
        if session.tracing:
            context.tracing.stop()
    except Exception as exc:
        if session is None:
            raise _translate(exc, None, None, PlaywrightError) from exc
        folder = ctx.folder / FAILURE_DIR
        message = str(_translate(exc, session, None, PlaywrightError))
        try:
            save_failure(
                folder,
                page=session.page,
                context=context,
                masks=[session.page.locator(session.selector(m)) for m in settings.mask],
                message=message,
                redact=ctx.redactor.redact,
                staged_traces=session.staged_traces,
                tracing=session.tracing,
            )
        except Exception:
            log.warning("could not save the failure artifacts", exc_info=True)
        translated = _translate(exc, session, folder, PlaywrightError)
        if translated is exc:
            raise
        raise translated from exc
    finally:
        _close(pw, browser, context, me, before)
        if session is not None:
            for staged in session.staged_traces:
                staged.unlink(missing_ok=True)
            trace_dir = ctx.folder / ".trace"
            if trace_dir.is_dir() and not any(trace_dir.iterdir()):
                trace_dir.rmdir()


def _translate(exc: Exception, session: Session | None, folder: Path | None, playwright_error: type) -> Exception:
    where = f"Screenshot, page and trace in {folder}" if folder else None
    if isinstance(exc, OpskitError):
        if where and where not in str(exc.hint or ""):
            exc.hint = f"{exc.hint}. {where}" if exc.hint else where
        return exc
    if not isinstance(exc, playwright_error) or session is None:
        return exc
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    url = session.page.url
    if "net::ERR_" in first:
        code = re.search(r"net::(ERR_[A-Z_]+)", first)
        return SourceUnavailable(f"cannot reach {session.source.url} ({code.group(1) if code else first})")
    step = session.step
    if type(exc).__name__ == "TimeoutError":
        if step.css:
            message = f"step '{step}': no element matches '{step.css}' at {url}"
        else:
            message = f"step '{step}': the page did not load in time ({url})"
    else:
        message = f"step '{step}' failed at {url}: {first}"
    return BrowserError(message, hint=where)


def _close(pw: Any, browser: Any, context: Any, me: Any, before: set[int]) -> None:
    """Close gracefully, then make sure no process this session started is left (driver, browser)."""
    import psutil

    for close in (getattr(context, "close", None), getattr(browser, "close", None), pw.stop):
        if close is None:
            continue
        try:
            close()
        except BaseException as exc:  # an interrupted driver may not answer; the sweep below ends it
            log.debug("closing the browser: %s", exc)
    try:
        left = [p for p in me.children(recursive=True) if p.pid not in before]
    except psutil.Error:
        return
    if left:
        _, alive = psutil.wait_procs(left, timeout=3)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=3)


def _check_reachable(url: str, timeout: float) -> None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout=min(timeout, 10)):
            pass
    except OSError as exc:
        reason = (
            "connection refused"
            if isinstance(exc, ConnectionRefusedError)
            else ("timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)
        )
        raise SourceUnavailable(f"cannot reach {url} ({reason})") from None


def _only_source(ctx: RunContext) -> str:
    if len(ctx.sources) == 1:
        return next(iter(ctx.sources))
    raise UsageError("ctx.browser() needs a source name", hint=f"Sources: {', '.join(ctx.sources)}")


def _free_name(path: Path) -> Path:
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _deadline(duration: Any) -> float:
    return time.monotonic() + duration.total_seconds()


def _left(deadline: float) -> float:
    """Milliseconds until ``deadline`` (at least 1)."""
    return max(1.0, (deadline - time.monotonic()) * 1000)


def _server_error(exc: BaseException) -> bool:
    return isinstance(exc, ServerError)
