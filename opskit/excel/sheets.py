"""The sheets of a workbook or CSV file as plain rows, whichever library reads them.

``read.py`` finds a table in rows; this module gets the rows. python-calamine reads workbooks about
12x faster than openpyxl read-only and also gives merged ranges and sheet visibility; openpyxl is the
fallback for the few packages calamine cannot parse (and the reader of error cells such as #N/A).
``pick_sheets`` decides which sheets to try; ``csv_sheet`` reads CSV and TSV text with its encoding
and delimiter found.
"""

from __future__ import annotations

import codecs
import collections
import csv
import io
import itertools
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.errors import DataError, did_you_mean
from opskit.excel.errors import WorkbookError
from opskit.excel.types import EPOCH_1900, EPOCH_1904

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Sheet:
    """Rows of one sheet, whatever the backend: (row number, values) pairs plus merged ranges."""

    name: str
    rows: Iterator[tuple[int, list[Any]]]
    merges: list[tuple[int, int, int, int]]  # (first row, first col, last row, last col), 1-based
    epoch: Any = EPOCH_1900
    empty: bool = False


def pick_sheets(
    names: Sequence[str],
    visible: Sequence[bool],
    worksheet: Sequence[bool],
    sheet: str | int | None,
    include_hidden: bool,
    path: Path,
    notes: list[str],
) -> list[int]:
    """Indexes of the sheets to try, in order."""
    if isinstance(sheet, int):
        if not -len(names) <= sheet < len(names):
            raise DataError(f"has no sheet number {sheet} (it has {len(names)})", where=path.name)
        return [sheet % len(names)]
    if isinstance(sheet, str):
        wanted = sheet.strip().casefold()
        for i, name in enumerate(names):
            if name.strip().casefold() == wanted:
                if not visible[i]:
                    notes.append(f"sheet {name!r} is hidden; read because it was named")
                return [i]
        raise DataError(
            f"has no sheet {sheet!r} (sheets: {', '.join(map(repr, names))})",
            where=path.name,
            hint=did_you_mean(sheet, names),
        )
    order = []
    for i, name in enumerate(names):
        if not worksheet[i]:
            notes.append(f"skipped chart sheet {name!r}")
        elif visible[i] or include_hidden:
            order.append(i)
        else:
            notes.append(f"skipped hidden sheet {name!r}")
    if not order:
        raise DataError("has no visible sheet (use include_hidden=True to read hidden ones)", where=path.name)
    return order


class CalamineBook:
    """A workbook read through python-calamine: fast, with merged ranges and sheet visibility."""

    def __init__(self, path: Path, date1904: bool):
        import python_calamine

        self.path = path
        self.epoch = EPOCH_1904 if date1904 else EPOCH_1900
        self.book = python_calamine.CalamineWorkbook.from_path(str(path))
        meta = self.book.sheets_metadata
        self.names = [m.name for m in meta]
        self.visible = [str(m.visible).endswith(".Visible") for m in meta]
        self.worksheet = [str(m.typ).endswith("WorkSheet") for m in meta]

    def sheet(self, index: int) -> Sheet:
        try:
            ws = self.book.get_sheet_by_index(index)
        except Exception as exc:  # python-calamine's CalamineError: a cell its XML cannot hold
            raise WorkbookError(
                f"is damaged: sheet {self.names[index]!r} cannot be read ({str(exc).splitlines()[0][:160]})",
                where=self.path.name,
                kind="corrupt",
                hint="open and re-save it in Excel, or ask for it again",
            ) from None
        c0 = (ws.start or (0, 0))[1]
        merges = [(a[0] + 1, a[1] + 1, b[0] + 1, b[1] + 1) for a, b in (ws.merged_cell_ranges or [])]

        def rows() -> Iterator[tuple[int, list[Any]]]:
            # python-calamine 0.9's iter_rows() starts at the sheet's first row (leading empty rows
            # included) but at the used range's first column: rows count from 1, columns are padded.
            pad = [None] * c0
            for number, values in enumerate(ws.iter_rows(), start=1):
                yield number, (pad + values if c0 else values)

        return Sheet(self.names[index], rows() if ws.start else iter(()), merges, self.epoch)


OPENPYXL_FULL_MODE_BYTES = 8 * 1024 * 1024
"""Workbooks smaller than this are opened whole (merged ranges kept); larger ones read-only, streaming."""


class OpenpyxlBook:
    """Fallback for workbooks calamine cannot parse; openpyxl's warnings become notes."""

    def __init__(self, path: Path, date1904: bool, notes: list[str]):
        import openpyxl

        self.notes = notes
        small = path.stat().st_size < OPENPYXL_FULL_MODE_BYTES  # full mode keeps merged ranges
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.book = openpyxl.load_workbook(path, read_only=not small, data_only=True)
        for warning in caught:
            notes.append(f"openpyxl: {warning.message}")
        self.epoch = EPOCH_1904 if self.book.epoch.year == 1904 else EPOCH_1900
        self.names = [ws.title for ws in self.book.worksheets]
        self.visible = [ws.sheet_state == "visible" for ws in self.book.worksheets]
        self.worksheet = [True] * len(self.names)

    def sheet(self, index: int) -> Sheet:
        ws = self.book.worksheets[index]
        if hasattr(ws, "reset_dimensions"):  # read-only mode trusts the <dimension> tag, which may understate
            ws.reset_dimensions()
        merges = (
            [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
            if hasattr(ws, "merged_cells")
            else []
        )

        def rows() -> Iterator[tuple[int, list[Any]]]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                    yield number, list(values)

        return Sheet(ws.title, rows(), merges, self.epoch)


def open_book(path: Path, date1904: bool, notes: list[str], error_cells: bool = False) -> CalamineBook | OpenpyxlBook:
    """calamine first; openpyxl when calamine fails or would blank error cells (#N/A)."""
    failures: list[str] = []
    order = ("openpyxl", "calamine") if error_cells else ("calamine", "openpyxl")
    for backend in order:
        try:
            if backend == "calamine":
                book: CalamineBook | OpenpyxlBook = CalamineBook(path, date1904)
            else:
                book = OpenpyxlBook(path, date1904, notes)
        except Exception as exc:  # each library has its own exception types for odd packages
            if type(exc).__name__ == "PasswordError":
                raise WorkbookError("is password-protected (encrypted)", where=path.name, kind="encrypted") from None
            missing = re.search(r"There is no item named '([^']+)'|File not found '([^']+)'", str(exc))
            if missing:
                raise WorkbookError(
                    f"is not a complete Excel workbook (part {missing[1] or missing[2]} is missing)",
                    where=path.name,
                    kind="missing_part",
                    hint="open and re-save it in Excel, or ask for it again",
                ) from None
            failures.append(
                f"{backend}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                if str(exc)
                else f"{backend}: {type(exc).__name__}"
            )
            log.debug("%s could not read %s: %s", backend, path.name, failures[-1])
            continue
        if backend == "openpyxl" and not error_cells:
            notes.append(f"read with openpyxl because calamine could not ({failures[0]})")
        elif backend == "calamine" and error_cells:
            notes.append(
                f"error cells (#N/A, #DIV/0!, ...) read as empty: openpyxl could not read the workbook ({failures[0]})"
            )
        return book
    raise WorkbookError(
        f"cannot be read as a workbook ({'; '.join(failures)})",
        where=path.name,
        kind="unreadable",
        hint="open and re-save it in Excel",
    )


def _csv_encoding(path: Path, notes: list[str]) -> str:
    """UTF-8 (with or without BOM) when every byte of the file is; UTF-16 by its BOM, or without one when
    every other byte of the start is NUL; else Windows-1252, with a note. The whole file is checked (at
    disk speed): a name with an accent near the end of a large export must not become "Jos\ufffd"."""
    with open(path, "rb") as handle:
        sample = handle.read(1 << 16)
        if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16"
        head = sample[:4096]
        odd_nuls, even_nuls, half = head[1::2].count(0), head[0::2].count(0), len(head) // 2
        if half >= 4 and max(odd_nuls, even_nuls) > 0.9 * half and min(odd_nuls, even_nuls) < 0.1 * half:
            # UTF-16 text of Latin letters without a BOM: every other byte NUL (a NUL pad has them all NUL)
            notes.append("UTF-16 without a byte-order mark")
            return "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"
        decoder = codecs.getincrementaldecoder("utf-8")()
        handle.seek(0)
        try:
            while block := handle.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            notes.append("not UTF-8; read as Windows-1252")
            return "cp1252"
    return "utf-8-sig"


def csv_delimiter(lines: list[str]) -> str:
    """The delimiter among , ; tab | that splits the most lines into the same number (> 1) of fields: a
    title line above the table ("Generated: 04/11/2026, 08:00") does not outvote the table's rows."""
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t", "|"):
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
        except csv.Error:
            continue
        counts = collections.Counter(w for w in widths if w > 1)
        if counts:
            width, lines_with_it = counts.most_common(1)[0]
            if (lines_with_it, width) > best_score:
                best, best_score = delimiter, (lines_with_it, width)
    return best


def csv_sheet(path: Path, notes: list[str]) -> tuple[Sheet, io.TextIOBase]:
    """A CSV/TSV file as a Sheet, and the open text handle the caller closes when the rows are read.

    The encoding (UTF-8 with or without BOM, UTF-16, else Windows-1252 with a note), Excel's "sep=;"
    line and the delimiter (``csv_delimiter``: among , ; tab |) are found from the file itself.
    """
    encoding = _csv_encoding(path, notes)
    text = open(path, encoding=encoding, errors="replace", newline="")  # noqa: SIM115 closed by caller
    first = text.readline()
    delimiter = None
    if first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
        delimiter = first.strip()[4]  # Excel's "sep=;" hint line
        skip = 1
    else:
        text.seek(0)
        skip = 0
    if delimiter is None:
        if path.suffix.lower() in {".tsv", ".tab"}:
            delimiter = "\t"
        else:
            head = list(itertools.islice(text, 30))
            text.seek(0)
            delimiter = csv_delimiter(head)
    reader = csv.reader(text, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for record in reader:
                yield reader.line_num + skip, record
        except csv.Error as exc:
            raise WorkbookError(
                f"is not valid CSV near line {reader.line_num + skip} ({exc})",
                where=path.name,
                kind="unreadable",
            ) from None

    return Sheet(path.stem, rows(), []), text
