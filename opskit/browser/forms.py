"""HTML forms without a browser: what a form sends when it is submitted, and what a browser would refuse.

``static.StaticPage`` asks this module what a click on a submit button sends. It follows the HTML standard's
form submission as Chromium implements it (``tests/browser/test_static_forms.py`` compares the two, form by
form): the submitter's ``formaction``/``formmethod``/``formenctype`` first; every enabled, named field whose
form owner is the form (``form=`` attributes included) in document order; checkboxes and radios only when
checked (the last checked radio of a group wins); a ``<select>``'s chosen options that are not disabled (a
one-line ``<select>`` with none chosen sends its first enabled option); values cleaned as browsers clean
them (line breaks out of one-line fields, a ``date`` or ``number`` that is not one is empty); line breaks
sent as CRLF; ``_charset_`` filled in.

A browser does not send a form that fails its checks (``required``, ``pattern``, ``min``/``max``,
``minlength``/``maxlength``, an ``email`` or ``url`` that is not one) unless it has ``novalidate``; such a
form, and what this module does not reproduce (files, ``range``, ``color``, ``datetime-local``, ``step``,
``dirname``, a new window), raise ``NeedsBrowser``: the browser does the step, as it would have.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from opskit.browser.charsets import form_charset
from opskit.browser.errors import NeedsBrowser

ONE_LINE = ("text", "search", "tel", "password", "email", "url")
"""Input types whose value loses its line breaks."""
CHECKED = {
    "date": r"\d{4,}-\d\d-\d\d",
    "month": r"\d{4,}-\d\d",
    "week": r"\d{4,}-W\d\d",
    "time": r"\d\d:\d\d(:\d\d(\.\d{1,3})?)?",
}
"""Input types opskit sends, with the form of a valid value (anything else is sent empty, as browsers do)."""
BROWSER_ONLY = ("file", "range", "color", "datetime-local")
"""Input types whose value only a browser computes."""
SUBMIT_INPUTS = ("submit", "image")
INPUT_TYPES = frozenset(
    "hidden text search tel url email password date month week time datetime-local number range color "
    "checkbox radio file submit image reset button".split()
)
"""The ``<input>`` types browsers know; any other is a text field."""
TYPED = "data-opskit-value"
"""Where a field keeps what the task typed into it (its ``value`` attribute, or a textarea's text, stays what
the page sent: ``attribute("value")`` reads that, as in the browser)."""
_NUMBER = re.compile(r"-?(\d+|\d*\.\d+)([eE][-+]?\d+)?")
_EMAIL = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
WHATWG_NAMES = {"utf-8": "UTF-8", "cp1252": "windows-1252"}


def submission(
    soup: Any, form: Any, submitter: Any | None, *, base: str, page_url: str, charset: str
) -> tuple[str, str, list[tuple[str, str]] | None]:
    """(method, URL, entries) of ``form`` submitted by ``submitter``; entries None for a GET (in the URL).

    Raises:
        NeedsBrowser: the browser would not send it as built here (see the module docstring).
    """

    def pick(name: str) -> str:
        return attr(submitter, name) if submitter is not None else ""

    method = (pick("formmethod") or attr(form, "method") or "get").strip().lower()
    has_action = submitter is not None and "formaction" in submitter.attrs
    action = pick("formaction") if has_action else attr(form, "action")
    enctype = (pick("formenctype") or attr(form, "enctype") or "application/x-www-form-urlencoded").lower()
    target = (pick("formtarget") or attr(form, "target") or "_self").lower()
    if method not in ("get", "post"):
        raise NeedsBrowser(f"the form's method is '{method}'")
    if method == "post" and enctype != "application/x-www-form-urlencoded":
        raise NeedsBrowser(f"the form is sent as {enctype}")
    if target not in ("_self", "_top", "_parent", ""):
        raise NeedsBrowser("the form opens another window")
    validates = "novalidate" not in form.attrs and not (submitter is not None and "formnovalidate" in submitter.attrs)
    url = join(base, action.strip()) if action.strip() else page_url
    fields = [t for t in soup.css("input, select, textarea, button") if form_of(soup, t) == form and not disabled(t)]
    radios = _checked_radios(fields)
    entries: list[tuple[str, str]] = []
    for tag in fields:
        name = attr(tag, "name")
        kind = input_type(tag)
        if "dirname" in tag.attrs:
            raise NeedsBrowser("a field sends its text direction (dirname)")
        if tag.tag == "button" or kind in ("submit", "image", "reset", "button"):
            if tag == submitter and kind == "image":
                prefix = f"{name}." if name else ""
                entries += [(prefix + "x", "0"), (prefix + "y", "0")]
            elif tag == submitter and name:
                default = "Submit" if tag.tag == "input" and "value" not in tag.attrs else ""
                entries.append((name, attr(tag, "value", default)))
            continue
        if kind in BROWSER_ONLY:
            raise NeedsBrowser(f"an <input type={kind}> is sent as only a browser computes it")
        if validates:
            _validate(tag, kind, radios)
        if not name:
            continue
        if tag.tag == "select":
            entries += [(name, option_value(o)) for o in chosen(tag)]
        elif tag.tag == "textarea":
            entries.append((name, textarea_value(tag)))
        elif kind in ("checkbox", "radio"):
            if (kind == "checkbox" and "checked" in tag.attrs) or (kind == "radio" and tag in radios.values()):
                entries.append((name, attr(tag, "value", "on")))
        elif kind == "hidden" and name.lower() == "_charset_" and "value" not in tag.attrs:
            if charset not in WHATWG_NAMES:
                raise NeedsBrowser(f"the form names its character set ({charset})")
            entries.append((name, WHATWG_NAMES[charset]))
        else:
            entries.append((name, value(tag)))
    entries = [(_crlf(k), _crlf(v)) for k, v in entries]  # as browsers send line breaks
    charset = form_charset(charset)
    try:  # a browser writes what its character set lacks as &#...; entities: that is for the browser
        query = urlencode(entries, encoding=charset)
    except UnicodeEncodeError:
        raise NeedsBrowser(f"a value cannot be written in the page's character set ({charset})") from None
    if method == "get":
        parts = urlsplit(url)
        return "GET", urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), None
    return "POST", url.split("#", 1)[0], entries


# --- fields --------------------------------------------------------------------------------------------
def input_type(tag: Any) -> str:
    """An ``<input>``'s type as the browser takes it (unknown types are text); "" for other elements."""
    if tag.tag != "input":
        return ""
    kind = attr(tag, "type", "text").strip().lower()
    return kind if kind in INPUT_TYPES else "text"


def value(tag: Any) -> str:
    """A field's value as the browser holds it: a ``<select>``'s chosen option's, cleaned by input type."""
    if tag.tag == "select":  # the select's value: its first chosen option, disabled or not
        every = tag.css("option")
        picked = [o for o in every if "selected" in o.attrs]
        if picked:
            return option_value(picked[0] if "multiple" in tag.attrs else picked[-1])
        found = chosen(tag)
        return option_value(found[0]) if found else ""
    if tag.tag == "textarea":
        return textarea_value(tag)
    if TYPED in tag.attrs:
        return attr(tag, TYPED)
    return _sanitized(input_type(tag), attr(tag, "value"))


def fill(tag: Any, text: str) -> None:
    """Type ``text`` into a field, as Playwright's ``fill`` would (which refuses what cannot be typed).

    Raises:
        NeedsBrowser: the field is not one to type into, is read-only or disabled, or refuses the value (the
            browser's own error says which).
    """
    kind = input_type(tag)
    if "readonly" in tag.attrs or disabled(tag):
        raise NeedsBrowser(f"<{tag.tag}> is read-only or disabled")
    if tag.tag == "textarea":
        tag.attrs[TYPED] = text
        return
    if tag.tag != "input" or kind in ("checkbox", "radio", "file", "submit", "image", "button", "reset", "hidden"):
        raise NeedsBrowser(f"cannot type into <{tag.tag} type={kind}> without the browser")
    if kind in BROWSER_ONLY or (kind in CHECKED or kind == "number") and text and _sanitized(kind, text) != text:
        raise NeedsBrowser(f"the value typed is not one an <input type={kind}> takes")  # no value in a log
    tag.attrs[TYPED] = text


def chosen(select: Any) -> list[Any]:
    """The options a ``<select>`` sends: the chosen ones not disabled; with none chosen, a one-line list
    sends its first option that is not disabled."""
    every = select.css("option")
    picked = [o for o in every if "selected" in o.attrs]
    if "multiple" in select.attrs:
        return [o for o in picked if not disabled(o)]
    if picked:
        return [o for o in picked[-1:] if not disabled(o)]
    size = attr(select, "size")
    if size.isdigit() and int(size) > 1:
        return []
    return [o for o in every if not disabled(o)][:1]


def option_value(option: Any) -> str:
    if "value" in option.attrs:
        return attr(option, "value")
    return " ".join(option.text().split())


def option_label(option: Any) -> str:
    """What the option shows: its ``label`` attribute, else its text."""
    if attr(option, "label"):
        return attr(option, "label")
    return " ".join(option.text().split())


def by_id(soup: Any, ident: str, tag: str = "*") -> Any | None:
    """The first element with this id (compared as text: any character an id may hold)."""
    return next((t for t in soup.css(f"{tag}[id]") if attr(t, "id") == ident), None)


def css_string(text: str) -> str:
    """``text`` as a CSS string literal."""
    escaped = "".join(f"\\{ord(c):x} " if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)
    return f'"{escaped}"'


def textarea_value(tag: Any) -> str:
    if TYPED in tag.attrs:
        return attr(tag, TYPED)
    return str(tag.text(deep=True))


def form_of(soup: Any, tag: Any) -> Any | None:
    """The form a field belongs to: its ``form=`` attribute's, else the form around it."""
    if "form" in tag.attrs:
        owner = attr(tag, "form")
        return by_id(soup, owner, "form") if owner else None
    return ancestor(tag, "form")


def disabled(tag: Any) -> bool:
    """Disabled itself, by a disabled ``<optgroup>`` (an option), or by a disabled ``<fieldset>`` around it
    (except inside that fieldset's first ``<legend>``)."""
    if "disabled" in tag.attrs:
        return True
    node = tag.parent
    while node is not None and node.is_element_node:
        if tag.tag == "option" and node.tag == "optgroup" and "disabled" in node.attrs:
            return True
        if node.tag == "fieldset" and "disabled" in node.attrs:
            legend = next((c for c in node.iter() if c.tag == "legend"), None)
            if legend is None or not _within(tag, legend):
                return True
        node = node.parent
    return False


def _within(tag: Any, container: Any) -> bool:
    node = tag.parent
    while node is not None and node.is_element_node:
        if node == container:
            return True
        node = node.parent
    return False


def join(base: str, href: str) -> str:
    """``href`` resolved against ``base`` as a browser resolves it; one Python cannot parse is the browser's.

    Raises:
        NeedsBrowser: a malformed address (``http://[oops/``).
    """
    try:
        return urljoin(base, href)
    except ValueError:
        raise NeedsBrowser("an address only a browser makes sense of") from None


def attr(tag: Any, name: str, default: str = "") -> str:
    """An attribute's text ("" for one given without a value, ``default`` for one not given)."""
    if name not in tag.attrs:
        return default
    found = tag.attributes.get(name)
    return "" if found is None else str(found)


def ancestor(tag: Any, name: str) -> Any | None:
    node = tag.parent
    while node is not None and node.is_element_node and node.tag != name:
        node = node.parent
    return node if node is not None and node.tag == name else None


# --- what browsers do to values, and refuse ----------------------------------------------------------------
def _sanitized(kind: str, text: str) -> str:
    if kind in ONE_LINE:
        text = text.replace("\r", "").replace("\n", "")
    if kind in ("email", "url"):
        return text.strip(" \t\f")
    if kind == "number":
        return text if _NUMBER.fullmatch(text) and _finite(text) else ""
    if kind in CHECKED:
        return text if re.fullmatch(CHECKED[kind], text) and _real_date(kind, text) else ""
    return text


def _finite(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _real_date(kind: str, text: str) -> bool:
    if kind != "date":
        return True
    try:
        year, month, day = (int(p) for p in text.split("-"))
        return year > 0 and bool(date(min(year, 9999), month, day))
    except ValueError:
        return False


def _checked_radios(fields: list[Any]) -> dict[str, Any]:
    """Each radio group's checked radio (the last one the HTML checks, as the browser's parser leaves it)."""
    out: dict[str, Any] = {}
    for tag in fields:
        if input_type(tag) == "radio" and "checked" in tag.attrs:
            out[attr(tag, "name")] = tag
    return out


def _validate(tag: Any, kind: str, radios: dict[str, Any]) -> None:
    """Raise NeedsBrowser when the browser would refuse to send the form for this field."""
    if kind == "hidden" or "readonly" in tag.attrs:
        return
    if "step" in tag.attrs and kind in ("number", *CHECKED):
        raise NeedsBrowser("a field has a step the browser checks")
    current = value(tag) if tag.tag != "select" else "".join(option_value(o) for o in chosen(tag))
    if "required" in tag.attrs:
        if kind == "checkbox":
            empty = "checked" not in tag.attrs
        elif kind == "radio":
            empty = attr(tag, "name") not in radios
        else:
            empty = current == ""
        if empty:
            raise NeedsBrowser("a required field is empty: the browser would not send the form")
    if not current or kind in ("checkbox", "radio") or tag.tag == "select":
        return
    if kind == "email" and not all(_EMAIL.fullmatch(part.strip()) for part in current.split(",")):
        raise NeedsBrowser("a field is not an email address: the browser would not send the form")
    if kind == "url" and not (urlsplit(current).scheme and ":" in current):
        raise NeedsBrowser("a field is not a URL: the browser would not send the form")
    pattern = attr(tag, "pattern") if "pattern" in tag.attrs and kind in (*ONE_LINE, "") else None
    if pattern is not None:
        try:
            ok = re.fullmatch(f"(?:{pattern})", current) is not None
        except re.error:
            raise NeedsBrowser(f"a field's pattern is not one opskit reads ({pattern})") from None
        if not ok:
            raise NeedsBrowser("a field does not match its pattern: the browser would not send the form")
    typed = TYPED in tag.attrs  # lengths count only what was typed
    for bound, too in (("minlength", lambda n: len(current) < n), ("maxlength", lambda n: len(current) > n)):
        limit = attr(tag, bound)
        if typed and limit.isdigit() and too(int(limit)):
            raise NeedsBrowser(f"a field is outside its {bound}: the browser would not send the form")
    for bound, out_of in (("min", lambda a, b: a < b), ("max", lambda a, b: a > b)):
        limit = attr(tag, bound)
        if not limit:
            continue
        if kind == "number" and _NUMBER.fullmatch(limit) and out_of(Decimal(current), Decimal(limit)):
            raise NeedsBrowser(f"a number is outside its {bound}: the browser would not send the form")
        if kind in CHECKED and re.fullmatch(CHECKED[kind], limit) and out_of(current, limit):
            raise NeedsBrowser(f"a {kind} is outside its {bound}: the browser would not send the form")


def _crlf(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", "\r\n", text)
