"""Streaming sheet XML for large detail sheets: constant memory, ~3x faster than openpyxl write_only.

openpyxl builds the workbook around a large sheet (styles, the table, conditional formats, document
properties) from a small *placeholder* sheet that holds the header row, one sample cell per style
the data needs, and the totals row. The data rows are rendered here, straight to a temporary file, as
plain SpreadsheetML (inline strings, cached style ids), and ``splice`` then copies openpyxl's package
into the final zip with the placeholder's ``<sheetData>`` replaced by header + streamed rows + totals.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from opskit.excel.safe import FORMULA_LEADS, clean_text, escape_ooxml

EPOCH = datetime(1899, 12, 30)
EPOCH_DATE = EPOCH.date()
_ROW_RE = re.compile(rb'<row r="(\d+)".*?</row>|<row r="(\d+)"[^>]*/>', re.S)
_CELL_S_RE = re.compile(rb'<c r="([A-Z]+)(\d+)"(?: s="(\d+)")?')


def _text_xml(text: str) -> str:
    """An inline string of any text: cleaned for XML and a cell's length (``clean_text``), then escaped."""
    return _clean_text_xml(clean_text(text))


def _clean_text_xml(text: str) -> str:
    """An inline string of text already ``clean_text``-ed: OOXML-escape lookalikes escaped, then XML-escaped."""
    text = escape_ooxml(text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if text[:1].isspace() or text[-1:].isspace():
        return f'<is><t xml:space="preserve">{text}</t></is>'
    return f"<is><t>{text}</t></is>"


def serial(value: datetime | date) -> float:
    """Excel's 1900-system serial of a date or (wall-clock) datetime."""
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - EPOCH
        return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000
    return float((value - EPOCH_DATE).days)


def cell_writer(
    letter: str, scale: float | None, style: int, text_style: int, quote_style: int, na: str
) -> Callable[[Any, int], str]:
    """A function rendering one column's value in row ``n`` as a ``<c>`` element.

    ``scale`` divides numbers (86400 turns seconds into a duration, 3600 into hours).
    """
    s, ts, qs = (
        f' s="{style}"' if style else "",
        f' s="{text_style}"' if text_style else "",
        f' s="{quote_style}"',
    )
    na_xml = _text_xml(na) if na else ""

    def render(value: Any, n: int) -> str:
        kind = type(value)
        if kind is float or kind is int:
            if value != value or value in (float("inf"), float("-inf")):
                return f'<c r="{letter}{n}"{ts} t="inlineStr">{_text_xml("n/a")}</c>'
            return f'<c r="{letter}{n}"{s}><v>{value / scale if scale else value}</v></c>'
        if kind is str:
            text = clean_text(value)  # first: "\x01=cmd" is "=cmd" once the control character is gone
            if not text:
                return ""
            style_attr = qs if text[0] in FORMULA_LEADS else ts
            return f'<c r="{letter}{n}"{style_attr} t="inlineStr">{_clean_text_xml(text)}</c>'
        if value is None:
            return f'<c r="{letter}{n}"{ts} t="inlineStr">{na_xml}</c>' if na_xml else ""
        if kind is bool:
            return f'<c r="{letter}{n}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, datetime | date):
            return f'<c r="{letter}{n}"{s}><v>{serial(value)}</v></c>'
        if isinstance(value, timedelta):
            seconds = value.total_seconds()
            return f'<c r="{letter}{n}"{s}><v>{seconds / scale if scale else seconds}</v></c>'
        if isinstance(value, time):
            fraction = (value.hour * 3600 + value.minute * 60 + value.second) / 86400
            return f'<c r="{letter}{n}"{s}><v>{fraction}</v></c>'
        if isinstance(value, int | float):  # numpy scalars, Decimal-like subclasses
            return render(float(value), n)
        return render(str(value), n)

    return render


def write_rows(
    out: IO[str],
    rows: Iterable[Any],
    keys: list[str],
    writers: list[Callable[[Any, int], str]],
    first_row: int,
) -> int:
    """Render rows (dicts by key, or sequences in column order) to ``out``; return how many."""
    n = first_row - 1
    batch: list[str] = []
    pairs = list(zip(keys, writers, strict=True))
    for row in rows:
        n += 1
        if isinstance(row, dict):
            get = row.get
            cells = "".join([w(get(k), n) for k, w in pairs])
        else:
            cells = "".join([w(v, n) for v, w in zip(row, writers, strict=False)])
        batch.append(f'<row r="{n}">{cells}</row>')
        if len(batch) >= 2000:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))
    return n - first_row + 1


def sample_styles(sheet_xml: bytes) -> dict[tuple[str, int], int]:
    """Style ids of the placeholder's cells, by (column letter, row number)."""
    return {(m[1].decode(), int(m[2])): int(m[3] or 0) for m in _CELL_S_RE.finditer(sheet_xml)}


def splice(package: Path, out: Path, sheets: dict[str, tuple[Path, int, str]]) -> None:
    """Copy ``package`` to ``out``, replacing placeholder sheet data with streamed rows.

    ``sheets`` maps a sheet part name (``xl/worksheets/sheet3.xml``) to (rows file, last data row,
    the sheet's used range such as ``A1:L1000002``): rows 2..4 of the placeholder (the style samples) are dropped, row 1
    (header) and any row after the data (totals) are kept, and the streamed file goes between them.
    """
    with (
        zipfile.ZipFile(package) as src,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as dst,
    ):
        for info in src.infolist():
            if info.filename not in sheets:
                dst.writestr(
                    info,
                    src.read(info.filename),
                    compress_type=zipfile.ZIP_DEFLATED,
                    compresslevel=6,
                )
                continue
            rows_file, last_row, used = sheets[info.filename]
            xml = re.sub(
                rb'<dimension ref="[^"]*"\s*/>',
                f'<dimension ref="{used}"/>'.encode(),
                src.read(info.filename),
                count=1,
            )
            start, end = xml.index(b"<sheetData>"), xml.index(b"</sheetData>")
            head_rows, tail_rows = [], []
            for match in _ROW_RE.finditer(xml, start, end):
                number = int(match[1] or match[2])
                if number == 1:
                    head_rows.append(match[0])
                elif number > last_row:
                    tail_rows.append(match[0])
            target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            target.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(target, "w", force_zip64=True) as part:
                part.write(xml[:start] + b"<sheetData>" + b"".join(head_rows))
                with open(rows_file, "rb") as rows:
                    shutil.copyfileobj(rows, part, 1 << 20)
                part.write(b"".join(tail_rows) + xml[end:])
