"""Tables to rows: a ``<table>`` or an ARIA grid, one page, every page behind a "next" button, or every
row of a list that loads more as it is scrolled.

Each read is one round trip: header texts and the cell texts of every body row. A paginated table is read,
its next button clicked, and read again once its rows changed, until the button is gone or disabled. A
scrolling table is scrolled to its last row (inside its own scrolling box, and the window) until no new
rows arrive within ``settle`` seconds or the ``end`` element shows. Lists that drop the rows scrolled past
(virtual lists) need a ``key`` column to collect rows by; without one, rows are taken as the page shows them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from opskit.browser.errors import BrowserError

if TYPE_CHECKING:
    from opskit.browser.session import Session

log = logging.getLogger(__name__)

READ_JS = r"""
(root) => {
  const text = (c) => (c.innerText || c.textContent || "").trim();
  let t = root;
  if (!(t.tagName === "TABLE" || ["table", "grid", "treegrid"].includes(t.getAttribute("role")))) {
    t = root.querySelector("table, [role=table], [role=grid], [role=treegrid]") || root;
  }
  if (t.tagName === "TABLE") {
    let head = t.tHead && t.tHead.rows.length ? t.tHead.rows[t.tHead.rows.length - 1] : null;
    const all = Array.from(t.rows);
    if (!head && all.length && Array.from(all[0].cells).every((c) => c.tagName === "TH")) head = all[0];
    const inside = (part, r) => part && part.contains(r);
    const body = all.filter((r) => r !== head && !inside(t.tHead, r) && !inside(t.tFoot, r));
    return [head ? Array.from(head.cells).map(text) : [], body.map((r) => Array.from(r.cells).map(text))];
  }
  const headers = Array.from(t.querySelectorAll("[role=columnheader]")).map(text);
  const rows = Array.from(t.querySelectorAll("[role=row]"))
    .filter((r) => !r.querySelector("[role=columnheader]"))
    .map((r) => Array.from(r.querySelectorAll("[role=cell], [role=gridcell], [role=rowheader]")).map(text));
  return [headers, rows];
}
"""

SCROLL_JS = r"""
(root) => {
  const rows = root.querySelectorAll("tr, [role=row]");
  const last = rows[rows.length - 1] || root;
  last.scrollIntoView({ block: "end" });
  for (let e = root; e; e = e.parentElement) {
    const style = getComputedStyle(e);
    if (/(auto|scroll)/.test(style.overflowY) && e.scrollHeight > e.clientHeight) e.scrollTop = e.scrollHeight;
  }
  window.scrollTo(0, document.documentElement.scrollHeight);
}
"""

DISABLED_JS = r"""
(e) => e.disabled === true || e.getAttribute("aria-disabled") === "true" || e.classList.contains("disabled")
  || (e.tagName === "A" && !e.hasAttribute("href")) || !!e.closest(".disabled, [aria-disabled=true]")
"""


class Table(NamedTuple):
    """A table read from a page: header texts and rows of cell texts (``headers, rows = s.table(...)``)."""

    headers: list[str]
    rows: list[list[str]]

    def records(self) -> list[dict[str, str]]:
        """The rows as dicts by header text (cells past the headers are left out)."""
        return [dict(zip(self.headers, row, strict=False)) for row in self.rows]

    def column(self, header: str) -> list[str]:
        """One column's texts, by header text.

        Raises:
            BrowserError: no such header (the message lists the headers).
        """
        if header not in self.headers:
            raise BrowserError(f"the table has no column '{header}'", hint=f"Columns: {', '.join(self.headers)}")
        index = self.headers.index(header)
        return [row[index] if index < len(row) else "" for row in self.rows]


def read_table(
    s: Session,
    name: str,
    *,
    next: str | None,  # noqa: A002
    scroll: bool,
    end: str | None,
    key: str | int | None,
    max_pages: int,
    max_rows: int | None,
    settle: float,
) -> Table:
    """The implementation of ``Session.table`` (see there)."""
    if next and scroll:
        raise ValueError("a table is paginated (next=) or scrolling (scroll=True), not both")
    with s._act("read table", name) as loc:
        table = loc.first
        headers, rows = _read(table)
        deadline = time.monotonic() + settle
        while not rows and time.monotonic() < deadline:  # an app still fetching its rows
            s.page.wait_for_timeout(50)
            if s.auto_login and s.signin.signed_out():  # ... or showing the sign-in form instead
                s._relogin(s.shared.intended)
                table = s._find(name, s.selector(name)).first
                deadline = time.monotonic() + settle
            headers, rows = _read(table)
        if next:
            rows = _pages(s, table, next, rows, max_pages, max_rows)
        elif scroll:
            headers, rows = _scroll(s, table, end, key, headers, rows, max_pages, max_rows, settle)
    if max_rows is not None:
        rows = rows[:max_rows]
    return Table(list(headers), [list(r) for r in rows])


def _read(table: Any) -> tuple[list[str], list[list[str]]]:
    """One read of the table; empty while it is being replaced (a new page, a re-render)."""
    try:
        headers, rows = table.evaluate(READ_JS, timeout=2000)
    except Exception:
        return [], []
    return headers, rows


def _pages(s: Session, table: Any, next_name: str, rows: list[Any], max_pages: int, max_rows: int | None) -> list[Any]:
    pages = 1
    collected = list(rows)
    while pages < max_pages and (max_rows is None or len(collected) < max_rows):
        button = s.locator_for(next_name).first
        if not button.count() or not button.is_visible() or button.evaluate(DISABLED_JS):
            break
        before = rows
        s.click(next_name)
        deadline = time.monotonic() + s.settings.action_timeout.total_seconds()
        while True:
            _, rows = _read(table)
            rows = rows or before  # a new page: the locator finds the new table once it is there
            if rows != before:
                break
            if time.monotonic() >= deadline:
                raise BrowserError(
                    f"step 'read table': the table did not change after clicking '{next_name}' at {s.page.url}"
                )
            s.page.wait_for_timeout(50)
        collected += rows
        pages += 1
    log.info("read %d rows from %d page(s)", len(collected), pages)
    return collected


def _scroll(
    s: Session,
    table: Any,
    end: str | None,
    key: str | int | None,
    headers: list[str],
    rows: list[Any],
    max_pages: int,
    max_rows: int | None,
    settle: float,
) -> tuple[list[str], list[Any]]:
    key_index = _key_index(headers, key)
    kept: dict[Any, list[str]] = {}
    order: list[list[str]] = []
    shrank = False

    def keep(found: list[list[str]]) -> None:
        for row in found:
            ident = row[key_index] if key_index is not None and key_index < len(row) else tuple(row)
            if ident not in kept:
                kept[ident] = row
                order.append(row)

    keep(rows)
    end_loc = s.locator_for(end).filter(visible=True) if end else None
    scrolls = 0
    while scrolls < max_pages and (max_rows is None or len(order) < max_rows):
        if end_loc is not None and end_loc.count():
            break
        count = len(rows)
        table.evaluate(SCROLL_JS)
        scrolls += 1
        deadline = time.monotonic() + settle
        grew = False
        while time.monotonic() < deadline:
            s.page.wait_for_timeout(100)
            headers_now, now = _read(table)
            if now and now != rows:
                headers = headers_now or headers
                shrank = shrank or len(now) < count
                rows = now
                keep(rows)
                grew = True
                break
            if end_loc is not None and end_loc.count():
                break
        if not grew:
            break
    if key_index is None and not shrank:
        order = rows  # the page kept every row: take them as shown (identical rows stay)
    log.info("read %d rows in %d scroll(s)", len(order), scrolls)
    return headers, order


def _key_index(headers: list[str], key: str | int | None) -> int | None:
    if key is None:
        return None
    if isinstance(key, int):
        return key
    if key not in headers:
        raise BrowserError(f"the table has no column '{key}' to collect rows by", hint=f"Columns: {', '.join(headers)}")
    return headers.index(key)
