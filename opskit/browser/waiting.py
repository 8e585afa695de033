"""Waiting for whichever of several outcomes happens first: ``Session.wait_for_any``.

After a click on a single-page app nothing tells the browser that "the page loaded": the app fetches, then
shows a success banner, or an error banner, or a new route, or starts a download. ``wait_for_any`` polls
all of them together (each check one round trip to the browser; polling.py says how often) and returns the first that
happened as an ``Outcome``, a string equal to its name::

    s.click("save_button")
    outcome = s.wait_for_any("saved_banner", "error_banner", url="**/appeals/*/done")
    if outcome == "error_banner":
        ...

Downloads and pop-up windows are collected by the session as they happen, so one that arrived during the
click is not missed.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.browser.downloads import save_download
from opskit.browser.errors import BrowserError, ServerError, SessionExpired
from opskit.browser.polling import POLL_MS, next_poll
from opskit.browser.scan import closest

if TYPE_CHECKING:
    from opskit.browser.session import Session


class Outcome(str):
    """What ``wait_for_any`` saw first. Equal to its name (``outcome == "saved_banner"``).

    Attributes:
        text: The element's text (for an element outcome).
        url: The page's URL when it happened.
        path: The saved file, for ``download``.
        popup: A ``Session`` on the new window, for ``popup``.
    """

    text: str
    url: str
    path: Path | None
    popup: Session | None

    def __new__(cls, name: str, *, text: str = "", url: str = "", path: Path | None = None, popup: Any = None):
        outcome = super().__new__(cls, name)
        outcome.text, outcome.url, outcome.path, outcome.popup = text, url, path, popup
        return outcome


def url_matcher(pattern: str | re.Pattern[str]) -> Callable[[str], bool]:
    """A test of a page's URL: a compiled regex (searched), a glob with ``*`` (``**/orders/*``, matched
    against the whole URL and against its path-and-after), or text the URL must contain."""
    if isinstance(pattern, re.Pattern):
        return lambda url: bool(pattern.search(url))
    if "*" in pattern or "?" in pattern:

        def glob(url: str) -> bool:
            tail = re.sub(r"^[a-z]+://[^/]+", "", url)
            return fnmatch.fnmatchcase(url, pattern) or fnmatch.fnmatchcase(tail, pattern.lstrip("*"))

        return glob
    return lambda url: pattern in url


def wait_for_any(
    s: Session,
    names: Iterable[str],
    *,
    url: str | re.Pattern[str] | None = None,
    url_changed: bool = False,
    download: bool = False,
    popup: bool = False,
    gone: Iterable[str] = (),
    errors: Iterable[str] = (),
    timeout: float | None = None,
    reload: float | None = None,
    on_timeout: Callable[[], Exception] | None = None,
) -> Outcome:
    """The implementation of ``Session.wait_for_any`` (see its docstring)."""
    names, gone, errors = list(names), list(gone), list(errors)
    page = s.page
    wanted = [*names, *(f"gone {g}" for g in gone)]
    if url is not None:
        wanted.append(f"url {url}")
    if url_changed:
        wanted.append("a new URL")
    if download:
        wanted.append("a download")
    if popup:
        wanted.append("a pop-up window")
    s.begin("wait for " + " | ".join([*wanted, *errors]) if wanted or errors else "wait")
    seconds = s.settings.action_timeout.total_seconds() if timeout is None else timeout
    deadline = time.monotonic() + seconds
    start_url = s.shared.clicked_at or page.url
    matches_url = url_matcher(url) if url is not None else None
    shown = {n: s.locator_for(n).filter(visible=True) for n in names}
    hidden = {g: s.locator_for(g).filter(visible=True) for g in gone}
    bad = {e: s.locator_for(e).filter(visible=True) for e in errors}
    pause = POLL_MS
    next_reload = time.monotonic() + (reload or 0)
    while True:
        for name, loc in shown.items():
            if _count(loc):
                return Outcome(name, text=_text(loc), url=page.url)
        for loc in bad.values():
            if _count(loc):
                text = _text(loc)
                raise ServerError(f"{page.url} shows '{text}' at step '{s.shared.step}'")
        for name, loc in hidden.items():
            if not _count(loc):
                return Outcome(f"gone {name}", url=page.url)
        if download and s.shared.downloads:
            item = s.shared.downloads.pop(0)
            return Outcome("download", url=page.url, path=save_download(s, item))
        if popup and s.shared.popups:
            window = s.shared.popups.pop(0)
            window.wait_for_load_state("load", timeout=s.timeout_ms())  # not its about:blank start
            return Outcome("popup", url=page.url, popup=s.adopt(window))
        if matches_url is not None and matches_url(page.url):
            return Outcome("url", url=page.url)
        if url_changed and page.url != start_url:
            return Outcome("url", url=page.url)
        s.check_page()
        if s.auto_login and s.signin.signed_out():
            if s.shared.acted:  # what the task did is lost: ``run`` signs in and does the step again
                raise SessionExpired(f"signed out at step '{s.shared.step}' ({s.safe(page.url)})")
            step = s.shared.step
            s._relogin(s.shared.intended)  # an app that showed its sign-in form late: sign in, wait on
            s.shared.step = step
            deadline = time.monotonic() + seconds
            continue
        now = time.monotonic()
        left = deadline - now
        if reload is not None and left > 0 and now >= next_reload:
            try:  # a status page that shows the outcome only when loaded again
                page.reload(wait_until="domcontentloaded")
            except Exception:  # raced with the page's own navigation: it is loading anyway
                pass
            next_reload = time.monotonic() + reload
            continue
        if left <= 0:
            if on_timeout is not None:
                raise on_timeout()

            close = [c for n in names for c in closest(s.root, s.selectors.shown(n))][:5]
            raise BrowserError(
                f"step '{s.shared.step}': none of {', '.join(wanted) or 'the outcomes'} within {seconds:g}s "
                f"at {page.url}",
                hint=("Closest on the page: " + "; ".join(close)) if close else None,
            )
        until_reload = (next_reload - now) * 1000 if reload is not None else pause
        page.wait_for_timeout(max(1.0, min(pause, left * 1000, until_reload)))
        pause = next_poll(pause)


def _count(locator: Any) -> int:
    try:
        return int(locator.count())
    except Exception:  # the page is between documents
        return 0


def _text(locator: Any) -> str:
    try:
        return " ".join(str(locator.first.inner_text(timeout=1000)).split())
    except Exception:
        return ""
