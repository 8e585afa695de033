"""A page as its HTML says, without a browser: elements by selector, their text, fields and clicks.

``http: auto`` (``http_steps.py``) drives a source's pages with plain HTTP while they need no browser. This
module is what it reads a page with (parsed by lexbor, as browsers parse HTML). It answers only what static
HTML answers for certain; whenever that is not enough it raises ``NeedsBrowser`` naming why, and the session
carries on in Chromium:

- a page with scripts (``<script>`` other than data, or an inline ``on...=`` handler): its scripts may change
  what it shows or what its forms send;
- a selector that is not plain CSS (``role=``, ``text=``, ``xpath=``, chains, Playwright's pseudo-classes);
  ``testid=``, ``placeholder=`` and ``label=`` are read as their HTML says;
- an element that is not in the HTML, a click on anything but a link or a form's submit button, a form the
  browser would send otherwise or not at all (``forms.py``).

Text is read as ``innerText`` reads it without style sheets: line breaks for ``<br>`` and between blocks (two
around a paragraph), tabs between table cells, whitespace collapsed outside ``<pre>``, nothing of what is
``hidden``, ``display:none`` inline, or inside a closed ``<details>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opskit.browser import forms
from opskit.browser.errors import NeedsBrowser
from opskit.browser.forms import SUBMIT_INPUTS, ancestor, attr, disabled, form_of, join, option_value

__all__ = [
    "Edit",
    "NeedsBrowser",
    "StaticPage",
    "ancestor",
    "attr",
    "hidden",
    "join",
    "looks_disabled",
    "read_table",
    "shows",
    "to_css",
]

SCRIPT_TYPES_WITHOUT_CODE = ("application/json", "application/ld+json", "importmap", "text/template", "text/html")
_PLAYWRIGHT_ONLY = re.compile(
    r":(has-text|text|text-is|text-matches|visible|nth-match|right-of|left-of|above|below|near)\("
)
BLOCKS = frozenset(
    "address article aside blockquote body caption center dd details dialog dir div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li listing main menu nav ol p pre section "
    "summary table tbody thead tfoot tr ul xmp".split()
)
"""Elements a browser shows as blocks: their text starts and ends a line."""
NOT_SHOWN = frozenset(
    "script style template noscript head title meta link datalist textarea rp progress meter iframe video audio "
    "canvas object embed select input button".split()
)
"""Elements whose content is no text of the element around them (replaced elements, fallback content)."""
PREFORMATTED = frozenset("pre textarea listing xmp plaintext".split())


@dataclass
class Edit:
    """A change the task made to a field of the current page (replayed in the browser on a switch)."""

    action: str  # fill | select | check
    name: str
    value: Any


@dataclass
class StaticPage:
    """One HTML page fetched over HTTP, and the task's edits to its fields so far."""

    url: str
    html: str
    method: str = "GET"
    """The method of the request that answered with this page (after redirects)."""
    charset: str = "utf-8"
    """The character set the page came in, which its forms are sent in."""
    body: bytes = b""
    """The answer's bytes and its type, as they came: a browser is shown them, never asks again."""
    content_type: str = "text/html"
    status: int = 200
    edits: list[Edit] = field(default_factory=list)
    soup: Any = None

    def __post_init__(self) -> None:
        from selectolax.lexbor import LexborHTMLParser

        self.soup = LexborHTMLParser(self.html)

    @property
    def reopenable(self) -> bool:
        """Whether a browser asking for ``url`` gets this page: it answered a GET (a post's redirect included)."""
        return self.method == "GET"

    def base(self) -> str:
        tag = self.soup.css_first("base[href]")
        return join(self.url, tag.attributes["href"] or "") if tag is not None else self.url

    def needs_scripts(self) -> str | None:
        """Why the page needs its scripts to behave, or None when its HTML is all there is."""
        for script in self.soup.css("script"):
            kind = (script.attributes.get("type") or "").strip().lower()
            if not kind.endswith(SCRIPT_TYPES_WITHOUT_CODE) and kind != "text/plain":
                return "the page has scripts"
        root = self.soup.root
        for tag in root.traverse() if root is not None else ():
            for key in tag.attributes:
                if key.lower().startswith("on"):
                    return f"the page has an inline {key.lower()} handler"
            if tag.tag == "a" and attr(tag, "href").strip().lower().startswith("javascript:"):
                return "the page has javascript: links"
        return None

    def meta_refresh(self) -> tuple[float, str | None] | None:
        """(seconds, URL or None) of the page's ``<meta http-equiv="refresh">``, if it has one."""
        for meta in self.soup.css("meta"):
            if attr(meta, "http-equiv").lower() == "refresh":
                found = re.match(
                    r"\s*(\d+(?:\.\d+)?)\s*(?:[;,]\s*(?:url\s*=\s*)?['\"]?([^'\"]*))?", attr(meta, "content"), re.I
                )
                if found:
                    target = (found.group(2) or "").strip()
                    return float(found.group(1)), (join(self.url, target) if target else None)
        return None

    # --- finding elements ----------------------------------------------------------------------
    def select(self, selector: str) -> list[Any]:
        """The elements ``selector`` (a Playwright selector, as ``SelectorMap.resolve`` gives it) matches.

        Raises:
            NeedsBrowser: the selector is not one the HTML can answer.
        """
        css = to_css(selector)
        if css is not None:
            from selectolax.lexbor import SelectolaxError

            try:  # content of <noscript> is text to a browser that runs scripts
                return [tag for tag in self.soup.css(css) if ancestor(tag, "noscript") is None]
            except (SelectolaxError, ValueError) as exc:
                raise NeedsBrowser(f"'{selector}' is not CSS the page's HTML can answer ({exc})") from None
        label = re.fullmatch(r'internal:label=(".*")([si])', selector)
        if label:
            return self._by_label(json.loads(label.group(1)), exact=label.group(2) == "s")
        raise NeedsBrowser(f"'{selector}' needs the browser's selector engines")

    def _by_label(self, text: str, *, exact: bool) -> list[Any]:
        """Fields whose ``<label>`` (or ``aria-label``) says ``text``, as Playwright's ``label=`` finds them."""

        def says(found: str) -> bool:
            found = " ".join(found.split())
            return found == text if exact else text.lower() in found.lower()

        out: list[Any] = []
        for label in self.soup.css("label"):
            if not says(self.text(label)):
                continue
            if attr(label, "for"):
                target = forms.by_id(self.soup, attr(label, "for"))
            else:
                target = label.css_first("input, select, textarea, button")
            if target is not None and target not in out:
                out.append(target)
        for tag in self.soup.css("[aria-label]"):
            if says(attr(tag, "aria-label")) and tag not in out:
                out.append(tag)
        return out

    # --- reading -------------------------------------------------------------------------------
    @staticmethod
    def text(tag: Any) -> str:
        """The element's text as ``innerText`` gives it without style sheets (see the module docstring), trimmed.

        An element that is not shown itself gives its whole text, as ``innerText`` does."""
        if hidden(tag):
            return str(tag.text(deep=True)).strip()
        items: list[str | int] = []
        _inner_text(tag, items, pre=tag.tag in PREFORMATTED)
        return _joined(items)

    @staticmethod
    def value(tag: Any) -> str:
        """A field's current value (a ``<select>``'s chosen option's)."""
        return forms.value(tag)

    # --- changing fields -------------------------------------------------------------------------
    def fill(self, tag: Any, text: str) -> None:
        forms.fill(tag, text)

    @staticmethod
    def options(tag: Any) -> list[str]:
        """Values and labels of a ``<select>``'s options, interleaved (as the browser session lists them)."""
        out: list[str] = []
        for option in tag.css("option"):
            out += [option_value(option), forms.option_label(option)]
        return out

    @staticmethod
    def choose(tag: Any, value: str) -> None:
        """Choose the option whose value (else label) is ``value``; the others are unchosen.

        Raises:
            NeedsBrowser: the option is disabled (Playwright waits for it to be enabled).
        """
        options = tag.css("option")
        pick = next((o for o in options if option_value(o) == value), None) or next(
            o for o in options if forms.option_label(o) == value
        )
        if disabled(pick) or disabled(tag):
            raise NeedsBrowser("the option or the list is disabled")
        for option in options:  # in a multiple list too: Playwright chooses exactly the options it is given
            if option == pick:
                option.attrs["selected"] = "selected"
            elif "selected" in option.attrs:
                del option.attrs["selected"]

    def check(self, tag: Any, on: bool) -> None:
        kind = forms.input_type(tag)
        if kind not in ("checkbox", "radio") or disabled(tag):
            raise NeedsBrowser(f"<{tag.tag}> is not a checkbox or radio button that can be changed")
        if on and kind == "radio" and attr(tag, "name"):
            owner = form_of(self.soup, tag)
            for other in self.soup.css("input"):
                same = forms.input_type(other) == "radio" and attr(other, "name") == attr(tag, "name")
                if same and form_of(self.soup, other) == owner and "checked" in other.attrs:
                    del other.attrs["checked"]
        if on:
            tag.attrs["checked"] = "checked"
        elif "checked" in tag.attrs:
            if kind == "radio":
                raise NeedsBrowser("a radio button cannot be unchecked")
            del tag.attrs["checked"]

    # --- clicking --------------------------------------------------------------------------------
    def request_for_click(self, tag: Any) -> tuple[str, str, list[tuple[str, str]] | None]:
        """(method, URL, form data or None) of what clicking ``tag`` sends, as a browser would.

        Raises:
            NeedsBrowser: the click is not a plain link or a form's submit button.
        """
        if tag.tag == "a":
            href = attr(tag, "href").strip()
            if not href or href.startswith("#") or attr(tag, "target", "_self") not in ("_self", "_top", "_parent"):
                raise NeedsBrowser("the link opens no page in the same window")
            if "download" in tag.attrs:
                raise NeedsBrowser("the link starts a download")
            return "GET", _drop_fragment(join(self.base(), href)), None
        submitter = tag.tag == "button" and attr(tag, "type", "submit").strip().lower() in ("submit", "")
        submitter = submitter or forms.input_type(tag) in SUBMIT_INPUTS
        if not submitter:
            raise NeedsBrowser(f"clicking <{tag.tag}> needs the page's scripts")
        if disabled(tag):
            raise NeedsBrowser("the button is disabled")
        form = form_of(self.soup, tag)
        if form is None:
            raise NeedsBrowser("the button belongs to no form")
        return self.submission(form, tag)

    def submission(self, form: Any, submitter: Any | None) -> tuple[str, str, list[tuple[str, str]] | None]:
        """(method, URL, entries) of ``form`` submitted by ``submitter`` (``forms.submission``)."""
        return forms.submission(self.soup, form, submitter, base=self.base(), page_url=self.url, charset=self.charset)


def to_css(selector: str) -> str | None:
    """Plain CSS for a Playwright selector, when it is one (``testid=``/``placeholder=`` become CSS)."""
    found = re.fullmatch(r'internal:testid=\[data-testid=(".*")s\]', selector)
    if found:
        return f"[data-testid={forms.css_string(json.loads(found.group(1)))}]"
    found = re.fullmatch(r'internal:attr=\[placeholder=(".*")([si])\]', selector)
    if found:
        flag = " i" if found.group(2) == "i" else ""
        op = "*=" if flag else "="
        return f"[placeholder{op}{forms.css_string(json.loads(found.group(1)))}{flag}]"
    if selector.startswith("css="):
        selector = selector[4:]
    if re.match(r"^[a-z_-]+=", selector) or selector.startswith(("//", "..", "internal:")) or ">>" in selector:
        return None
    if _PLAYWRIGHT_ONLY.search(selector):
        return None
    return selector


def hidden(tag: Any, *, stop: Any = None) -> bool:
    """Whether ``tag`` (up to ``stop``'s parent) is hidden, or holds no text a reader sees."""
    node = tag
    while node is not None and node.is_element_node:
        style = attr(node, "style").replace(" ", "").lower()
        if node.tag in ("script", "style", "template", "noscript") or "hidden" in node.attrs or "display:none" in style:
            return True
        if "visibility:hidden" in style:
            return True
        if stop is not None and node == stop:
            return False
        node = node.parent
    return False


def _inner_text(node: Any, items: list[str | int], *, pre: bool) -> None:
    """Append ``node``'s children's text to ``items``: strings, and required line breaks as counts."""
    summary_seen = False
    closed_details = node.tag == "details" and "open" not in node.attrs
    for child in node.iter(include_text=True):
        if child.tag == "-text":
            if closed_details:
                continue
            text = child.text_content or ""
            items.append(text if pre else _Collapsible(re.sub(r"[ \t\n\r\f]+", " ", text)))
            continue
        if child.tag in NOT_SHOWN or hidden(child, stop=child) or (child.tag == "dialog" and "open" not in child.attrs):
            continue
        if closed_details and (child.tag != "summary" or summary_seen):
            continue
        summary_seen = summary_seen or child.tag == "summary"
        if child.tag == "br":
            items.append("\n")
            continue
        if child.tag in ("td", "th") and any(c.tag in ("td", "th") for c in _earlier_siblings(child)):
            items.append("\t")
        breaks = 2 if child.tag == "p" else 1 if child.tag in BLOCKS else 0
        if breaks:
            items.append(breaks)
        _inner_text(child, items, pre=pre or child.tag in PREFORMATTED)
        if breaks:
            items.append(breaks)


class _Collapsible(str):
    """Text whose spaces collapse (outside ``<pre>``)."""


def _earlier_siblings(node: Any) -> Iterator[Any]:
    sibling = node.prev
    while sibling is not None:
        yield sibling
        sibling = sibling.prev


def _joined(items: list[str | int]) -> str:
    """``innerText``'s last steps: spaces collapse across inline elements and at line ends, runs of required
    line breaks become the largest of them, none at either end."""
    parts: list[str | int] = []
    line: list[str] = []

    def flush() -> None:
        text = "".join(line)
        if all(isinstance(piece, _Collapsible) for piece in line):
            text = re.sub(r" {2,}", " ", text).strip(" ")
        line.clear()
        if text:
            parts.append(text)

    for item in items:
        if isinstance(item, int) or (item in ("\n", "\t") and not isinstance(item, _Collapsible)):
            flush()
            parts.append(item)
        else:
            line.append(item)
    flush()
    out: list[str] = []
    run = 0
    for part in parts:
        if isinstance(part, int):
            run = max(run, part)
            continue
        if run and out:
            out.append("\n" * run)
        run = 0
        out.append(part)
    return "".join(out).strip()


def _drop_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def shows(tags: list[Any]) -> bool:
    """Whether any of ``tags`` shows (not ``type=hidden``, not hidden by an attribute or inline style)."""
    return any(not (tag.tag == "input" and attr(tag, "type").lower() == "hidden") and not hidden(tag) for tag in tags)


def looks_disabled(tag: Any) -> bool:
    """As tables.DISABLED_JS: disabled, aria-disabled, a ``disabled`` class on it or around it, a link
    without ``href``."""
    if "disabled" in tag.attrs or (tag.tag == "a" and "href" not in tag.attrs):
        return True
    node = tag
    while node is not None and node.is_element_node:
        if attr(node, "aria-disabled") == "true" or "disabled" in attr(node, "class").split():
            return True
        node = node.parent
    return False


def read_table(tag: Any) -> tuple[list[str], list[list[str]]]:
    """Header texts and body rows of a ``<table>`` or an ARIA table (as tables.READ_JS reads one)."""
    text = StaticPage.text
    table = tag
    if not (tag.tag == "table" or attr(tag, "role") in ("table", "grid", "treegrid")):
        table = tag.css_first("table, [role=table], [role=grid], [role=treegrid]") or tag
    if table.tag == "table":
        rows = [r for r in table.css("tr") if ancestor(r, "table") == table]
        head_rows = [r for r in rows if ancestor(r, "thead") is not None]
        head = head_rows[-1] if head_rows else None
        if head is None and rows and all(c.tag == "th" for c in cells(rows[0])):
            head = rows[0]
        body = [r for r in rows if r != head and ancestor(r, "thead") is None and ancestor(r, "tfoot") is None]
        headers = [text(c) for c in cells(head)] if head is not None else []
        return headers, [[text(c) for c in cells(r)] for r in body]
    headers = [text(c) for c in table.css("[role=columnheader]")]
    out = []
    for row in table.css("[role=row]"):
        if row.css_first("[role=columnheader]") is None:
            out.append([text(c) for c in row.css("[role=cell], [role=gridcell], [role=rowheader]")])
    return headers, out


def cells(row: Any) -> list[Any]:
    return [c for c in row.iter() if c.tag in ("td", "th")]
