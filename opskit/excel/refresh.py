"""Refresh the data sheets of an analyst's own workbook, keeping everything else byte for byte.

Most real report templates hold charts, pivot tables, images and names that openpyxl cannot save back
faithfully. ``refresh_template`` never loads the workbook into openpyxl: it copies the package part by
part and rewrites only what new data rows must change —

- the data sheet's ``<sheetData>`` (its header rows are kept as they are; each data cell takes the
  style of the template's first data row in its column, and a column the rows do not fill but whose
  first data cell holds a formula gets that formula on every row), and its ``<dimension>``;
- the ranges that covered the old data, extended (or shortened) to the new last row: Excel tables on
  the sheet (and their filter), defined names, chart series (``<c:f>``, their cached values dropped so
  no reader shows stale points) and pivot caches (which are also set to refresh on open);
- ``calcPr fullCalcOnLoad`` in workbook.xml, so formulas elsewhere recompute, and the calculation
  chain, dropped when it names the data sheet (Excel and LibreOffice rebuild it).

Every other part (other sheets, drawings, images, pivot tables, styles, shared strings, VBA) is copied
unchanged. A range is extended when it ends on the old last data row and starts at or below the
header; ranges elsewhere on the sheet are left alone. Text is written as inline strings, never as
formulas. Rows below the data (notes under a table) would be overwritten, so the data sheet must hold
only its header and data; a table with a totals row is refused.

Example:
    refresh_template("weekly_template.xlsx", out, sheets={"Data": rows})  # rows: dicts by header text
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from xml.sax.saxutils import escape

from opskit.excel.errors import TemplateError
from opskit.excel.read import normalize
from opskit.excel.stream import _text_xml, serial
from opskit.files import atomic_path

_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_ROW = re.compile(rb"<row\b[^>]*?\br=\"(\d+)\"[^>]*?(?:/>|>.*?</row>)", re.S)
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_ATTR = re.compile(rb'(\w+)="([^"]*)"')
_REF = re.compile(r"(\$?)([A-Z]{1,3})(\$?)(\d+)(?::(\$?)([A-Z]{1,3})(\$?)(\d+))?")
_SHEET_REF = re.compile(r"((?:'(?:[^']|'')+'|[^\s!'(),;=<>&+*/^-]+)!)(\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?)")


def refresh_template(
    template: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    sheets: Mapping[str, Sequence[Mapping[str, Any] | Sequence[Any]]],
    header_row: int = 1,
) -> Path:
    """Replace the data rows of ``sheets`` in ``template``, writing the refreshed workbook to ``out``.

    Args:
        template: The analyst's .xlsx/.xlsm workbook (left unchanged).
        out: Where the refreshed workbook goes (written atomically).
        sheets: Data sheet name -> its new rows: dicts keyed by the sheet's header texts (matched
            ignoring case and punctuation), or sequences in column order.
        header_row: The last header row of each data sheet; the data starts below it.

    Raises:
        TemplateError: no such sheet, a key that is no header, a table with a totals row.
    """
    template, out = Path(template), Path(out)
    with zipfile.ZipFile(template) as src:
        parts = {info.filename: src.read(info.filename) for info in src.infolist()}
        infos = src.infolist()
    package = _Package(template.name, parts)
    changed: dict[str, bytes] = {}
    dropped: set[str] = set()
    for name, rows in sheets.items():
        package.refresh(name, list(rows), header_row, changed, dropped)
    changed["xl/workbook.xml"] = _full_calc(changed.get("xl/workbook.xml", parts["xl/workbook.xml"]))
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in infos:
            if info.filename in dropped:
                continue
            data = changed.get(info.filename, parts[info.filename])
            target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            target.compress_type = info.compress_type
            target.external_attr = info.external_attr
            dst.writestr(target, data)
    return out


class _Package:
    """The parts of one workbook and where things are in them."""

    def __init__(self, label: str, parts: dict[str, bytes]):
        self.label, self.parts = label, parts
        self.workbook = parts["xl/workbook.xml"].decode("utf-8")
        rels = _relations(parts, "xl/workbook.xml")
        self.sheet_parts: dict[str, tuple[str, str]] = {}
        for m in re.finditer(r"<sheet\b([^>]*)/?>", self.workbook):
            attrs = dict(re.findall(r'([\w:]+)="([^"]*)"', m.group(1)))
            rid = next((v for k, v in attrs.items() if k.endswith(":id")), None)
            if rid in rels:
                self.sheet_parts[_unescape(attrs["name"])] = (rels[rid][1], attrs.get("sheetId", ""))
        self.strings = _shared_strings(parts)

    def _fail(self, message: str, hint: str | None = None) -> TemplateError:
        return TemplateError(message, where=self.label, kind="template", hint=hint)

    def refresh(
        self, name: str, rows: list[Any], header_row: int, changed: dict[str, bytes], dropped: set[str]
    ) -> None:
        found = next((n for n in self.sheet_parts if n.casefold() == name.casefold()), None)
        if found is None:
            raise self._fail(f"has no sheet {name!r} (sheets: {', '.join(self.sheet_parts)})")
        part, sheet_id = self.sheet_parts[found]
        xml = changed.get(part, self.parts[part])
        start, end = xml.index(b"<sheetData"), xml.index(b"</sheetData>") + len(b"</sheetData>")
        body = xml[start:end]
        kept: list[re.Match[bytes]] = []
        data: list[re.Match[bytes]] = []
        for match in _ROW.finditer(body):
            (kept if int(match.group(1)) <= header_row else data).append(match)
        headers = self._headers([m for m in kept if int(m.group(1)) == header_row])
        if not headers:
            raise self._fail(f"sheet {found!r} has no header in row {header_row}")
        old_last = max((int(m.group(1)) for m in data), default=header_row)
        first: dict[str, tuple[str, str | None]] = {}
        if data:
            for cell in _CELL.finditer(data[0].group(0)):
                attrs = dict(_ATTR.findall(cell.group(1)))
                letter = _letter(attrs)
                if letter is None:
                    continue
                formula = re.search(rb"<f\b[^>]*>(.*?)</f>", cell.group(2) or b"", re.S)
                first[letter] = (attrs.get(b"s", b"0").decode(), formula.group(1).decode() if formula else None)
        new_rows = self._rows(found, rows, headers, first, header_row)
        new_last = header_row + len(rows)
        opening = body[: body.index(b">") + 1] if not body.startswith(b"<sheetData/>") else b"<sheetData>"
        new_body = opening + b"".join(m.group(0) for m in kept) + new_rows + b"</sheetData>"
        last_col = max(headers.values(), key=_col_number)
        xml = xml[:start] + new_body + xml[end:]
        dimension = f'<dimension ref="A1:{last_col}{max(new_last, 1)}"/>'.encode()
        xml = re.sub(rb'<dimension ref="[^"]*"\s*/>', dimension, xml, count=1)
        changed[part] = xml
        moved = _Extension(found, header_row, old_last, new_last)
        self._tables(part, moved, changed)
        changed["xl/workbook.xml"] = _defined_names(
            changed.get("xl/workbook.xml", self.parts["xl/workbook.xml"]), moved
        )
        for other, content in self.parts.items():
            if re.fullmatch(r"xl/charts/chart\d+\.xml", other):
                updated = _charts(changed.get(other, content), moved)
                if updated != content:
                    changed[other] = updated
            elif re.fullmatch(r"xl/pivotCache/pivotCacheDefinition\d+\.xml", other):
                updated = _pivot_cache(changed.get(other, content), moved)
                if updated != content:
                    changed[other] = updated
        self._calc_chain(sheet_id, changed, dropped)

    def _headers(self, header_rows: list[re.Match[bytes]]) -> dict[str, str]:
        """normalized header text -> column letter."""
        found = {}
        for row in header_rows:
            for cell in _CELL.finditer(row.group(0)):
                attrs = dict(_ATTR.findall(cell.group(1)))
                letter = _letter(attrs)
                text = _cell_text(attrs, cell.group(2) or b"", self.strings)
                if text and letter is not None:
                    found[normalize(text)] = letter
        return found

    def _rows(
        self, sheet: str, rows: list[Any], headers: dict[str, str], first: dict[str, tuple[str, str | None]], top: int
    ) -> bytes:
        letters = sorted(headers.values(), key=_col_number)
        out = []
        for offset, row in enumerate(rows):
            n = top + 1 + offset
            if isinstance(row, Mapping):
                values = {}
                for key, value in row.items():
                    letter = headers.get(normalize(str(key)))
                    if letter is None:
                        raise self._fail(f"sheet {sheet!r} has no column {key!r} (columns: {', '.join(headers)})")
                    values[letter] = value
            else:
                values = dict(zip(letters, row, strict=False))
            cells = []
            for letter in sorted(set(letters) | set(first), key=_col_number):
                style, formula = first.get(letter, ("0", None))
                if letter in values:
                    cells.append(_cell(f"{letter}{n}", values[letter], style))
                elif formula is not None:
                    cells.append(_formula_cell(letter, n, top + 1, formula, style))
            out.append(f'<row r="{n}">{"".join(cells)}</row>')
        return "".join(out).encode("utf-8")

    def _tables(self, sheet_part: str, moved: _Extension, changed: dict[str, bytes]) -> None:
        for rel_type, target in _relations(self.parts, sheet_part).values():
            if not rel_type.endswith("/table"):
                continue
            xml = self.parts[target].decode("utf-8")
            if re.search(r'totalsRowCount="[1-9]', xml):
                name = re.search(r'displayName="([^"]*)"', xml)
                raise self._fail(
                    f"table {name.group(1) if name else target!r} has a totals row, which a refresh cannot move",
                    hint="turn the totals row off and put SUBTOTAL formulas beside the table",
                )
            xml = re.sub(
                r'(<(?:\w+:)?(?:table|autoFilter)\b[^>]*?\bref=")([^"]+)"',
                lambda m: m.group(1) + moved.ref(m.group(2)) + '"',
                xml,
            )
            changed[target] = xml.encode("utf-8")

    def _calc_chain(self, sheet_id: str, changed: dict[str, bytes], dropped: set[str]) -> None:
        chain = "xl/calcChain.xml"
        if chain not in self.parts or f'i="{sheet_id}"'.encode() not in self.parts[chain]:
            return
        dropped.add(chain)
        rels = "xl/_rels/workbook.xml.rels"
        changed[rels] = re.sub(rb"<Relationship\b[^>]*calcChain[^>]*/>", b"", changed.get(rels, self.parts[rels]))
        types = "[Content_Types].xml"
        changed[types] = re.sub(
            rb"<Override\b[^>]*/xl/calcChain\.xml[^>]*/>", b"", changed.get(types, self.parts[types])
        )


class _Extension:
    """Moves the end of ranges that covered a data sheet's old rows to its new last row."""

    def __init__(self, sheet: str, header_row: int, old_last: int, new_last: int):
        self.sheet, self.header_row, self.old_last, self.new_last = sheet, header_row, old_last, new_last

    def ref(self, text: str) -> str:
        """A bare range (``A1:C6``, ``$B$2:$B$6``) with its end moved when it ended on the old data."""
        match = _REF.fullmatch(text)
        if not match or not match.group(6):
            return text
        d1, c1, d2, r1, d3, c2, d4, r2 = match.groups()
        if int(r2) != self.old_last or int(r1) > self.header_row + 1:
            return text
        end = max(self.new_last, int(r1))
        return f"{d1}{c1}{d2}{r1}:{d3}{c2}{d4}{end}"

    def formula(self, text: str) -> str:
        """Every ``Sheet!range`` of this sheet in a formula or chart reference, moved."""

        def move(m: re.Match[str]) -> str:
            name = m.group(1)[:-1]
            bare = name[1:-1].replace("''", "'") if name.startswith("'") else name
            return m.group(1) + self.ref(m.group(2)) if bare.casefold() == self.sheet.casefold() else m.group(0)

        return _SHEET_REF.sub(move, text)


def _defined_names(xml: bytes, moved: _Extension) -> bytes:
    text = xml.decode("utf-8")
    return re.sub(
        r"(<definedName\b[^>]*>)(.*?)(</definedName>)",
        lambda m: m.group(1) + escape(moved.formula(_unescape(m.group(2)))) + m.group(3),
        text,
        flags=re.S,
    ).encode("utf-8")


def _charts(xml: bytes, moved: _Extension) -> bytes:
    """Series references moved; the cached points of a moved reference dropped (readers recompute).

    Chart parts use the chart namespace with any prefix (``c:`` from Excel and LibreOffice, none from
    openpyxl); the reference and its cache share the prefix.
    """
    text = xml.decode("utf-8")

    def ref(m: re.Match[str]) -> str:
        formula = _unescape(m.group(3))
        updated = moved.formula(formula)
        if updated == formula:
            return m.group(0)
        return f"{m.group(1)}{escape(updated)}{m.group(4)}"

    caches = r"(?:numCache|strCache|multiLvlStrCache)"
    pattern = (
        rf"(<((?:\w+:)?)(?:numRef|strRef|multiLvlStrRef)>\s*<\2f>)(.*?)(</\2f>)(?:\s*<\2{caches}>.*?</\2{caches}>)?"
    )
    return re.sub(pattern, ref, text, flags=re.S).encode("utf-8")


def _pivot_cache(xml: bytes, moved: _Extension) -> bytes:
    text = xml.decode("utf-8")
    source = re.search(r"<worksheetSource\b([^>]*)/>", text)
    if not source:
        return xml
    attrs = dict(re.findall(r'([\w:]+)="([^"]*)"', source.group(1)))
    if _unescape(attrs.get("sheet", "")).casefold() != moved.sheet.casefold() or "ref" not in attrs:
        return xml
    text = text.replace(
        source.group(0), source.group(0).replace(f'ref="{attrs["ref"]}"', f'ref="{moved.ref(attrs["ref"])}"')
    )
    head = re.search(r"<pivotCacheDefinition\b[^>]*>", text)
    if head is None:
        return xml
    tag = head.group(0)
    new_tag = re.sub(r'\srefreshOnLoad="[^"]*"', "", tag)
    new_tag = new_tag[:-1] + ' refreshOnLoad="1">' if not new_tag.endswith("/>") else new_tag
    return text.replace(tag, new_tag, 1).encode("utf-8")


def _full_calc(xml: bytes) -> bytes:
    """Formulas anywhere may read the data: ask Excel and LibreOffice to recalculate when opening."""
    text = xml.decode("utf-8")
    calc = re.search(r"<calcPr\b[^>]*?/?>", text)
    if calc:
        tag = re.sub(r'\sfullCalcOnLoad="[^"]*"', "", calc.group(0))
        tag = tag.replace("<calcPr", '<calcPr fullCalcOnLoad="1"', 1)
        return text.replace(calc.group(0), tag, 1).encode("utf-8")
    anchor = "</definedNames>" if "</definedNames>" in text else "</sheets>"
    return text.replace(anchor, anchor + '<calcPr fullCalcOnLoad="1"/>', 1).encode("utf-8")


def _relations(parts: Mapping[str, bytes], part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (type, target part name)."""
    path = PurePosixPath(part)
    rels = str(path.parent / "_rels" / f"{path.name}.rels")
    if rels not in parts:
        return {}
    found = {}
    for m in re.finditer(r"<Relationship\b([^>]*)/>", parts[rels].decode("utf-8")):
        attrs = dict(re.findall(r'([\w:]+)="([^"]*)"', m.group(1)))
        if attrs.get("TargetMode") == "External":
            continue
        target = attrs["Target"]
        resolved = target.lstrip("/") if target.startswith("/") else os.path.normpath(str(path.parent / target))
        found[attrs["Id"]] = (attrs["Type"], resolved.replace("\\", "/"))
    return found


def _shared_strings(parts: Mapping[str, bytes]) -> list[str]:
    xml = parts.get("xl/sharedStrings.xml")
    if xml is None:
        return []
    items = re.findall(rb"<si>(.*?)</si>", xml, re.S)
    return [
        _unescape("".join(t.decode("utf-8") for t in re.findall(rb"<t\b[^>]*>(.*?)</t>", si, re.S))) for si in items
    ]


def _cell_text(attrs: dict[bytes, bytes], inner: bytes, strings: list[str]) -> str:
    kind = attrs.get(b"t", b"n")
    if kind == b"s":
        value = re.search(rb"<v>(\d+)</v>", inner)
        return strings[int(value.group(1))] if value and int(value.group(1)) < len(strings) else ""
    if kind == b"inlineStr":
        return _unescape("".join(t.decode() for t in re.findall(rb"<t\b[^>]*>(.*?)</t>", inner, re.S)))
    value = re.search(rb"<v>(.*?)</v>", inner, re.S)
    return _unescape(value.group(1).decode()) if value else ""


def _cell(ref: str, value: Any, style: str) -> str:
    s = f' s="{style}"' if style and style != "0" else ""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    if isinstance(value, datetime | date):
        return f'<c r="{ref}"{s}><v>{serial(value)}</v></c>'
    if isinstance(value, timedelta):
        return f'<c r="{ref}"{s}><v>{value.total_seconds() / 86400}</v></c>'
    if isinstance(value, time):
        return f'<c r="{ref}"{s}><v>{(value.hour * 3600 + value.minute * 60 + value.second) / 86400}</v></c>'
    # text is an inline string: never a formula, whatever it starts with
    return f'<c r="{ref}"{s} t="inlineStr">{_text_xml(str(value))}</c>'


def _formula_cell(letter: str, n: int, origin_row: int, formula: str, style: str) -> str:
    from openpyxl.formula.translate import Translator  # type: ignore[import-untyped]  # pure Python, no workbook

    moved = Translator("=" + _unescape(formula), origin=f"{letter}{origin_row}").translate_formula(f"{letter}{n}")
    s = f' s="{style}"' if style and style != "0" else ""
    return f'<c r="{letter}{n}"{s}><f>{escape(moved[1:])}</f></c>'


def _letter(attrs: Mapping[bytes, bytes]) -> str | None:
    """A cell's column letter from its reference (``r="B7"``); None for a cell written without one."""
    match = re.match(rb"[A-Z]+", attrs.get(b"r", b""))
    return match.group(0).decode() if match else None


def _col_number(letter: str) -> int:
    n = 0
    for ch in letter:
        n = n * 26 + ord(ch) - 64
    return n


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )
