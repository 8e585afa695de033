"""Character sets as browsers name them: the WHATWG Encoding standard's labels, mapped to Python's codecs.

A page saying ``charset=iso-8859-1`` is windows-1252 to every browser (and ``gb2312`` is GBK, ``shift_jis``
Windows-31J); Python's codecs of those names decode some bytes differently, and Python knows names (``base64``,
``rot13``) that are no character set at all. ``http: auto`` reads a page only in a character set listed here
and leaves any other to the browser.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from opskit.browser.errors import NeedsBrowser

_LABELS = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "utf-16-le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
    "utf-16-be": "unicodefffe utf-16be",
    "cp1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 "
    "iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
    "iso8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "iso8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "iso8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "iso8859-5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5",
    "iso8859-6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
    "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6",
    "iso8859-7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 "
    "iso_8859-7 sun_eu_greek",
    "iso8859-8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
    "iso_8859-8 visual csiso88598i iso-8859-8-i logical",
    "iso8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso8859-13": "iso-8859-13 iso8859-13 iso885913",
    "iso8859-14": "iso-8859-14 iso8859-14 iso885914",
    "iso8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso8859-16": "iso-8859-16",
    "cp1250": "cp1250 windows-1250 x-cp1250",
    "cp1251": "cp1251 windows-1251 x-cp1251",
    "cp1253": "cp1253 windows-1253 x-cp1253",
    "cp1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 "
    "latin5 windows-1254 x-cp1254",
    "cp1255": "cp1255 windows-1255 x-cp1255",
    "cp1256": "cp1256 windows-1256 x-cp1256",
    "cp1257": "cp1257 windows-1257 x-cp1257",
    "cp1258": "cp1258 windows-1258 x-cp1258",
    "cp874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "cp866": "866 cp866 csibm866 ibm866",
    "koi8-r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8-u": "koi8-ru koi8-u",
    "mac-roman": "csmacintosh mac macintosh x-mac-roman",
    "gbk": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "big5hkscs": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc_jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso2022_jp": "csiso2022jp iso-2022-jp",
    "cp932": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "cp949": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 "
    "windows-949",
}
LABELS = {label: codec for codec, labels in _LABELS.items() for label in labels.split()}
"""Every label a page may name its character set by, to the Python codec that reads it as browsers do."""
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def page_charset(body: bytes, header: str | None, meta: str | None) -> str | None:
    """The Python codec a browser would read ``body`` with: a byte order mark first, then the ``Content-Type``
    header's label, then a ``<meta>`` one (where a UTF-16 label means UTF-8: the bytes got that far as ASCII).
    "" when nothing names one; None when the label is not a character set browsers know."""
    for bom, codec in BOMS:
        if body.startswith(bom):
            return codec
    for label, from_meta in ((header, False), (meta, True)):
        if label:
            named = LABELS.get(label.strip().lower())
            if named is not None and from_meta and named.startswith("utf-16"):
                return "utf-8"
            return named
    return ""


def form_charset(codec: str) -> str:
    """The codec a page's forms are sent in: the page's, except UTF-8 for a UTF-16 page (as browsers do)."""
    return "utf-8" if codec.startswith("utf-16") else codec


def response_charset(response: Any) -> str:
    """The page's character set as a browser finds it (``charsets.page_charset``); undeclared, UTF-8 when
    the bytes are UTF-8.

    Raises:
        NeedsBrowser: undeclared and not UTF-8 (a browser guesses from its locale), or not a web charset.
    """
    body = response.content
    header = re.search(r"charset=[\"']?([\w.:-]+)", response.headers.get("Content-Type", ""), re.I)
    meta = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:1024], re.I)
    codec = page_charset(
        body, header.group(1) if header else None, meta.group(1).decode("ascii", "replace") if meta else None
    )
    if codec is None:
        raise NeedsBrowser("the page's character set is not one browsers know")
    if codec:
        return codec
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise NeedsBrowser("the page does not say its character set") from None
    return "utf-8"
