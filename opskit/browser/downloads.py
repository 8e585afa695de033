"""Files from a web app into the run folder: by a click, by a background export's link, or by URL.

Every file is written atomically (``ctx.output``) under a *safe* form of the name the server chose: no path
separators, no control characters, no names Windows reserves, short enough for the file system (with room
for opskit's temporary name), extension kept. A name already taken in the folder gets ``-2``, ``-3`` ...

A URL (a link's ``href``, or ``download(url=...)``) is fetched over HTTP with the session's cookies and
user agent, streamed to disk: as fast as a plain HTTP client, and the browser (perhaps a shared one) never
holds the file.
"""

from __future__ import annotations

import logging
import os
import re
import time
import unicodedata
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from opskit.browser.errors import ExportTimeout, ServerError, SessionExpired
from opskit.browser.polling import POLL_MS, next_poll

if TYPE_CHECKING:
    from opskit.browser.session import Session

log = logging.getLogger(__name__)

MAX_NAME_BYTES = 200
"""The longest file name opskit saves (UTF-8 bytes): 255 is the usual limit, and the temporary name adds a
prefix and a suffix, and a taken name a counter."""
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def safe_filename(name: str, *, fallback: str = "download", limit: int = MAX_NAME_BYTES) -> str:
    """A file name that is safe to create in a folder, from whatever a server sent.

    Keeps the last path component only, replaces control characters and ``<>:"/\\|?*`` with ``_``, drops
    leading dots and spaces (no hidden files, no ``..``), avoids names Windows reserves (``CON``, ``NUL.txt``),
    and cuts the stem so the name fits ``limit`` UTF-8 bytes, keeping the extension (``.csv``, ``.tar.gz``).
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = "".join("_" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    text = _UNSAFE.sub("_", text).strip().lstrip(". ").rstrip(". ")
    if not text or set(text) <= {"_"}:
        text = fallback
    stem, suffix = _split_suffix(text)
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    room = limit - len(suffix.encode("utf-8"))
    if len(stem.encode("utf-8")) > room:
        stem = stem.encode("utf-8")[: max(room, 1)].decode("utf-8", "ignore").rstrip(" .") or fallback
    return stem + suffix


def _split_suffix(name: str) -> tuple[str, str]:
    """``report.tar.gz`` -> (``report``, ``.tar.gz``); an extension is short and alphanumeric."""
    parts = name.split(".")
    suffix = ""
    while len(parts) > 1 and re.fullmatch(r"[A-Za-z0-9]{1,8}", parts[-1]) and len(suffix) < 12:
        suffix = "." + parts.pop() + suffix
        if len(parts) > 1 and parts[-1].lower() not in ("tar",):
            break
    return ".".join(parts), suffix


def free_name(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext`` ... whichever does not exist yet."""
    n, candidate = 1, path
    stem, suffix = _split_suffix(path.name)
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{stem}-{n}{suffix}")
    return candidate


def filename_from_headers(disposition: str | None, url: str) -> str:
    """The server's file name: ``Content-Disposition`` (``filename*=UTF-8''...`` or ``filename=``), else the
    URL's last path component."""
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        found = message.get_filename()
        if found:
            return str(found)
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def download(
    s: Session,
    name: str | None,
    *,
    url: str | None,
    status: str,
    link: str,
    folder: Path | None,
    filename: str | None,
) -> Path:
    """The implementation of ``Session.download`` (see there)."""
    if (name is None) == (url is None):
        raise ValueError("download() needs an element to click or a url=, not both")
    if url is not None:
        with s._act(f"download {url}"):
            return fetch(s, s.url(url), folder=folder, filename=filename)
    assert name is not None
    deadline = time.monotonic() + s.settings.download_timeout.total_seconds()

    def too_slow() -> Exception:
        return ExportTimeout(
            f"step '{s.shared.step}': the export was not ready after "
            f"{s.settings.download_timeout.total_seconds():g}s at {s.page.url}"
        )

    s.click(name, navigates=False)
    status_css = s.selector(status)
    waited = s.begin("wait for export", None, status_css)
    started = time.monotonic()
    found = _wait(s, deadline, too_slow, status_css)
    if found == "download":
        return save_download(s, s.shared.downloads.pop(0), folder=folder, filename=filename)
    s.page.wait_for_load_state()
    s.check_page()
    ready = s.page.locator(f"{status_css}:not([data-status='running'])")
    refresh = None
    if s.page.locator(status_css).first.get_attribute("data-status") == "running":
        polled = _poll_status(s, status_css, _css_or_none(s, link), deadline, too_slow)
        if polled is None:
            refresh = 0.25  # not plain CSS: reload the page itself, four times a second
        elif polled.get("href") and polled.get("state") in ("done", "ready"):
            # The link is known: fetch it now; the page shows the result meanwhile (not waited for).
            _log_wait(waited, started)
            user_agent(s)  # asked before the page reloads (it cannot answer while it does)
            _reload_later(s)
            with s._act("download from", link, wait=False):  # the page is reloading: the link is known
                return fetch(s, str(polled["href"]), folder=folder, filename=filename)
        elif polled.get("state") == "unknown":  # the answer has no status: the app renders it (or signed out)
            if polled.get("stopped"):
                _reload(s)  # its own refresh was stopped: the page shows what is true again
        elif polled.get("state") != "download":
            _reload(s)
    if _wait(s, deadline, too_slow, ready, refresh=refresh) == "download":
        return save_download(s, s.shared.downloads.pop(0), folder=folder, filename=filename)
    s.check_page()
    _log_wait(waited, started)
    state = s.page.locator(status_css).first.get_attribute("data-status")
    if state not in (None, "done", "ready"):
        text = " ".join(s.page.locator(status_css).first.inner_text().split())
        raise ServerError(f"the export failed at {s.page.url}: {text}")
    link_loc = s.locator_for(link).first
    link_loc.wait_for(timeout=max(1.0, (deadline - time.monotonic()) * 1000))
    href = link_loc.get_attribute("href")
    if href and not href.startswith(("javascript:", "blob:", "data:", "#")):
        with s._act("download from", link):
            return fetch(s, s.url(href) if not href.startswith("http") else href, folder=folder, filename=filename)
    with s.page.expect_download(timeout=max(1.0, (deadline - time.monotonic()) * 1000)) as info:
        s.click(link, navigates=False)
    return save_download(s, info.value, folder=folder, filename=filename)


STATUS_JS = r"""
async ([css, linkCss, waited, budget, least, most]) => {
  // The page's own refresh would end this script (and render the page again): it is reloaded when done.
  // An answer without the status (an app that renders it itself, a sign-in page) is "unknown".
  const stopped = !!document.querySelector('meta[http-equiv="refresh" i]');
  if (stopped) window.stop();
  const start = Date.now();
  for (;;) {
    const answer = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    const status = page.querySelector(css);
    if (!status || !status.hasAttribute("data-status")) return { state: "unknown", href: null, stopped };
    const state = status.getAttribute("data-status");
    const every = Math.min(most, Math.max(least, (waited + Date.now() - start) / 10));
    if (state !== "running" || Date.now() + every >= start + budget) {
      let href = null;
      if (state !== "running" && linkCss) {
        let raw = null;
        try {
          const link = page.querySelector(linkCss);
          raw = link ? link.getAttribute("href") : null;
        } catch (notCss) {}  // a selector only Playwright reads: the link is read from the page instead
        if (raw && !/^(javascript|blob|data):|^#/i.test(raw)) href = new URL(raw, answer.url).href;
      }
      return { state, href };
    }
    await new Promise((wake) => setTimeout(wake, every));
  }
}
"""
STATUS_POLL_MS = (100, 1000)
"""How often a status page is fetched while an export is prepared: every tenth of the time waited so far, at
least every second and at most ten times a second. A finished export is seen within a tenth of the time it
took (0.1 s for a quick one), and a long one costs next to nothing."""
STATUS_BUDGET_MS = 1000
"""How long one look from Python lets the page poll by itself: between two looks Python checks its deadline
and the downloads the session collected."""


def _css_or_none(s: Session, name: str) -> str | None:
    """The plain CSS of a selector name (what ``querySelector`` in the page understands), else None."""
    css = s.selector(name)
    if re.match(r"^[a-z_:-]+=", css) or css.startswith(("//", "xpath", "text", "role", "internal:")) or ">>" in css:
        return None
    return css


def _poll_status(s: Session, status_css: str, link_css: str | None, deadline: float, too_slow: Any) -> dict | None:
    """Wait for a status page's ``data-status`` to leave "running"; its last state and the ready link's URL.

    The page fetches itself (``location.href``) as often as ``STATUS_POLL_MS`` says and reads the status from
    the answer, as a plain HTTP client would: one small request each time, no render, and one round trip to
    the browser a second. Its own refresh (``<meta http-equiv="refresh">``) is stopped meanwhile (reloading a
    page costs a render, about 0.1 CPU-second for one of the console's: on a small machine that slows the
    very server being waited for). A state of "unknown" means the answer has no status element with a
    ``data-status``: an app that renders it with its own code (it is waited for on the page, never
    reloaded), or a sign-in page. Returns None when the status selector is not plain CSS (the caller
    reloads the page instead).
    """
    if _css_or_none(s, status_css) is None:
        return None
    started = time.monotonic()
    while True:
        if s.shared.downloads:
            return {"state": "download", "href": None}
        left = deadline - time.monotonic()
        if left <= 0:
            raise too_slow()
        budget = min(STATUS_BUDGET_MS, max(left * 1000, STATUS_POLL_MS[0]))
        waited = (time.monotonic() - started) * 1000
        try:
            found = s.page.evaluate(STATUS_JS, [status_css, link_css, waited, budget, *STATUS_POLL_MS])
        except Exception as exc:  # the page replaced itself meanwhile: ask again; a selector it cannot read: no
            if "SyntaxError" in str(exc) or "not a valid selector" in str(exc):
                return None
            found = {"state": "running", "href": None}
        if found.get("state") != "running":
            return dict(found)


def _log_wait(step: Any, started: float) -> None:
    log.info("%s in %.2fs%s", step, time.monotonic() - started, step.place)


def _reload(s: Session) -> None:
    """Reload the page to show the result (waiting for it)."""
    try:
        s.page.reload(wait_until="domcontentloaded")
    except Exception:  # raced with the page's own refresh: it shows the result either way
        pass


def _reload_later(s: Session) -> None:
    """Start reloading the page without waiting for it (the next action waits for its element)."""
    try:
        s.page.evaluate("() => { setTimeout(() => location.reload(), 0); }")
    except Exception:  # the page is between documents: it is loading anyway
        pass


def _wait(s: Session, deadline: float, too_slow: Any, target: Any, *, refresh: float | None = None) -> str:
    """Wait for a download or ``target`` (CSS or locator) until ``deadline``; "download" or "target"."""
    loc = s.page.locator(target) if isinstance(target, str) else target
    next_refresh = time.monotonic() + (refresh or 0)
    pause = POLL_MS
    while True:
        if s.shared.downloads:
            return "download"
        try:
            if loc.count():
                return "target"
        except Exception:  # a page between documents
            pass
        s.check_page()
        if s.auto_login and s.signin.signed_out():
            raise SessionExpired(f"signed out at step '{s.shared.step}' ({s.page.url})")
        now = time.monotonic()
        if now >= deadline:
            raise too_slow()
        if refresh is not None and now >= next_refresh:
            next_refresh = now + refresh
            try:
                s.page.reload(wait_until="domcontentloaded")
            except Exception:  # raced with the page's own refresh: fine
                pass
            continue
        s.page.wait_for_timeout(min(pause, (deadline - now) * 1000, (next_refresh - now) * 1000 if refresh else pause))
        pause = next_poll(pause)


def save_download(s: Session, item: Any, *, folder: Path | None = None, filename: str | None = None) -> Path:
    """Save a Playwright ``Download`` into the run folder, atomically, under a safe name."""
    target = free_name((folder or s.ctx.folder) / safe_filename(filename or item.suggested_filename))
    s.begin(f"save download {target.name}")
    with s.ctx.output(target) as tmp:
        item.save_as(tmp)
        failure = item.failure()
        if failure:
            raise ServerError(f"the download from {item.url} failed: {failure}")
    log.info("downloaded %s (%d bytes)", target.name, target.stat().st_size)
    return target


def user_agent(s: Session) -> str:
    """The browser's user agent (asked once per session: it does not change)."""
    if s.shared.user_agent is None:
        s.shared.user_agent = str(s.page.evaluate("navigator.userAgent"))
    return s.shared.user_agent


def fetch(s: Session, url: str, *, folder: Path | None = None, filename: str | None = None) -> Path:
    """GET ``url`` with the session's cookies and user agent, streamed atomically into the run folder.

    Raises:
        SessionExpired: the server answered 401/403, or sent a page instead of the file after a redirect
            (a sign-in page).
        ServerError: HTTP 5xx after retries, or another HTTP error.
    """
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in s.context.cookies([url]))
    headers = {"User-Agent": user_agent(s), "Referer": s.page.url, **({"Cookie": cookies} if cookies else {})}
    http = s.ctx.http
    timeout = (10, s.settings.download_timeout.total_seconds())
    with http.get(url, headers=headers, stream=True, timeout=timeout, verify=s.source.verify_tls) as response:
        kind = response.headers.get("Content-Type", "")
        if response.status_code in (401, 403) or (response.history and kind.startswith("text/html")):
            raise SessionExpired(f"the download {url} was refused (HTTP {response.status_code}): signed out?")
        if response.status_code >= 400:
            raise ServerError(f"HTTP {response.status_code} from {url} at step '{s.shared.step}'")
        name = filename or filename_from_headers(response.headers.get("Content-Disposition"), response.url)
        target = free_name((folder or s.ctx.folder) / safe_filename(name))
        with s.ctx.output(target) as tmp, open(tmp, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
    os.utime(target)
    log.info("downloaded %s (%d bytes)", target.name, target.stat().st_size)
    return target
