"""``ctx.browser(source)``: a browser for one source, from start to clean end, whatever happens in between.

The session gets a fresh, private browser context (its own cookies and storage) with the source's saved
sign-in, in one of two browsers:

- the scheduler's warm browser, when the run was started by the scheduler (``options["warm_browser"]``
  names its endpoint file) and the source allows it (``browser.warm``): no start-up cost, and its memory is
  shared by every run (opskit/browser/warm.py);
- otherwise a Chromium of its own (``chromium.launch_options``: Playwright's, else the system's headless shell
  or Chromium), as for a run by hand, ``--headed`` or ``--slowmo``.

When the ``with`` block fails, the failure folder gets the artifacts (artifacts.py) and the error names the
step, the task's line and that folder; Playwright's errors become opskit's (a timeout on an element is a
``BrowserError``, a browser that went away a retryable ``BrowserCrashed``, an unreachable site
``SourceUnavailable``). The browser and every process this session started are gone when the block ends,
fails or is interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opskit.browser.artifacts import FAILURE_DIR, prune_failures, save_failure, state_file
from opskit.browser.chromium import launch_options
from opskit.browser.core import placed
from opskit.browser.errors import BrowserError
from opskit.browser.session import Session
from opskit.browser.warm import connect
from opskit.errors import OpskitError, SourceUnavailable, UsageError
from opskit.files import private_dir

if TYPE_CHECKING:
    from opskit.config.browser import BrowserSettings
    from opskit.context import RunContext

log = logging.getLogger(__name__)


@contextmanager
def browser_session(ctx: RunContext, source: str | None = None, *, login: bool = True) -> Iterator[Session]:
    """A ``Session`` on ``source``'s web app, closed with all its processes when the block ends.

    Args:
        source: A source of config.yaml; may be omitted when there is only one.
        login: Sign in (per the source's ``browser.login``) whenever a page shows the sign-in form.

    Raises:
        UsageError: ``--headed`` without a display, an unknown source.
        SourceUnavailable: ``cannot reach <url>``; server errors after retries; exports not ready in time.
        BrowserError, LoginFailed: the page did not behave; the message names the step, the task's line,
            the selector, the URL and the failure folder.
    """
    name = source or _only_source(ctx)
    src = ctx.source(name)
    settings = src.browser
    headed = bool(ctx.options.get("headed"))
    if headed and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UsageError("--headed needs a display: run under xvfb-run")
    _check_reachable(src.url, src.timeout.total_seconds())
    prune_failures(ctx.folder.parent, settings.artifacts_retention, current=ctx.folder)
    saved = state_file(ctx.state_dir.parent, name)
    if _over_http_first(ctx, src, saved, headed):
        from opskit.browser.hybrid import hybrid_session  # only for sources with browser.http: auto

        with hybrid_session(ctx, name, saved, lambda: _browser(ctx, name, saved, headed, login)) as session:
            yield session  # type: ignore[misc]  # a HybridSession has the Session API
        return
    with _browser(ctx, name, saved, headed, login) as session:
        yield session


def _over_http_first(ctx: RunContext, src: Any, saved: Path, headed: bool) -> bool:
    """Whether the session starts over HTTP (``browser.http: auto``): a saved sign-in (or none needed), and
    nothing that wants a real browser from the start (``--headed``, ``--slowmo``, a trace)."""
    settings = src.browser
    if settings.http != "auto" or headed or ctx.options.get("slowmo"):
        return False
    if settings.trace and not ctx.options.get("no_trace"):
        return False
    return saved.is_file() or not (src.username_env and src.password_env)


@contextmanager
def _browser(ctx: RunContext, name: str, saved: Path, headed: bool, login: bool) -> Iterator[Session]:
    """The browser ``Session`` of ``browser_session`` (see there)."""
    src = ctx.source(name)
    settings = src.browser
    var_dir = ctx.state_dir.parent

    import psutil
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    _node_compile_cache(var_dir)
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    pw = sync_playwright().start()
    browser = context = session = None
    try:
        browser = _open_browser(pw, ctx, settings, headed)
        context = browser.new_context(
            accept_downloads=True,
            ignore_https_errors=not src.verify_tls,
            storage_state=str(saved) if saved.is_file() else None,
        )
        context.set_default_timeout(settings.action_timeout.total_seconds() * 1000)
        context.set_default_navigation_timeout(settings.navigation_timeout.total_seconds() * 1000)
        page = context.new_page()
        session = Session(ctx, name, src, context, page, saved, auto_login=login)
        session.watch(page)
        context.on("page", lambda new: None if new is session.shared.main else session.on_new_page(new))
        if settings.trace and not ctx.options.get("no_trace"):
            context.tracing.start(snapshots=True, screenshots=False, sources=False)
            session.shared.tracing = True
        yield session
        if session.shared.tracing:
            context.tracing.stop()
    except Exception as exc:
        if session is None:
            raise _translate(exc, None, None, PlaywrightError) from exc
        folder = ctx.folder / FAILURE_DIR
        message = str(_translate(exc, session, None, PlaywrightError))
        step = session.shared.step
        try:
            save_failure(
                folder,
                page=session.shared.main,
                context=context,
                masks=session.masks(),
                message=message,
                secrets=ctx.redactor.secrets,
                staged_traces=session.shared.staged_traces,
                tracing=session.shared.tracing,
                step=step.record(url=_url(session), error=message, closest=session.shared.closest),
                signin_requests=session.shared.signin_requests,
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
            for staged in session.shared.staged_traces:
                staged.unlink(missing_ok=True)
            trace_dir = ctx.folder / ".trace"
            if trace_dir.is_dir() and not any(trace_dir.iterdir()):
                trace_dir.rmdir()


def _open_browser(pw: Any, ctx: RunContext, settings: BrowserSettings, headed: bool) -> Any:
    """The scheduler's warm browser when this run may use it, else a browser of its own."""
    endpoint = ctx.options.get("warm_browser")
    if endpoint and settings.warm and not headed and not ctx.options.get("slowmo"):
        browser = connect(pw, Path(endpoint))
        if browser is not None:
            return browser

    return pw.chromium.launch(
        headless=not headed, slow_mo=float(ctx.options.get("slowmo") or 0), **launch_options(pw, shell=not headed)
    )


def _node_compile_cache(var_dir: Path) -> None:
    """Let the Playwright driver (Node) keep its compiled code between runs: its start-up drops from about
    0.5 s to 0.3 s. Node ignores the variable where it is too old to know it."""
    if "NODE_COMPILE_CACHE" not in os.environ:
        try:
            os.environ["NODE_COMPILE_CACHE"] = str(private_dir(var_dir / "browser" / "node-cache"))
        except OSError:  # a read-only var/: no cache, same result
            pass


def _url(session: Session) -> str:
    try:
        return str(session.shared.main.url)
    except Exception:
        return ""


def _translate(exc: Exception, session: Session | None, folder: Path | None, playwright_error: type) -> Exception:
    """Any exception as opskit's (``Session.translate``), naming the step and its task line, with the folder."""
    where = None
    if folder is not None:
        has_trace = (folder / "trace.zip").exists()
        where = f"Screenshot, page and trace in {folder}" if has_trace else f"Screenshot and page in {folder}"
    if session is None:
        return exc
    step = session.shared.step
    if isinstance(exc, playwright_error):
        exc = session.translate(exc)  # type: ignore[assignment]
    if isinstance(exc, OpskitError):
        placed(exc, step, session.safe, where)
    return exc


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


__all__ = ["BrowserError", "browser_session"]
