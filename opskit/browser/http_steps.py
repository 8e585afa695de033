"""Session steps over plain HTTP, with the browser's saved sign-in: no browser while the pages need none.

With ``browser.http: auto`` a session starts without Chromium. ``HttpSession`` does the steps a page's HTML
fully describes (open a page, fill and send its forms, follow links, read text and tables, wait for a
background export and download it), sending the cookies of the source's saved sign-in, as a browser would.
The first step it cannot do for certain (``errors.NeedsBrowser``: a page with scripts, a selector only
Playwright reads, a sign-in form, an element the HTML lacks) hands the session to a real browser
(``hybrid.py``), which opens the same page, re-types the fields the task changed there, and does the step.

Each step logs one line as the browser's do (``click search_button in 0.04s (tasks/export_cases.py:121),
over HTTP``), and errors name the step and the task's line in the same words.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests  # imported with a session over HTTP only (launch.py), never by `runner.py list`

from opskit.browser import saved_signin
from opskit.browser.charsets import form_charset, response_charset
from opskit.browser.core import Step, server_error, source_url, task_line
from opskit.browser.downloads import filename_from_headers, free_name, safe_filename
from opskit.browser.errors import BrowserError, ExportTimeout, ServerError, SessionExpired
from opskit.browser.selectors import SelectorMap
from opskit.browser.signin import PASSWORD
from opskit.browser.static import Edit, NeedsBrowser, StaticPage, attr, hidden, join, looks_disabled, read_table, shows
from opskit.browser.tables import Table
from opskit.errors import SourceUnavailable, did_you_mean
from opskit.sources.retry import Backoff, call_with_retries

if TYPE_CHECKING:
    from opskit.config.browser import BrowserSettings
    from opskit.config.model import SourceConfig
    from opskit.context import RunContext

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_POLL_S = (0.1, 1.0)
"""A status page is fetched again every tenth of the time waited so far, at least every 0.1 s and at most
every second (the browser's status polling uses the same rule, downloads.STATUS_POLL_MS)."""
HTTP_METHODS = frozenset(
    "goto reload click fill select check text texts value attribute count exists table download step run login "
    "signed_in url selector on_dialog dismiss".split()
)
"""What an ``HttpSession`` can do; anything else a task asks of the session starts the browser."""


class HttpSession:
    """The steps of a ``Session`` that need no browser, over HTTP with the saved sign-in (see module doc)."""

    def __init__(self, ctx: RunContext, name: str, source: SourceConfig, state_path: Path):
        self.ctx, self.name, self.source = ctx, name, source
        self.settings: BrowserSettings = source.browser
        self.state_path = state_path
        self.selectors = SelectorMap(name, self.settings.selector_map())
        self.http: requests.Session = requests.Session()
        self.http.headers["User-Agent"] = _user_agent()
        self.http.verify = source.verify_tls
        self._loaded = saved_signin.load(self.http, state_path)
        """The saved sign-in's cookies as loaded ({(name, domain, path): value}); None when there was none."""
        self.page: StaticPage | None = None
        self.labels: list[str] = []
        self.step_now = Step("start")
        self.dialog_rules: list[tuple[str, str | None, str | None]] = []
        self.overlays: list[str] = []
        self.backoff = Backoff(attempts=self.settings.retries + 1, first=0.2, cap=5.0)

    # --- names, places, steps ----------------------------------------------------------------
    def selector(self, name: str) -> str:
        return self.selectors.resolve(name)

    def url(self, path: str) -> str:
        return source_url(self.source.url, path)

    def safe(self, text: str) -> str:
        return self.ctx.redactor.redact(text)

    def begin(self, action: str, name: str | None = None) -> Step:
        label = " > ".join(self.labels) or None
        self.step_now = Step(self.safe(action), name, self.selector(name) if name else None, task_line(), label)
        return self.step_now

    @contextmanager
    def _act(self, action: str, name: str | None = None) -> Iterator[Step]:
        started = time.monotonic()
        step = self.begin(action, name)
        yield step
        log.info("%s in %.2fs%s, over HTTP", step, time.monotonic() - started, step.place)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """A named step (as ``Session.step``)."""
        self.labels.append(self.safe(label))
        started = time.monotonic()
        try:
            yield
        finally:
            self.labels.pop()
        log.info("step '%s' done in %.2fs", self.safe(label), time.monotonic() - started)

    def run(self, step: Callable[[], T], *, name: str | None = None) -> T:
        """As ``Session.run``: a server error re-runs the step (the hybrid session hands sign-ins to the browser)."""

        def attempt() -> T:
            if name:
                with self.step(name):
                    return step()
            return step()

        def worth_retrying(exc: BaseException) -> bool:
            return server_error(exc) and not getattr(exc, "retried", False)

        return call_with_retries(attempt, self.backoff, retry_on_exception=worth_retrying)

    # --- pages ----------------------------------------------------------------------------------
    def _send(self, method: str, url: str, data: list[tuple[str, str]] | None = None, *, stream: bool = False) -> Any:
        headers = _referrer(self.page.url if self.page is not None else None, url, method)
        timeout = (10, (self.settings.download_timeout if stream else self.settings.navigation_timeout).total_seconds())
        body: Any = data
        if data is not None:
            body = _form_body(data, form_charset(self.page.charset) if self.page is not None else "utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            return self.http.request(method, url, data=body, headers=headers, timeout=timeout, stream=stream)
        except (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, requests.exceptions.InvalidURL):
            raise NeedsBrowser("an address only a browser opens") from None
        except requests.ConnectionError as exc:
            raise SourceUnavailable(f"cannot reach {self.source.url} ({type(exc).__name__})") from None
        except requests.Timeout:
            raise BrowserError(f"step '{self.step_now}': the page did not load in time ({self.safe(url)})") from None
        except requests.RequestException as exc:
            raise SourceUnavailable(
                f"{self.safe(url)} failed at step '{self.step_now}' ({type(exc).__name__})"
            ) from None

    def _page(self, response: Any, method: str) -> StaticPage:
        """The page a response shows, checked as the browser session checks pages; not yet the current one.

        After a form post (``method`` not GET) it is as the browser sees a click's answer: a server error is
        only the ``server_error`` element (the post may have been saved: ``run`` re-runs it as the browser
        session does), a signed-out answer is ``SessionExpired`` (the post was refused: ``run`` signs in
        and runs the step again), and a ``NeedsBrowser`` is never replayable (the browser must not post
        again) but names the page the post landed on, which a browser can be shown as it came.
        """
        posted = method != "GET"
        page = None
        try:
            if response.status_code in (401, 403):
                raise NeedsBrowser(f"HTTP {response.status_code}: signed out?")
            if response.status_code >= 500 and not posted:
                where = self.safe(response.url)
                raise ServerError(f"HTTP {response.status_code} from {where} at step '{self.step_now}'")
            kind = response.headers.get("Content-Type", "text/html")
            if "html" not in kind.lower():
                raise NeedsBrowser("the answer is not a page")
            charset = response_charset(response)
            try:
                html = response.content.decode("utf-8-sig" if charset == "utf-8" else charset, errors="replace")
            except (LookupError, UnicodeError):
                raise NeedsBrowser(f"the page's bytes are not {charset}") from None
            page = StaticPage(
                response.url,
                html,
                method=str(response.request.method or method).upper(),
                charset=charset,
                body=response.content,
                content_type=kind,
                status=response.status_code,
            )
            why = page.needs_scripts() or self._signed_out(page)
            refresh = page.meta_refresh()
            if why is None and refresh is not None and refresh[1] and refresh[1] != page.url:
                why = "the page sends the browser elsewhere (meta refresh)"
            if why:
                raise NeedsBrowser(why, page=page)
            self._check_page(page)
            return page
        except NeedsBrowser as why:
            why.page = why.page or page
            if posted:
                refused = response.status_code in (401, 403)
                if refused or (page is not None and self._signed_out_quietly(page)):
                    raise SessionExpired(
                        f"step '{self.step_now}': the form was refused, signed out ({self.safe(response.url)})"
                    ) from None
                why.replayable = False
                why.landed = page
            raise

    def _signed_out_quietly(self, page: StaticPage) -> bool:
        try:
            return self._signed_out(page) is not None
        except NeedsBrowser:  # a sign-in selector only the browser reads: not known to be signed out
            return False

    def _signed_out(self, page: StaticPage) -> str | None:
        """Why ``page`` looks signed out (as ``SignIn.signed_out`` reads a page: visible elements only), or None."""
        recipe = self.settings.login
        if recipe.url and re.search(recipe.url, page.url):
            return "the sign-in page"
        marker = self.settings.login_part("signed_in")
        if marker and shows(page.select(self.selectors.resolve(marker))):
            return None
        form = self.settings.login_part("form")
        if shows(page.select(self.selectors.resolve(form) if form else PASSWORD)):
            return "the sign-in form"
        opener = self.settings.login_part("open")
        if opener and shows(page.select(self.selectors.resolve(opener))):
            return "a sign-in button"
        return None

    def _check_page(self, page: StaticPage) -> None:
        found = page.select(self.selectors.resolve("server_error"))
        if found:
            text = StaticPage.text(found[0])
            raise ServerError(f"{self.safe(page.url)} shows an error at step '{self.step_now}': {self.safe(text)}")

    def _current(self) -> StaticPage:
        if self.page is None:
            raise NeedsBrowser("no page is open yet")
        return self.page

    def _find(self, name: str, *, act: bool = False) -> Any:
        """The first element ``name`` matches; one to act on must show (Playwright waits until it does)."""
        found = self._current().select(self.selector(name))
        if not found:
            raise NeedsBrowser(f"no '{self.selectors.shown(name)}' in the page's HTML")
        if act and hidden(found[0]):
            raise NeedsBrowser(f"'{self.selectors.shown(name)}' is hidden")
        return found[0]

    def goto(self, path: str, *, wait: str = "load") -> None:
        """As ``Session.goto``; a server error is retried with backoff."""
        url = self.url(path)  # a hash route is fetched as its page: an app's has scripts, and hands over

        def once() -> None:
            with self._act(f"open {path}"):
                self.page = self._page(self._send("GET", url), "GET")

        try:
            call_with_retries(once, self.backoff, retry_on_exception=server_error)
        except ServerError as exc:
            exc.retried = True  # type: ignore[attr-defined]  # run() must not retry it again
            raise

    def reload(self) -> None:
        page = self._current()
        if not page.reopenable:
            raise NeedsBrowser("the page came from a form post", replayable=False)
        with self._act("reload"):
            self.page = self._page(self._send("GET", page.url), "GET")

    # --- actions ---------------------------------------------------------------------------------
    def click(self, name: str, *, navigates: bool | None = None, popup: bool = False) -> None:
        """As ``Session.click``: a link is followed, a submit button sends its form.

        A form post whose answer needs the browser is not sent again: the browser opens the page it landed
        on (after a redirect), else the step cannot go on (``NeedsBrowser``, not replayable)."""
        if popup:
            raise NeedsBrowser("a pop-up window")
        with self._act("click", name):
            page = self._current()
            method, url, data = page.request_for_click(self._find(name, act=True))
            self.page = self._page(self._send(method, url, data), method)

    def fill(self, name: str, value: Any) -> None:
        with self._act("fill", name):
            tag = self._find(name, act=True)
            self._current().fill(tag, str(value))
            self._current().edits.append(Edit("fill", name, str(value)))

    def select(self, name: str, value: str) -> None:
        with self._act("select", name):
            tag = self._find(name, act=True)
            if tag.tag != "select":
                raise NeedsBrowser(f"'{self.selectors.shown(name)}' is not a <select>")
            options = StaticPage.options(tag)
            if value not in options:
                raise BrowserError(
                    f"step '{self.step_now}': '{value}' is not an option of '{self.selectors.shown(name)}' "
                    f"at {self.safe(self._current().url)}",
                    hint=did_you_mean(value, [o for o in options if o]),
                )
            StaticPage.choose(tag, value)
            self._current().edits.append(Edit("select", name, value))

    def check(self, name: str, on: bool = True) -> None:
        with self._act("check" if on else "uncheck", name):
            self._current().check(self._find(name, act=True), on)
            self._current().edits.append(Edit("check", name, on))

    # --- reading ---------------------------------------------------------------------------------
    def text(self, name: str) -> str:
        with self._act("read", name):
            return StaticPage.text(self._find(name))

    def texts(self, name: str) -> list[str]:
        with self._act("read all", name):
            return [StaticPage.text(t) for t in self._current().select(self.selector(name))]

    def value(self, name: str) -> str:
        with self._act("read value of", name):
            return StaticPage.value(self._find(name))

    def attribute(self, name: str, attribute: str) -> str | None:
        with self._act(f"read {attribute} of", name):
            tag = self._find(name)
            return attr(tag, attribute) if attribute in tag.attrs else None

    def count(self, name: str) -> int:
        self.begin("count", name)
        return len(self._current().select(self.selector(name)))

    def exists(self, name: str) -> bool:
        return self.count(name) > 0

    def table(
        self,
        name: str,
        *,
        next: str | None = None,  # noqa: A002
        scroll: bool = False,
        end: str | None = None,
        key: str | int | None = None,
        max_pages: int = 1000,
        max_rows: int | None = None,
        settle: float = 2.0,
    ) -> Table:
        """As ``Session.table``, for tables in the HTML; pages behind a "next" link or button are followed."""
        if next and scroll:
            raise ValueError("a table is paginated (next=) or scrolling (scroll=True), not both")
        if scroll:
            raise NeedsBrowser("a scrolling table")
        with self._act("read table", name):
            first = self._current()
            headers, rows = read_table(self._find(name))
            if not rows:
                raise NeedsBrowser("the table has no rows in the HTML")
            pages = 1
            more: list[list[str]] = rows
            try:
                while next and pages < max_pages and (max_rows is None or len(rows) < max_rows):
                    button = self._current().select(self.selector(next))
                    if not button or hidden(button[0]) or looks_disabled(button[0]):
                        break
                    method, url, data = self._current().request_for_click(button[0])
                    if method != "GET":
                        raise NeedsBrowser("the next page is a form post")
                    before = more
                    self.page = self._page(self._send(method, url, data), method)
                    _, more = read_table(self._find(name))
                    if more == before:
                        raise BrowserError(
                            f"step 'read table': the table did not change after clicking '{next}' at "
                            f"{self.safe(self.page.url)}"
                        )
                    rows += more
                    pages += 1
            except NeedsBrowser:
                self.page = first  # the browser reads the table again from its first page
                raise
            if next:
                log.info("read %d rows from %d page(s)", len(rows), pages)
        return Table(headers, rows[:max_rows] if max_rows is not None else rows)

    # --- files -----------------------------------------------------------------------------------
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
        """As ``Session.download``: a file, or a background export's status page waited for and its link."""
        if (name is None) == (url is None):
            raise ValueError("download() needs an element to click or a url=, not both")
        if url is not None:
            with self._act(f"download {url}"):
                return self._save(self._send("GET", self.url(url), stream=True), folder, filename)
        assert name is not None
        deadline = time.monotonic() + self.settings.download_timeout.total_seconds()
        with self._act("click", name):
            page = self._current()
            tag = self._find(name, act=True)
            if tag.tag == "a" and "download" in tag.attrs and attr(tag, "href"):
                method, target, data = "GET", join(page.base(), attr(tag, "href")), None
            else:
                method, target, data = page.request_for_click(tag)
            response = self._send(method, target, data, stream=True)
        if not _is_page(response):
            with self._act("save download"):
                return self._save(response, folder, filename)
        try:
            return self._await_export(response, method, status, link, deadline, folder, filename)
        except NeedsBrowser as exc:
            if method != "GET":
                exc.replayable = False  # the export was started here: the browser cannot take over half-way
                exc.landed = None
            raise

    def _await_export(
        self,
        response: Any,
        method: str,
        status: str,
        link: str,
        deadline: float,
        folder: Path | None,
        filename: str | None,
    ) -> Path:
        page = self._page(response, method)
        self.page = page
        waited = self.begin("wait for export")
        started = time.monotonic()
        while True:
            found = page.select(self.selector(status))
            if not found:
                raise NeedsBrowser(f"no '{self.selectors.shown(status)}' in the answer's HTML")
            state = attr(found[0], "data-status") if "data-status" in found[0].attrs else None
            if state != "running":
                break
            if time.monotonic() >= deadline:
                raise ExportTimeout(
                    f"step '{waited}': the export was not ready after "
                    f"{self.settings.download_timeout.total_seconds():g}s at {self.safe(page.url)}"
                )
            pause = min(STATUS_POLL_S[1], max(STATUS_POLL_S[0], (time.monotonic() - started) / 10))
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            page = self._page(self._send("GET", page.url), "GET")
            self.page = page
        log.info("%s in %.2fs%s, over HTTP", waited, time.monotonic() - started, waited.place)
        if state not in (None, "done", "ready"):
            raise ServerError(f"the export failed at {self.safe(page.url)}: {self.safe(StaticPage.text(found[0]))}")
        with self._act("download from", link):
            anchor = self._find(link)
            href = attr(anchor, "href")
            if anchor.tag != "a" or not href or href.startswith(("javascript:", "blob:", "data:", "#")):
                raise NeedsBrowser("the export's link is not a plain link")
            return self._save(self._send("GET", join(page.base(), href), stream=True), folder, filename)

    def _save(self, response: Any, folder: Path | None, filename: str | None) -> Path:
        """Stream a file answer atomically into the run folder under a safe name."""
        with response:
            if response.status_code in (401, 403) or (response.history and _is_page(response)):
                raise SessionExpired(
                    f"the download {self.safe(response.url)} was refused (HTTP {response.status_code}): signed out?"
                )
            if response.status_code >= 400:
                where = self.safe(response.url)
                raise ServerError(f"HTTP {response.status_code} from {where} at step '{self.step_now}'")
            name = filename or filename_from_headers(response.headers.get("Content-Disposition"), response.url)
            target = free_name((folder or self.ctx.folder) / safe_filename(name))
            try:
                with self.ctx.output(target) as tmp, open(tmp, "wb") as out:
                    for chunk in response.iter_content(1 << 20):
                        out.write(chunk)
            except requests.RequestException as exc:
                raise ServerError(
                    f"the download from {self.safe(response.url)} broke off ({type(exc).__name__})"
                ) from None
        log.info("downloaded %s (%d bytes)", target.name, target.stat().st_size)
        return target

    # --- sign-in, dialogs, overlays ----------------------------------------------------------------
    def login(self) -> bool:
        """Signed in by the saved sign-in: nothing to do (a signed-out page hands over to the browser)."""
        if self.page is None:
            self.goto(self.source.url)
        return False

    def signed_in(self) -> bool:
        """As ``Session.signed_in``: the ``login.signed_in`` marker shows, when the config names one (a page
        that looked signed out was handed to the browser when it loaded)."""
        page = self._current()
        marker = self.settings.login_part("signed_in")
        return shows(page.select(self.selectors.resolve(marker))) if marker else True

    def on_dialog(self, action: str, *, match: str | None = None, text: str | None = None) -> None:
        """Kept for the browser: pages driven over HTTP have no scripts, hence no dialogs."""
        if action not in ("accept", "dismiss"):
            raise ValueError("on_dialog(action) is 'accept' or 'dismiss'")
        self.dialog_rules.append((action, match, text))

    def dismiss(self, *names: str) -> None:
        """Kept for the browser: a page without scripts shows no overlay to close."""
        self.overlays += names

    # --- the saved sign-in ----------------------------------------------------------------------
    def save_cookies(self) -> None:
        """Write what the server changed in the cookies into the saved sign-in (``saved_signin.save``)."""
        if self._loaded is not None:
            self._loaded = saved_signin.save(self.http.cookies, self.state_path, self._loaded, self.source.url)


def _referrer(page: str | None, url: str, method: str) -> dict[str, str]:
    """``Referer`` (and ``Origin`` for a post) as Chromium sends them (strict-origin-when-cross-origin)."""
    headers: dict[str, str] = {}
    if page is None:
        return headers
    here, there = urlsplit(page), urlsplit(url)
    origin = f"{here.scheme}://{here.netloc}"
    if here.scheme == "https" and there.scheme != "https":
        referer = None  # never from https to http
    elif (here.scheme, here.netloc) == (there.scheme, there.netloc):
        referer = page.split("#", 1)[0]
    else:
        referer = origin + "/"
    if referer:
        headers["Referer"] = referer
    if method != "GET":
        headers["Origin"] = origin
    return headers


def _user_agent() -> str:
    from opskit.sources.http import USER_AGENT  # the one user agent opskit's HTTP clients send

    return USER_AGENT


def _form_body(entries: list[tuple[str, str]], charset: str) -> str:
    """A urlencoded form body in the page's character set, as the browser sends the page's forms."""
    return urlencode(entries, encoding=charset, errors="xmlcharrefreplace")  # checked by StaticPage.submission


def _is_page(response: Any) -> bool:
    kind = response.headers.get("Content-Type", "").lower()
    disposition = response.headers.get("Content-Disposition", "").lower()
    return "text/html" in kind and "attachment" not in disposition
