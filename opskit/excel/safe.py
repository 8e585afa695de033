"""Safe cell values: data never runs as a formula, and never breaks the XML of a workbook.

Comments, search terms and usernames are hostile by nature. A cell whose text starts with ``=``,
``+``, ``-``, ``@``, tab or carriage return is a formula to Excel, LibreOffice or Google Sheets when
typed or imported ("CSV injection"). The writer stores such text as a string cell (``t="s"`` /
``inlineStr``, never ``<f>``) *and* with the ``quotePrefix`` style, the apostrophe Excel itself shows
for text that would otherwise be interpreted; so even a program that re-parses the text keeps it text.
Formulas exist only where the report builder means them: ``Formula("SUBTOTAL(109,B2:B9)")``.

Text that looks like an OOXML character escape (``_x003D_`` is ``=``, ``_x0000_`` a NUL) is decoded by
Excel, LibreOffice and calamine when they read a cell; the writer escapes its leading underscore as
``_x005F_`` (the escape of ``_`` itself), so every reader shows the text that was written.

``put_value`` writes one value into an openpyxl cell by these rules; every writer of the excel layer
(reports, templates, plain data sheets) goes through it or through the same rules in ``stream.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Characters XML 1.0 forbids (openpyxl's ILLEGAL_CHARACTERS_RE, plus lone surrogates and U+FFFE/F).
ILLEGAL_XML_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Leading characters that make spreadsheet programs evaluate text; full-width forms too, which
# some CJK input methods produce and some programs normalise.
FORMULA_LEADS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
MAX_CELL_TEXT = 32767  # Excel's limit; longer text is cut with a visible ellipsis
# An underscore that starts what readers would decode as an escaped character: _xHHHH_ (Excel, calamine),
# and LibreOffice decodes shorter forms too (_x1_ is U+0001)
_OOXML_ESCAPE_RE = re.compile(r"_(?=x[0-9A-Fa-f]{1,4}_)")


@dataclass(frozen=True, slots=True)
class Formula:
    """A formula the report builder means, e.g. ``Formula("SUBTOTAL(109,C2:C40)")``.

    The leading ``=`` is optional. Only this wrapper ever produces a formula cell.
    """

    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("an empty formula")

    @property
    def formula(self) -> str:
        return self.text if self.text.startswith("=") else f"={self.text}"


def clean_text(text: str) -> str:
    """Remove characters XML cannot hold, and cut text longer than a cell can hold."""
    if ILLEGAL_XML_RE.search(text):
        text = ILLEGAL_XML_RE.sub("", text)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 1] + "…"
    return text


def escape_ooxml(text: str) -> str:
    """``_x003D_`` -> ``_x005F_x003D_``: readers decode it back to the literal ``_x003D_``, not ``=``."""
    return _OOXML_ESCAPE_RE.sub("_x005F_", text) if "_x" in text else text


def cell_text(text: str) -> str:
    """Text as a cell must store it: cleaned for XML, cut to a cell's length, OOXML-escape lookalikes escaped.

    Check ``needs_quote`` on this result's *cleaned* form (``clean_text``): a stripped control character
    must not hide a formula lead ("\x01=cmd" is "=cmd" once stored).
    """
    return escape_ooxml(clean_text(text))


def needs_quote(text: str) -> bool:
    """Would a spreadsheet program evaluate this text if it were typed into a cell?"""
    return bool(text) and text[0] in FORMULA_LEADS


def safe_text(text: str) -> tuple[str, bool]:
    """(text fit for a cell, whether it must carry the quotePrefix style)."""
    text = clean_text(text)
    return escape_ooxml(text), needs_quote(text)


def put_value(cell: Any, value: Any) -> None:
    """Write ``value`` into an openpyxl cell (normal or write-only), keeping the cell's style.

    Text is always a string cell, cleaned of characters XML cannot hold, with the quotePrefix style
    when a spreadsheet program would read it as a formula; only a ``Formula`` becomes a formula. An
    aware datetime keeps its wall-clock time (Excel has no time zones).
    """
    if isinstance(value, Formula):
        cell.value = value.formula
    elif isinstance(value, str):
        text = clean_text(value)
        cell.value = escape_ooxml(text)
        cell.data_type = "s"  # never "f", whatever the text starts with
        cell.quotePrefix = needs_quote(text)
    else:
        if getattr(value, "tzinfo", None) is not None:
            value = value.replace(tzinfo=None)
        cell.value = value
