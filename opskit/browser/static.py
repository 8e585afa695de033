"""A page as its HTML says, without a browser: elements by selector, their text, and forms as the browser
would send them.

``http: auto`` (``browser_http.py``) drives a source's pages with plain HTTP while they need no browser. This
module is what it reads a page with. It answers only what static HTML answers for certain; whenever that is
not enough it raises ``NeedsBrowser`` naming why, and the session carries on in Chromium:

- a page with scripts (``<script>`` other than data, or an inline ``on...=`` handler): its scripts may change
  what it shows or what its forms send;
- a selector that is not plain CSS (``role=``, ``text=``, ``xpath=``, chains, Playwright's pseudo-classes);
  ``testid=``, ``placeholder=`` and ``label=`` are read as their HTML says;
- an element that is not in the HTML, a click on anything but a link or a form's submit button, a form that
  uploads files or posts to a dialog.

Forms are sent as the HTML standard builds them (the submitter's ``formaction``/``formmethod`` first; each
named, enabled field in document order; checked boxes only; a ``<select>``'s chosen options, else its first).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

SCRIPT_TYPES_WITHOUT_CODE = ("application/json", "application/ld+json", "importmap", "text/template", "text/html")
SUBMIT_INPUTS = ("submit", "image")
TEXTAREA_VALUE = "data-opskit-value"
"""Where a ``<textarea>`` keeps what the task typed into it (its text is the value it was sent with)."""
_PLAYWRIGHT_ONLY = re.compile(
    r":(has-text|text|text-is|text-matches|visible|nth-match|right-of|left-of|above|below|near)\("
)


class NeedsBrowser(Exception):
    """This step cannot be done from the HTML alone; ``reason`` says why (it goes into the log line)."""

    def __init__(self, reason: str, *, replayable: bool = True, page: StaticPage | None = None):
        super().__init__(reason)
        self.reason = reason
        self.page = page
        """The page that needs the browser, when it is not the session's current one (saved on a failure)."""
        self.replayable = replayable
        """False once a request that changes something (a form post) was sent and its answer is not a page
        a browser can open again by its address: the step cannot be taken over by the browser, only re-run
        (``Session.run``)."""


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
    redirected: bool = False
    charset: str = "utf-8"
    """The character set the page came in, which its forms are sent in."""
    edits: list[Edit] = field(default_factory=list)
    soup: Any = None

    def __post_init__(self) -> None:
        from selectolax.lexbor import LexborHTMLParser

        self.soup = LexborHTMLParser(self.html)

    @property
    def reopenable(self) -> bool:
        """Whether a browser opening ``url`` sees this page: it came from a GET (or a redirect after a post)."""
        return self.method == "GET" or self.redirected

    def base(self) -> str:
        tag = self.soup.css_first("base[href]")
        return urljoin(self.url, tag.attributes["href"] or "") if tag is not None else self.url

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
                    return float(found.group(1)), (urljoin(self.url, target) if target else None)
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

            try:
                return list(self.soup.css(css))
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
                target = self.soup.css_first(f"[id={json.dumps(attr(label, 'for'))}]")
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
        """The element's text, whitespace collapsed (what a reader sees, without the page's CSS)."""
        parts = []
        for piece in tag.traverse(include_text=True):
            if piece.tag == "-text" and not _hidden(piece.parent, stop=tag):
                parts.append(piece.text_content or "")
        return " ".join("".join(parts).split())

    @staticmethod
    def value(tag: Any) -> str:
        """A field's current value (a ``<select>``'s chosen option's)."""
        if tag.tag == "select":
            chosen = _chosen(tag)
            return option_value(chosen[0]) if chosen else ""
        if tag.tag == "textarea":
            return _textarea(tag)
        return attr(tag, "value")

    # --- changing fields -------------------------------------------------------------------------
    def fill(self, tag: Any, text: str) -> None:
        if tag.tag == "textarea":
            tag.attrs[TEXTAREA_VALUE] = text
            return
        kind = attr(tag, "type", "text").lower()
        if tag.tag != "input" or kind in ("checkbox", "radio", "file", "submit", "image", "button", "reset", "hidden"):
            raise NeedsBrowser(f"cannot type into <{tag.tag} type={kind}> without the browser")
        tag.attrs["value"] = text

    @staticmethod
    def options(tag: Any) -> list[str]:
        """Values and labels of a ``<select>``'s options, interleaved (as the browser session lists them)."""
        out: list[str] = []
        for option in tag.css("option"):
            out += [option_value(option), " ".join(option.text().split())]
        return out

    @staticmethod
    def choose(tag: Any, value: str) -> None:
        """Choose the option whose value (else label) is ``value``; the others are unchosen."""
        options = tag.css("option")
        pick = next((o for o in options if option_value(o) == value), None) or next(
            o for o in options if " ".join(o.text().split()) == value
        )
        for option in options:
            if option == pick:
                option.attrs["selected"] = "selected"
            elif "selected" in option.attrs:
                del option.attrs["selected"]

    def check(self, tag: Any, on: bool) -> None:
        kind = attr(tag, "type").lower()
        if tag.tag != "input" or kind not in ("checkbox", "radio"):
            raise NeedsBrowser(f"<{tag.tag}> is not a checkbox or radio button")
        if on and kind == "radio" and attr(tag, "name"):
            owner = form_of(self.soup, tag)
            for other in self.soup.css("input"):
                same = attr(other, "type").lower() == "radio" and attr(other, "name") == attr(tag, "name")
                if same and form_of(self.soup, other) == owner and "checked" in other.attrs:
                    del other.attrs["checked"]
        if on:
            tag.attrs["checked"] = "checked"
        elif "checked" in tag.attrs:
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
            return "GET", _drop_fragment(urljoin(self.base(), href)), None
        submitter = tag.tag == "button" and attr(tag, "type", "submit").lower() == "submit"
        submitter = submitter or (tag.tag == "input" and attr(tag, "type").lower() in SUBMIT_INPUTS)
        if not submitter:
            raise NeedsBrowser(f"clicking <{tag.tag}> needs the page's scripts")
        if _disabled(tag):
            raise NeedsBrowser("the button is disabled")
        form = form_of(self.soup, tag)
        if form is None:
            raise NeedsBrowser("the button belongs to no form")
        return self.submission(form, tag)

    def submission(self, form: Any, submitter: Any | None) -> tuple[str, str, list[tuple[str, str]] | None]:
        """(method, URL, entries) of ``form`` submitted by ``submitter`` (HTML's form submission algorithm)."""

        def pick(name: str) -> str:
            return attr(submitter, name) if submitter is not None else ""

        method = (pick("formmethod") or attr(form, "method") or "get").strip().lower()
        has_action = submitter is not None and "formaction" in submitter.attrs
        action = pick("formaction") if has_action else attr(form, "action")
        enctype = (pick("formenctype") or attr(form, "enctype") or "application/x-www-form-urlencoded").lower()
        if method not in ("get", "post"):
            raise NeedsBrowser(f"the form's method is '{method}'")
        if method == "post" and enctype != "application/x-www-form-urlencoded":
            raise NeedsBrowser(f"the form is sent as {enctype}")
        url = urljoin(self.base(), action.strip()) if action.strip() else self.url
        entries: list[tuple[str, str]] = []
        for tag in self.soup.css("input, select, textarea, button"):
            if form_of(self.soup, tag) != form or _disabled(tag):
                continue
            name = attr(tag, "name")
            kind = attr(tag, "type").lower()
            if tag.tag == "button" or (tag.tag == "input" and kind in ("submit", "image", "reset", "button")):
                if tag == submitter and name and kind != "image":
                    entries.append((name, attr(tag, "value")))
                elif tag == submitter and kind == "image":
                    prefix = f"{name}." if name else ""
                    entries += [(prefix + "x", "0"), (prefix + "y", "0")]
                continue
            if not name:
                continue
            if tag.tag == "select":
                entries += [(name, option_value(o)) for o in _chosen(tag)]
            elif tag.tag == "textarea":
                entries.append((name, _textarea(tag)))
            elif kind in ("checkbox", "radio"):
                if "checked" in tag.attrs:
                    entries.append((name, attr(tag, "value", "on")))
            elif kind == "file":
                raise NeedsBrowser("the form uploads files")
            else:
                entries.append((name, attr(tag, "value")))
        entries = [(_crlf(k), _crlf(v)) for k, v in entries]  # as browsers send line breaks
        try:  # a browser writes what its character set lacks as &#...; entities: that is for the browser
            query = urlencode(entries, encoding=self.charset)
        except UnicodeEncodeError:
            raise NeedsBrowser(f"a value cannot be written in the page's character set ({self.charset})") from None
        if method == "get":
            parts = urlsplit(url)
            return "GET", urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), None
        return "POST", _drop_fragment(url), entries


def to_css(selector: str) -> str | None:
    """Plain CSS for a Playwright selector, when it is one (``testid=``/``placeholder=`` become CSS)."""
    found = re.fullmatch(r'internal:testid=\[data-testid=(".*")s\]', selector)
    if found:
        return f"[data-testid={json.dumps(json.loads(found.group(1)))}]"
    found = re.fullmatch(r'internal:attr=\[placeholder=(".*")([si])\]', selector)
    if found:
        flag = " i" if found.group(2) == "i" else ""
        op = "*=" if flag else "="
        return f"[placeholder{op}{json.dumps(json.loads(found.group(1)))}{flag}]"
    if selector.startswith("css="):
        selector = selector[4:]
    if re.match(r"^[a-z_-]+=", selector) or selector.startswith(("//", "..", "internal:")) or ">>" in selector:
        return None
    if _PLAYWRIGHT_ONLY.search(selector):
        return None
    return selector


def option_value(option: Any) -> str:
    if "value" in option.attrs:
        return attr(option, "value")
    return " ".join(option.text().split())


def form_of(soup: Any, tag: Any) -> Any | None:
    """The form a field belongs to: its ``form=`` attribute's, else the form around it."""
    owner = attr(tag, "form")
    if owner:
        return soup.css_first(f"form[id={json.dumps(owner)}]")
    return ancestor(tag, "form")


def attr(tag: Any, name: str, default: str = "") -> str:
    """An attribute's text ("" for one given without a value, ``default`` for one not given)."""
    if name not in tag.attrs:
        return default
    value = tag.attributes.get(name)
    return "" if value is None else str(value)


def ancestor(tag: Any, name: str) -> Any | None:
    node = tag.parent
    while node is not None and node.tag not in (name, "-undef", "#document"):
        node = node.parent
    return node if node is not None and node.tag == name else None


def _textarea(tag: Any) -> str:
    if TEXTAREA_VALUE in tag.attrs:
        return attr(tag, TEXTAREA_VALUE)
    return str(tag.text(deep=True)).removeprefix("\n")


def _chosen(select: Any) -> list[Any]:
    every = select.css("option")
    chosen = [o for o in every if "selected" in o.attrs]
    if "multiple" in select.attrs:
        return chosen
    if chosen:
        return chosen[-1:]
    return [o for o in every if not _disabled(o)][:1]


def _disabled(tag: Any) -> bool:
    if "disabled" in tag.attrs:
        return True
    node = tag.parent
    while node is not None and node.tag not in ("-undef", "#document"):
        if node.tag == "fieldset" and "disabled" in node.attrs:
            legend = node.css_first("legend")
            inside_legend = legend is not None and ancestor(tag, "legend") == legend
            return not inside_legend
        node = node.parent
    return False


def _hidden(tag: Any, *, stop: Any = None) -> bool:
    """Whether ``tag`` (up to ``stop``'s parent) is hidden, or holds no text a reader sees."""
    node = tag
    while node is not None and node.tag not in ("-undef", "#document"):
        style = attr(node, "style").replace(" ", "").lower()
        if node.tag in ("script", "style", "template", "noscript") or "hidden" in node.attrs or "display:none" in style:
            return True
        if stop is not None and node == stop:
            return False
        node = node.parent
    return False


def _crlf(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", "\r\n", text)


def _drop_fragment(url: str) -> str:
    return url.split("#", 1)[0]
