"""The ``Session`` a task drives a web app with: ``with ctx.browser("desk") as s:``.

A session is a signed-in page of one source, driven by *logical names* (``s.click("save_button")``) that the
source's ``selectors`` turn into selectors. It does not assume classic page loads: every action waits for its
element (or for the sign-in form, which means the session ended: it signs in again and carries on), a click
waits for a page load only when it started one, and ``wait_for_any`` waits for whichever outcome comes first.
``docs/browser.md`` is the user guide; every public method is there with an example.

Each action logs one line with its timing (``fill note in 0.03s (tasks/decide.py:41)``); when one fails, the
error names the step, the task's line, the selector, the URL and the elements on the page most like the one
that was missing, and the session's failure folder holds a screenshot, the page and (optionally) a trace.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from opskit.browser.core import SessionCore, Shared, Step, server_error
from opskit.browser.downloads import download
from opskit.browser.errors import (
    BrowserCrashed,
    BrowserError,
    ExportTimeout,
    LoginFailed,
    ServerError,
    SessionExpired,
)
from opskit.browser.tables import Table, read_table
from opskit.browser.waiting import Outcome, wait_for_any
from opskit.errors import did_you_mean
from opskit.sources.retry import call_with_retries

__all__ = [
    "BrowserCrashed",
    "BrowserError",
    "ExportTimeout",
    "LoginFailed",
    "Outcome",
    "ServerError",
    "Session",
    "SessionExpired",
    "Shared",
    "Step",
    "Table",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Session(SessionCore):
    """A page of one source, driven by logical selector names. Made by ``ctx.browser(source)``.

    Attributes:
        page: The Playwright ``Page``: the escape hatch for anything this class does not do.
        context: The Playwright ``BrowserContext`` (cookies, other pages).
        ctx: The run's ``RunContext``.
        over_http: False: this session drives a browser (with ``browser.http: auto`` a session starts over
            plain HTTP, and its ``over_http`` is True until a step needs the browser).
    """

    over_http = False

    def locator(self, name: str) -> Any:
        """A Playwright ``Locator`` for a name, once the element is there (see ``wait_for``)."""
        with self._act("find", name) as loc:
            return loc

    # --- navigation --------------------------------------------------------------------------
    def goto(self, path: str, *, wait: str = "load") -> Any:
        """Open ``path`` (relative to the source's url, or a hash route like ``#/appeals``).

        Signs in first when the page shows the sign-in form. A server error (HTTP 5xx, the ``server_error``
        element) is retried up to ``retries`` times with backoff, then raised as ``ServerError``. A single-page
        app may still be fetching its data when this returns: the next action waits for its element.

        Args:
            wait: "load" (default), "domcontentloaded", "networkidle" or "commit".
        """
        url = self.url(path)

        def once() -> Any:
            with self._act(f"open {path}"):
                self.shared.intended, self.shared.acted = url, False
                response = self.page.goto(url, wait_until=wait)
                self.check_response(response)
                self.check_page()
                if self.auto_login and self.signin.signed_out():
                    self._relogin(url)
            return response

        try:
            return call_with_retries(once, self.backoff, retry_on_exception=server_error)
        except ServerError as exc:
            exc.retried = True  # type: ignore[attr-defined]  # run() must not retry it again
            raise

    def reload(self) -> None:
        """Reload the page (and check it, as ``goto`` does)."""
        with self._act("reload"):
            self.check_response(self.page.reload())
            self.check_page()

    # --- actions -----------------------------------------------------------------------------
    def click(self, name: str, *, navigates: bool | None = None, popup: bool = False) -> Session | None:
        """Click an element.

        Args:
            navigates: None (default): wait for the page to load only if the click started a new page.
                True: always wait for a load (a form post). False: never wait.
            popup: The click opens a new window: returns a ``Session`` on it (``close()`` it when done).
        """
        with self._act("click", name) as loc:
            self.shared.acted = True
            self.shared.downloads.clear()
            if popup:
                self.shared.expecting_popup += 1
                try:
                    with self.context.expect_page(timeout=self.timeout_ms()) as info:
                        loc.first.click(timeout=self.timeout_ms())
                finally:
                    self.shared.expecting_popup -= 1
                new = info.value
                if new in self.shared.popups:
                    self.shared.popups.remove(new)
                # A new window starts as about:blank: its page is the one to read only once it has loaded.
                new.wait_for_load_state("load", timeout=self.timeout_ms())
                return self.adopt(new)
            self.shared.clicked_at = self.page.url
            moved: list[Any] = []

            def navigated(frame: Any) -> None:
                if frame == self.page.main_frame:
                    moved.append(frame.url)

            self.page.on("framenavigated", navigated)
            try:
                loc.first.click(timeout=self.timeout_ms())
            finally:
                self.page.remove_listener("framenavigated", navigated)
            if navigates or (navigates is None and moved):
                self.page.wait_for_load_state()
                self.check_page()
        return None

    def fill(self, name: str, value: Any) -> None:
        """Type ``value`` into a field (its old content is replaced). A secret's field is masked in screenshots."""
        text = str(value)
        with self._act("fill", name) as loc:
            self.shared.acted = True
            if text and text in self.ctx.redactor.secrets:
                self.shared.secret_fields.add(self.selector(name))
            loc.first.fill(text, timeout=self.timeout_ms())

    def select(self, name: str, value: str) -> None:
        """Choose an option of a ``<select>`` by value or label ("" is usually "All").

        Raises:
            BrowserError: no such option (the message lists close ones), without waiting for a timeout.
        """
        with self._act("select", name) as loc:
            self.shared.acted = True
            options = loc.first.evaluate("s => Array.from(s.options).flatMap(o => [o.value, o.label])")
            if value not in options:
                raise BrowserError(
                    f"step '{self.shared.step}': '{value}' is not an option of '{self.selectors.shown(name)}' "
                    f"at {self.page.url}",
                    hint=did_you_mean(value, [o for o in options if o]),
                )
            chosen = {"value": value} if value in options[0::2] else {"label": value}
            loc.first.select_option(**chosen, timeout=self.timeout_ms())

    def check(self, name: str, on: bool = True) -> None:
        """Tick (or untick, ``on=False``) a checkbox, or choose a radio button."""
        with self._act("check" if on else "uncheck", name) as loc:
            self.shared.acted = True
            loc.first.set_checked(on, timeout=self.timeout_ms())

    def press(self, name: str, key: str) -> None:
        """Press a key in an element: ``s.press("search", "Enter")``."""
        with self._act(f"press {key} in", name) as loc:
            self.shared.acted = True
            loc.first.press(key, timeout=self.timeout_ms())

    def upload(self, name: str, *files: str | Path) -> None:
        """Give files to a file field, or to the button that opens the file chooser."""
        paths = [str(Path(f).resolve()) for f in files]
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise BrowserError(f"cannot upload {missing[0]}: no such file")
        with self._act("upload to", name) as loc:
            self.shared.acted = True
            if loc.first.evaluate("e => e.tagName === 'INPUT' && e.type === 'file'"):
                loc.first.set_input_files(paths, timeout=self.timeout_ms())
            else:
                with self.page.expect_file_chooser(timeout=self.timeout_ms()) as chooser:
                    loc.first.click(timeout=self.timeout_ms())
                chooser.value.set_files(paths)

    # --- reading -----------------------------------------------------------------------------
    def text(self, name: str) -> str:
        """The element's visible text, trimmed."""
        with self._act("read", name) as loc:
            return str(loc.first.inner_text(timeout=self.timeout_ms())).strip()

    def texts(self, name: str) -> list[str]:
        """The visible text of every element the name matches (none is an empty list, without waiting)."""
        with self._act("read all", name, wait=False) as loc:
            return [t.strip() for t in loc.all_inner_texts()]

    def value(self, name: str) -> str:
        """A field's current value."""
        with self._act("read value of", name) as loc:
            return str(loc.first.input_value(timeout=self.timeout_ms()))

    def attribute(self, name: str, attribute: str) -> str | None:
        """An attribute of the element (None when it has none): ``s.attribute("as_of", "datetime")``."""
        with self._act(f"read {attribute} of", name) as loc:
            return loc.first.get_attribute(attribute, timeout=self.timeout_ms())  # type: ignore[no-any-return]

    def count(self, name: str) -> int:
        """How many elements match now (no waiting)."""
        return int(self.locator_for(name).count())

    def exists(self, name: str) -> bool:
        """Whether the element is on the page now (no waiting)."""
        return self.count(name) > 0

    def wait_for(self, name: str, *, state: str = "visible", timeout: float | None = None) -> None:
        """Wait until the element is ``visible`` (default), ``hidden``, ``attached`` or ``detached``."""
        if state == "visible":
            wait_for_any(self, [name], timeout=timeout)
            return
        if state == "attached":
            self.locator(name)
            return
        self.begin(f"wait until {state}", name, self.selector(name))
        ms = self.timeout_ms() if timeout is None else timeout * 1000
        self.locator_for(name).first.wait_for(state=state, timeout=ms)

    def wait_for_any(self, *names: str, **kwargs: Any) -> Outcome:
        """Wait for the first of several outcomes; returns it as an ``Outcome`` (a str equal to its name).

        Args:
            names: Elements (logical names or selectors) whose appearance is an outcome.
            url: A URL test: a glob (``**/appeals/*``), a ``re.compile(...)``, or text the URL contains.
            url_changed: The URL is not the one before the last click (a hash route, a pushState, a new page).
            download: A download started: it is saved into the run folder (``outcome.path``).
            popup: A new window opened (``outcome.popup`` is a Session on it).
            gone: Elements whose disappearance is an outcome (``gone=["spinner"]`` -> ``"gone spinner"``).
            errors: Elements whose appearance is a failure: ``ServerError`` quoting their text (``run``
                re-runs the step).
            timeout: Seconds (default: ``action_timeout``).
            reload: Reload the page every this many seconds while nothing happened: a status page that
                shows the outcome only when loaded again, or refreshes itself less often than wanted.

        Raises:
            BrowserError: nothing happened in time (with the elements most like the ones awaited).
            ServerError: an ``errors`` element or the server-error page showed up.
            SessionExpired: the sign-in form came back (``run`` signs in and re-runs the step).
        """
        return wait_for_any(self, names, **kwargs)

    def table(
        self,
        name: str,
        *,
        next: str | None = None,  # noqa: A002 (the word users look for)
        scroll: bool = False,
        end: str | None = None,
        key: str | int | None = None,
        max_pages: int = 1000,
        max_rows: int | None = None,
        settle: float = 2.0,
    ) -> Table:
        """A table's header texts and rows (cell texts), from a ``<table>`` or an ARIA grid.

        Args:
            next: A "next page" button: click it and read again until it is gone or disabled.
            scroll: An infinitely scrolling table: scroll to its end and read again until no rows come.
            end: An element that shows when a scrolling table has no more rows (stops at once).
            key: A column (header text or index) that identifies a row, for lists that remove rows they
                scroll past (virtual lists); rows are collected by it, in order.
            max_pages: Stop after this many pages (or scrolls).
            max_rows: Stop once this many rows were read.
            settle: Seconds an empty table may take to show its first rows (an app still fetching), and a
                scrolling table more rows, before it is taken as complete.
        """
        return read_table(
            self,
            name,
            next=next,
            scroll=scroll,
            end=end,
            key=key,
            max_pages=max_pages,
            max_rows=max_rows,
            settle=settle,
        )

    # --- files ------------------------------------------------------------------------------
    def download(
        self,
        name: str | None = None,
        *,
        url: str | None = None,
        status: str = "export_status",
        link: str = "download_link",
        folder: Path | None = None,
        filename: str | None = None,
    ) -> Path:
        """Save a file into the run folder (atomically, under a safe form of the server's file name).

        Either click ``name`` (a direct download, or a background export whose ``status`` element shows a
        ``link`` when ready), or fetch ``url`` with the session's cookies. Waits at most ``download_timeout``.

        Raises:
            ExportTimeout: not ready in time (no file is left behind).
            ServerError, SessionExpired: the step should be re-run (see ``run``).
        """

        return download(self, name, url=url, status=status, link=link, folder=folder, filename=filename)

    def screenshot(self, name: str = "screenshot.png", *, of: str | None = None, full_page: bool = True) -> Path:
        """A PNG of the page (or of the element ``of``) in the run folder; masked fields painted over."""
        with self._act("screenshot", of, wait=of is not None) as loc, self.ctx.output(name) as tmp:
            target = loc.first if loc is not None else self.page
            options: dict[str, Any] = {
                "path": str(tmp),
                "type": "png",
                "mask": self.masks(),
                "timeout": self.timeout_ms(),
            }
            if loc is None:
                options["full_page"] = full_page
            target.screenshot(**options)
        return self.ctx.path(name)

    def pdf(self, name: str = "page.pdf", *, landscape: bool = False) -> Path:
        """The page printed to PDF (A4) in the run folder. Headless only."""
        with self._act("print"), self.ctx.output(name) as tmp:
            self.page.pdf(path=str(tmp), format="A4", landscape=landscape, print_background=True)
        return self.ctx.path(name)

    # --- frames, pop-ups, dialogs, overlays -------------------------------------------------
    def frame(self, name: str) -> Session:
        """A view of the session inside an ``<iframe>``: ``s.frame("notes_frame").fill("note", "...")``."""
        view = copy.copy(self)
        view.root = self.root.frame_locator(self.selector(name))
        return view

    def close(self) -> None:
        """Close this pop-up window (the session's main page stays open until the ``with`` block ends)."""
        if self.page is not self.shared.main:
            self.page.close()

    def on_dialog(self, action: str, *, match: str | None = None, text: str | None = None) -> None:
        """A rule for JavaScript dialogs (alert, confirm, prompt): ``"accept"`` or ``"dismiss"``.

        Args:
            match: Only dialogs whose message contains this text (the newest matching rule wins).
            text: What to type into a prompt() before accepting.
        """
        if action not in ("accept", "dismiss"):
            raise ValueError(f"a dialog rule is 'accept' or 'dismiss', not {action!r}")
        self.shared.dialog_rules.insert(0, (action, match, text))

    @property
    def dialogs(self) -> list[str]:
        """The messages of the dialogs seen so far, oldest first."""
        return list(self.shared.dialogs)

    def dismiss(self, *names: str) -> None:
        """Buttons that close overlays whenever they show up before an action (as config's ``dismiss``)."""
        for name in names:
            overlay = self.page.locator(self.selector(name))

            def close(loc: Any, what: str = name) -> None:
                log.info("closing overlay %s", what)
                loc.click()

            self.page.add_locator_handler(overlay, close)

    # --- steps --------------------------------------------------------------------------------
    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """A named step: one log line with its time, and errors inside it say which step failed."""
        self.shared.labels.append(self.safe(label))
        started = time.monotonic()
        try:
            yield
        finally:
            self.shared.labels.pop()
        log.info("step '%s' done in %.2fs", self.safe(label), time.monotonic() - started)

    def run(self, step: Callable[[], T], *, name: str | None = None) -> T:
        """Run a multi-action step; after the session expired or the server failed, sign in / wait and re-run.

        At most ``retries`` re-runs. Use it around steps that post forms (an export, a decision), which cannot
        simply be reloaded after signing in again.
        """
        expired = False

        def attempt() -> T:
            nonlocal expired
            if expired:
                log.info("session of %s ended during '%s'; signing in again", self.name, self.shared.step)
                expired = False
                self.signin.login()
            try:
                if name:
                    with self.step(name):
                        return step()
                return step()
            except SessionExpired:
                expired = True
                raise

        def worth_retrying(exc: BaseException) -> bool:
            if isinstance(exc, SessionExpired):
                return self.auto_login
            return server_error(exc) and not getattr(exc, "retried", False)

        return call_with_retries(attempt, self.backoff, retry_on_exception=worth_retrying)

    # --- signing in ----------------------------------------------------------------------------
    def login(self) -> bool:
        """Sign in unless the page shows the session signed in; returns whether it signed in.

        Idempotent, and never traced. The page goes back to where the task was. Raises ``LoginFailed``
        quoting the site's refusal.
        """
        with self._act("sign in"):
            return self.signin.login(back_to=None if self.page.url.startswith("about:") else self.page.url)

    def signed_in(self) -> bool:
        """Whether the page shows the session signed in (waits briefly for an app still loading)."""
        return self.signin.signed_in()
