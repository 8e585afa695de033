"""``browser.http: auto``: a session that drives pages over HTTP until one needs the browser, then hands over.

Starting Chromium and Playwright's driver costs a run about a second of CPU and 150-350 MiB; a bulk export
from a server-rendered tool needs neither while the saved sign-in works. The session a task gets here has
the ``Session`` API: each step runs over HTTP (``http_steps.HttpSession``) while the page's HTML says all
there is to know, and the first step that cannot starts the browser (with the same saved sign-in), which
opens the page the task was on, types again what the task had typed into its fields, and does the step. The
rest of the session stays in the browser. Hand-overs are logged with their reason.

A form is never sent twice. When the answer to a form post needs the browser, the browser is shown that
answer as it came (Playwright serves it for one navigation), never asking the server again. A post the
server refused because the session ended (``SessionExpired``) is run again, whole, in the browser inside
``s.run(...)``, as the browser session does. The one step a browser cannot take over half-way is a
background export whose status page needs it: it fails, and the export is not started again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from opskit.browser.artifacts import FAILURE_DIR, save_failure
from opskit.browser.core import placed
from opskit.browser.errors import BrowserError, SessionExpired
from opskit.browser.http_steps import HTTP_METHODS, HttpSession
from opskit.browser.static import NeedsBrowser, StaticPage
from opskit.errors import OpskitError, SourceUnavailable

if TYPE_CHECKING:
    from opskit.browser.session import Session

log = logging.getLogger(__name__)
T = TypeVar("T")


class HybridSession:
    """A ``Session`` that starts as an ``HttpSession`` and becomes a browser ``Session`` when a step needs it.

    Attributes:
        over_http: Whether no browser has been needed so far.
    """

    def __init__(self, http: HttpSession, open_browser: Callable[[], Session]):
        self._http = http
        self._open = open_browser
        self._browser: Session | None = None
        self.ctx, self.name, self.source, self.settings = http.ctx, http.name, http.source, http.settings
        self.selectors = http.selectors

    @property
    def over_http(self) -> bool:
        return self._browser is None

    @property
    def browser(self) -> Session | None:
        return self._browser

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        if self._browser is not None:
            return getattr(self._browser, attr)
        if attr not in HTTP_METHODS:
            self.hand_over(NeedsBrowser(f"'{attr}' needs the browser"))
            return getattr(self._browser, attr)
        method = getattr(self._http, attr)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._browser is not None:
                return getattr(self._browser, attr)(*args, **kwargs)
            try:
                return method(*args, **kwargs)
            except NeedsBrowser as why:
                if why.replayable:
                    self.hand_over(why, reopen=attr != "goto")
                    return getattr(self._browser, attr)(*args, **kwargs)
                if attr == "click" and why.landed is not None:  # the form was sent: go on from where it landed
                    self.hand_over(why, at=why.landed)
                    return None
                raise cannot_go_on(why, self._http) from None

        call.__name__ = attr
        call.__doc__ = method.__doc__
        return call

    def run(self, step: Callable[[], T], *, name: str | None = None) -> T:
        """As ``Session.run``: a step whose session ended over HTTP (a form refused, signed out) is run again,
        whole, in the browser, which signs in. A step that sent a form and then needed the browser is not run
        again (the form would be sent twice): it fails (``NeedsBrowser``, translated when the block ends)."""
        if self._browser is not None:
            return self._browser.run(step, name=name)
        start = self._http.page
        typed = len(start.edits) if start is not None else 0
        try:
            return self._http.run(step, name=name)
        except SessionExpired as exc:
            if self._browser is None:  # a hand-over inside the step would have carried it on
                if start is not None:
                    del start.edits[typed:]
                self._http.page = start
                self.hand_over(NeedsBrowser(str(exc.message)), again=True)
            assert self._browser is not None
            return self._browser.run(step, name=name)

    @property
    def dialogs(self) -> list[str]:
        """As ``Session.dialogs``: pages driven over HTTP run no scripts, so none until a browser takes over."""
        return list(self._browser.dialogs) if self._browser is not None else []

    def hand_over(
        self, why: NeedsBrowser, *, reopen: bool = True, again: bool = False, at: StaticPage | None = None
    ) -> Session:
        """Start the browser and carry the session on there (see the module docstring): on ``at`` (the page a
        form post landed on), else on the page the task was on, its typed fields typed again. A page that
        answered a form post is shown to the browser as it came: it never asks the server for it again."""
        http = self._http
        page = at or (http.page if reopen else None)
        doing = "running the step again" if again else "carrying on"
        log.info("%s needs the browser: %s; %s in the browser", http.step_now.called, http.safe(why.reason), doing)
        try:
            http.save_cookies()  # cookies the server renewed meanwhile: the browser starts with them
        except Exception as exc:  # the browser then starts with the file as it is
            log.warning("could not save the renewed sign-in of %s: %s", http.name, type(exc).__name__)
        browser = self._open()
        self._browser = browser
        browser.shared.labels = http.labels  # the same list: steps under way (s.step) go on naming themselves
        for rule in http.dialog_rules:
            browser.on_dialog(rule[0], match=rule[1], text=rule[2])
        if http.overlays:
            browser.dismiss(*http.overlays)
        if page is not None:
            _show(browser, page)
            for edit in page.edits:
                getattr(browser, edit.action)(edit.name, edit.value)
        return browser


def _show(browser: Session, page: StaticPage) -> None:
    """Open ``page`` in the browser: by its address when that gives the same page (it answered a GET), else
    the answer as it came, served to the browser by Playwright for that one navigation."""
    if page.reopenable:
        browser.goto(page.url)
        return

    def same(url: str) -> bool:
        return url.split("#", 1)[0] == page.url.split("#", 1)[0]

    def answer(route: Any) -> None:
        route.fulfill(status=page.status, content_type=page.content_type, body=page.body)

    browser.page.route(same, answer)
    try:
        browser.goto(page.url)
    finally:
        browser.page.unroute(same, answer)


@contextmanager
def hybrid_session(
    ctx: Any, name: str, state_path: Any, open_browser: Callable[[], AbstractContextManager[Session]]
) -> Iterator[HybridSession]:
    """A ``HybridSession`` for ``ctx.browser(name)``; the browser, once started, is closed with the block.

    Failures while no browser was needed are translated as the browser session translates its own (the step,
    the task's line, the failure folder with the page's HTML); once the browser took over, its session does it.
    """
    http = HttpSession(ctx, name, ctx.source(name), state_path)  # reads the saved sign-in; never raises
    with ExitStack() as stack:
        session = HybridSession(http, lambda: stack.enter_context(open_browser()))
        try:
            yield session
        except Exception as exc:
            if session.browser is not None:
                raise  # the browser's session (on the stack) saves its artifacts and translates
            translated = _translate(exc, http)
            _save(ctx, http, translated, getattr(exc, "page", None) or http.page)
            if translated is exc:
                raise
            raise translated from exc
        finally:
            if session.browser is None:
                try:
                    http.save_cookies()
                except Exception as exc:  # never in place of the task's own outcome
                    log.warning("could not save the renewed sign-in of %s: %s", name, type(exc).__name__)
            http.http.close()


def cannot_go_on(why: NeedsBrowser, http: HttpSession) -> BrowserError:
    """The ``BrowserError`` of a step the browser cannot take over (a form was sent): what a task sees."""
    error = BrowserError(
        f"{http.step_now.called}: {http.safe(why.reason)}, after a form was sent over HTTP: the browser cannot "
        "take over half-way, and the form is not sent again",
        hint=f"This step needs the browser from its start: set sources.{http.name}.browser.http: off",
    )
    error.page = why.page  # type: ignore[attr-defined]  # kept in the failure folder
    return error


def _translate(exc: Exception, http: HttpSession) -> Exception:
    """An error of a session still over HTTP, in the words of the browser session's errors."""
    import requests

    step = http.step_now
    if isinstance(exc, NeedsBrowser):
        exc = cannot_go_on(exc, http)
    if isinstance(exc, requests.RequestException):
        return SourceUnavailable(f"{step.called}: {http.source.url} failed over HTTP ({type(exc).__name__})")
    if isinstance(exc, OpskitError):
        placed(exc, step, http.safe, f"Page in {http.ctx.folder / FAILURE_DIR}")
    return exc


def _save(ctx: Any, http: HttpSession, exc: Exception, page: StaticPage | None) -> None:
    step = http.step_now
    try:
        save_failure(
            ctx.folder / FAILURE_DIR,
            page=None,
            context=None,
            masks=[],
            message=str(exc),
            secrets=ctx.redactor.secrets,
            staged_traces=[],
            tracing=False,
            step={
                **step.record(url=http.safe(page.url) if page is not None else "", error=str(exc), closest=[]),
                "over_http": True,
            },
            html=page.html if page is not None else None,
        )
    except Exception:
        log.warning("could not save the failure artifacts", exc_info=True)
