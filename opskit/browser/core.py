"""The plumbing under ``Session``: the current step, finding elements (and signing in again when the
sign-in form shows instead), the page checks, the trace, and what every page of a session listens to
(downloads, dialogs, pop-up windows, overlays).

``Session`` (session.py) is what tasks call; this is what each of its actions goes through, so that every
action logs one line with its timing and the task's line, and every failure names its step.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urljoin

from opskit.browser.errors import BrowserCrashed, BrowserError, ServerError, SessionExpired
from opskit.browser.polling import POLL_MS, next_poll
from opskit.browser.scan import closest
from opskit.browser.selectors import SelectorMap
from opskit.browser.signin import SignIn
from opskit.errors import OpskitError, SourceUnavailable
from opskit.files import private_dir
from opskit.sources.retry import Backoff

if TYPE_CHECKING:
    from opskit.config.browser import BrowserSettings
    from opskit.config.model import SourceConfig
    from opskit.context import RunContext

log = logging.getLogger(__name__)
_GONE = ("has been closed", "Target closed", "Connection closed", "Browser closed", "browser has disconnected")
_OPSKIT = str(Path(__file__).resolve().parent.parent)


@dataclass
class Step:
    """The action under way, for log lines and error messages: ``click save_button``."""

    action: str
    name: str | None = None
    selector: str | None = None
    where: str | None = None
    """The task's line that asked for it (``tasks/decide.py:41``)."""
    label: str | None = None
    """The named step (``with s.step("decide AP-0003")``) it belongs to."""

    def __str__(self) -> str:
        what = f"{self.action} {self.name}" if self.name else self.action
        return f"{self.label} > {what}" if self.label else what

    @property
    def place(self) -> str:
        """`` (tasks/decide.py:41)``: the task's line for a log line or a message, or ""."""
        return f" ({self.where})" if self.where else ""

    @property
    def called(self) -> str:
        """``step 'click save' (tasks/decide.py:41)``: how messages name it."""
        return f"step '{self}'{self.place}"

    def record(self, *, url: str, error: str, closest: list[str]) -> dict[str, Any]:
        """The step as a failure folder's ``step.json`` keeps it."""
        return {
            "step": str(self),
            "action": self.action,
            "name": self.name,
            "selector": self.selector,
            "task_line": self.where,
            "url": url,
            "error": error,
            "closest": closest,
        }


@dataclass
class Shared:
    """What every view of one session shares: the main page, its frames and its pop-ups."""

    step: Step = field(default_factory=lambda: Step("start"))
    labels: list[str] = field(default_factory=list)
    logins: int = 0
    tracing: bool = False
    staged_traces: list[Path] = field(default_factory=list)
    secret_fields: set[str] = field(default_factory=set)
    intended: str | None = None
    downloads: list[Any] = field(default_factory=list)
    popups: list[Any] = field(default_factory=list)
    expecting_popup: int = 0
    dialog_rules: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    closest: list[str] = field(default_factory=list)
    """The elements most like the one a failed step looked for (saved with the failure)."""
    main: Any = None
    """The session's first page (pop-ups are others)."""
    acted: bool = False
    """Whether the task changed the page (clicked, typed) since it last opened one: until it has, a sign-in
    form that shows up is signed into and the wait goes on; after, the step must be run again (``run``)."""
    signin_requests: set[tuple[str, str]] = field(default_factory=set)
    """(method, URL) of every request made while signing in: never kept in a trace."""
    clicked_at: str | None = None
    """The URL before the last click (``wait_for_any(url_changed=True)`` compares with it)."""
    user_agent: str | None = None
    """The browser's user agent, sent with downloads fetched over HTTP (asked once)."""


class SessionCore:
    """What every ``Session`` action goes through (see the module docstring).

    Attributes:
        page: The Playwright ``Page``: the escape hatch for anything this class does not do.
        context: The Playwright ``BrowserContext`` (cookies, other pages).
        ctx: The run's ``RunContext``.
    """

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
        shared: Shared | None = None,
    ):
        self.ctx, self.name, self.source = ctx, name, source
        self.settings: BrowserSettings = source.browser
        self.context, self.page = context, page
        self.root: Any = page
        """Where elements are looked up: the page, or a frame (``frame``)."""
        self.state_path, self.auto_login = state_path, auto_login
        self.shared = shared or Shared(main=page)
        self.selectors = SelectorMap(name, self.settings.selector_map())
        self.signin = SignIn(self)
        # A server that just failed gets a moment: 0.2 s, 0.4 s, 0.8 s ... (``retries`` re-tries at most).
        self.backoff = Backoff(attempts=self.settings.retries + 1, first=0.2, cap=5.0)

    # --- names and places ------------------------------------------------------------------
    def selector(self, name: str) -> str:
        """The Playwright selector for a logical name (a selector passes through).

        Raises:
            UsageError: an unknown name, with a "did you mean".
        """
        return self.selectors.resolve(name)

    def url(self, path: str) -> str:
        """``path`` relative to the source's url (``#/appeals``, ``/cases?page=2``); a full URL as it is."""
        return source_url(self.source.url, path)

    def locator_for(self, name: str) -> Any:
        """A Playwright ``Locator`` for a name, in this view (page or frame), without waiting."""
        return self.root.locator(self.selector(name))

    # --- plumbing ---------------------------------------------------------------------------
    def timeout_ms(self) -> float:
        return self.settings.action_timeout.total_seconds() * 1000

    def masks(self) -> list[Any]:
        """What screenshots paint over: configured masks, password fields, fields a secret was typed into."""
        found = [self.page.locator(self.selector(m)) for m in self.settings.mask]
        found.append(self.page.locator("input[type=password]"))
        found += [self.page.locator(css) for css in sorted(self.shared.secret_fields)]
        return found

    def safe(self, text: str) -> str:
        """``text`` with every secret of the run replaced by ``***``, in every form a page or URL carries it.

        The run's redactor knows each secret's URL-, HTML- and JSON-escaped forms (``opskit.redact``), so the
        run log (whatever handler writes it) and the errors stored in the history have none.
        """
        return self.ctx.redactor.redact(text)

    def begin(self, action: str, name: str | None = None, selector: str | None = None) -> Step:
        """Make ``action`` the current step (for messages), with the task's line that asked for it."""
        action = self.safe(action)
        label = " > ".join(self.shared.labels) or None
        where = task_line() or self.shared.step.where
        self.shared.step = Step(action, name, selector, where, label)
        return self.shared.step

    @contextmanager
    def _act(self, action: str, name: str | None = None, *, wait: bool = True) -> Iterator[Any]:
        """One action: the step is set, the element found (waiting for it), and one log line written."""
        started = time.monotonic()
        css = self.selector(name) if name else None
        step = self.begin(action, name, css)
        try:
            loc = None
            if name is not None:
                loc = self._find(name, css) if wait else self.root.locator(css)
            yield loc
        except Exception as exc:  # Playwright's errors as opskit's, so that a task can catch BrowserError
            translated = self.translate(exc)
            if translated is exc:
                raise
            raise translated from exc
        log.info("%s in %.2fs%s", step, time.monotonic() - started, step.place)

    def translate(self, exc: BaseException) -> BaseException:
        """A Playwright error as opskit's, naming the step, its task line, the selector and the URL; any
        other exception as it is. A timeout on an element is a ``BrowserError``, a browser that went away a
        retryable ``BrowserCrashed``, an unreachable site ``SourceUnavailable``."""
        from playwright.sync_api import Error as PlaywrightError

        step = self.shared.step
        if not isinstance(exc, PlaywrightError):
            return exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = self.safe(first)
        first = re.sub(r"^\w+\.\w+: ", "", first)  # "Locator.click: Timeout ..." -> "Timeout ..."
        try:
            url = self.safe(str(self.shared.main.url))
        except Exception:
            url = ""
        label = step.called
        if "net::ERR_" in first:
            code = re.search(r"net::(ERR_[A-Z_]+)", first)
            return SourceUnavailable(f"cannot reach {self.source.url} ({code.group(1) if code else first})")
        if any(text in first for text in _GONE) and not self._alive():
            return BrowserCrashed(f"the browser went away at {label} ({url}): {first}")
        if type(exc).__name__ == "TimeoutError":
            if step.selector:
                return BrowserError(f"{label}: '{step.selector}' was found but not ready in time at {url} ({first})")
            return BrowserError(f"{label}: the page did not load in time ({url})")
        return BrowserError(f"{label} failed at {url}: {first}")

    def _alive(self) -> bool:
        """Whether the browser is still there (connected, and the session's page open)."""
        try:
            browser = self.context.browser
            return bool((browser is None or browser.is_connected()) and not self.shared.main.is_closed())
        except Exception:
            return False

    def _find(self, name: str, css: str | None) -> Any:
        """The element's locator once it is on the page; signs in again when the sign-in form shows instead."""
        loc = self.root.locator(css)
        try:
            if loc.count():
                self._good_url()
                return loc
        except Exception:  # between documents: wait below
            pass
        for _ in range(self.settings.retries + 1):
            deadline = time.monotonic() + self.settings.action_timeout.total_seconds()
            pause = POLL_MS
            while time.monotonic() < deadline:
                if _count(loc):
                    self._good_url()
                    return loc
                self.check_page()
                if self.auto_login and self.signin.signed_out():
                    break
                self.page.wait_for_timeout(pause)
                pause = next_poll(pause)
            else:
                self._missing(name, css)
            step = self.shared.step
            self._relogin(self.shared.intended)
            self.shared.step = step
        raise SessionExpired(f"signed out again at step '{self.shared.step}' ({self.page.url})")

    def _missing(self, name: str, css: str | None) -> None:

        self.shared.closest = closest(self.root, self.selectors.shown(name))
        raise BrowserError(
            f"step '{self.shared.step}': no element matches '{self.selectors.shown(name)}' at {self.page.url}",
            hint=("Closest on the page: " + "; ".join(self.shared.closest)) if self.shared.closest else None,
        )

    def _good_url(self) -> None:
        if self.root is self.page and self.page is self.shared.main:
            self.shared.intended = self.page.url

    def _relogin(self, back_to: str | None) -> None:
        if not self.auto_login:
            raise SessionExpired(f"signed out at step '{self.shared.step}' ({self.page.url})")
        if self.shared.logins > self.settings.retries:
            raise SessionExpired(
                f"the session of {self.name} kept ending (signed out at step '{self.shared.step}', {self.page.url})"
            )
        step = self.shared.step
        if self.shared.logins:
            log.info("signed out at step '%s' (%s); signing in again", step, self.safe(self.page.url))
        self.signin.login(back_to=back_to)
        self.shared.step = step

    def check_response(self, response: Any) -> None:
        """Raise ServerError for a navigation answered with HTTP 5xx."""
        if response is not None and response.status >= 500:
            raise ServerError(f"HTTP {response.status} from {response.url} at step '{self.shared.step}'")

    def check_page(self, page: Any = None) -> None:
        """Raise ServerError when the page shows the ``server_error`` element."""
        page = page or self.page
        loc = page.locator(self.selectors.resolve("server_error"))
        if _count(loc):
            text = " ".join(str(loc.first.inner_text()).split())
            raise ServerError(f"{page.url} shows an error at step '{self.shared.step}': {text}")

    def pause_trace(self) -> None:
        """Stop recording the trace (before a sign-in); what was recorded is kept for a failure."""
        if self.shared.tracing:
            staged = self.ctx.folder / ".trace" / f"part-{len(self.shared.staged_traces) + 1}.zip"
            private_dir(staged.parent)
            self.context.tracing.stop_chunk(path=str(staged))
            self.shared.staged_traces.append(staged)
            self.shared.tracing = False

    def resume_trace(self) -> None:
        if self.settings.trace and not self.shared.tracing and not self.ctx.options.get("no_trace"):
            self.context.tracing.start_chunk()
            self.shared.tracing = True

    # --- every page of the session -----------------------------------------------------------
    def adopt(self, page: Any) -> Self:
        """A Session on another page of this browser context (a pop-up window)."""
        view = copy.copy(self)
        view.page = view.root = page
        page.set_default_timeout(self.timeout_ms())
        return view

    def watch(self, page: Any) -> None:
        """Collect the page's downloads, answer its dialogs and close its overlays (every page of the session)."""
        page.on("download", lambda item: self.shared.downloads.append(item))
        page.on("dialog", self._on_dialog)
        for name in self.settings.dismiss:
            overlay = page.locator(self.selector(name))

            def close(loc: Any, what: str = name) -> None:
                log.info("closing overlay %s", what)
                loc.click()

            page.add_locator_handler(overlay, close)

    def on_new_page(self, page: Any) -> None:
        """A window opened: kept for ``wait_for_any(popup=True)``, or closed (``popups: close``)."""
        if self.settings.popups == "close" and not self.shared.expecting_popup:
            log.info("closing a pop-up window the task did not ask for (%s)", self.safe(page.url))
            page.close()
            return
        self.watch(page)
        self.shared.popups.append(page)

    def _on_dialog(self, dialog: Any) -> None:
        message = str(dialog.message)
        self.shared.dialogs.append(message)
        action: str = self.settings.dialogs
        text: str | None = None
        for rule_action, match, rule_text in self.shared.dialog_rules:
            if match is None or match in message:
                action, text = rule_action, rule_text
                break
        if dialog.type == "beforeunload":
            action = "accept"  # "leave this page?": the task asked to leave
        log.info("%s dialog %r: %s", dialog.type, self.safe(message[:200]), action)
        try:
            if action == "accept":
                dialog.accept(*([text] if text is not None else []))
            else:
                dialog.dismiss()
        except Exception as exc:  # the page went away meanwhile
            log.debug("dialog already handled: %s", exc)


def placed(exc: OpskitError, step: Step, safe: Callable[[str], str], where: str | None) -> None:
    """Make ``exc`` name ``step``'s task line, carry no secret (a URL or a page's text may hold one), and say
    ``where`` the failure's artifacts are."""
    message = exc.message
    if step.where and f"({step.where})" not in message:
        message = message.replace(f"step '{step}'", step.called, 1)
    exc.args = (safe(message), *exc.args[1:])
    if exc.hint:
        exc.hint = safe(exc.hint)
    if where and where not in str(exc.hint or ""):
        exc.hint = f"{exc.hint}. {where}" if exc.hint else where


def source_url(base: str, path: str) -> str:
    """``path`` relative to a source's ``base`` url: a hash route, a path, or a full URL as it is."""
    if path.startswith("#"):
        return base.rstrip("/") + "/" + path
    return urljoin(base.rstrip("/") + "/", path.lstrip("/"))


def task_line() -> str | None:
    """``file:line`` of the first caller outside opskit's browser package (the task's line)."""
    frame = sys._getframe(2)
    while frame is not None:
        file = frame.f_code.co_filename
        if not file.startswith((_OPSKIT, sys.prefix, sys.base_prefix, "<")) and "site-packages" not in file:
            return f"{_short(file)}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _short(file: str) -> str:
    path = Path(file)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return "/".join(path.parts[-2:])


def _count(locator: Any) -> int:
    try:
        return int(locator.count())
    except Exception:  # the page is between documents
        return 0


def server_error(exc: BaseException) -> bool:
    return isinstance(exc, ServerError)
