"""Read one table out of a vendor workbook or CSV: find the header, map it, convert, report rejects.

The rows come from ``sheets.py`` (python-calamine, openpyxl as the fallback, or CSV text); this
module finds the header among titles and logos, maps it through aliases, converts the values and
keeps the rows it rejects. Every file first passes ``check.inspect_file``, which refuses .xls,
encrypted, .ods, damaged and hostile files with one clear ``WorkbookError``.

Example:
    table = read_table("vendor.xlsx", aliases={"case_id": ["Ticket #", "Case ID"]},
                       required=["case_id"], types={"created_at": "datetime"}, dayfirst=True)
    for row in table.rows: ...
    for rejection in table.rejected: print(rejection)
"""

from __future__ import annotations

import collections
import difflib
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any

from opskit.errors import DataError
from opskit.excel.check import inspect_file
from opskit.excel.durations import header_unit
from opskit.excel.sheets import Sheet, csv_sheet, open_book, pick_sheets
from opskit.excel.types import Context, column_dayfirst, converter, excel_error

# A totals label: "Total", "Grand total (EMEA)", "Subtotal - Q1", "Summe" — or "Sum"/"Overall" alone (or
# "Sum:", "Sum of ..."), since a name may start with them ("Sum Wing Kei", a queue "sum-de-spam").
_TOTAL_RE = re.compile(
    r"^\s*(?:(?:grand\s+total|sub\s*-?\s*total|totals?|gesamt|summe)\b|(?:sum|overall)\s*(?::|$|of\b))",
    re.I,
)
_NOTE_RE = re.compile(r"^\s*(\*|note\b|notes\b|source\b|generated\b|remarks?\b)", re.I)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row left out of the table, and why. ``row`` is the spreadsheet row number (1-based)."""

    sheet: str
    row: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.sheet}, row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass(slots=True)
class Table:
    """One table read from a sheet. ``rows`` is a list, or an iterator when read with stream=True.

    ``headers`` maps each canonical column name to the header text found in the file. ``rejected``
    and ``notes`` fill in as a streamed ``rows`` is consumed.
    """

    path: Path
    sheet: str
    header_row: int
    columns: list[str]
    headers: dict[str, str]
    rows: list[dict[str, Any]] | Iterator[dict[str, Any]]
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Headers that matched no alias (kept under a snake_case name), when aliases or types were given."""
    units: dict[str, str] = field(default_factory=dict)
    """The duration unit each column's header declares (``durations.header_unit``), where it has one."""
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(header, column) for each header left unread because an earlier header maps to the same column."""
    unread: list[tuple[str, int]] = field(default_factory=list)
    """(sheet, data rows) for each other sheet of the workbook (hidden ones too) with a table of the same kind
    (every required column) that was not read: ``read_table`` reads one sheet, and a caller that merges
    files must not lose the rest. Filled only when no ``sheet`` was named."""
    row_numbers: list[int] = field(default_factory=list)
    """The spreadsheet (or CSV line-count) row number of each row in ``rows``, in order: the reader's own
    count, so a reject found later (a duplicate, a rule) names the row the vendor sees."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        if not isinstance(self.rows, list):
            raise TypeError("a streamed table has no length; read it with stream=False")
        return len(self.rows)


def normalize(header: object) -> str:
    """The comparison key of a header: case-, space- and punctuation-insensitive.

    "Case ID", "case_id" and " CASE-ID " all give "caseid"; "#" reads as "num" and "%" as "pct",
    so "Ticket #" and "ticket num" match.
    """
    text = str(header).casefold().replace("#", " num ").replace("%", " pct ").replace("№", " num ")
    return re.sub(r"[\W_]+", "", text)


def snake(header: object) -> str:
    """A readable key for a column without an alias: "Avg. Handle Time (s)" -> "avg_handle_time_s"."""
    text = str(header).casefold().replace("#", " num ").replace("%", " pct ")
    return re.sub(r"[\W_]+", "_", text).strip("_") or "column"


# --------------------------------------------------------------------------- header


def lookup(alias_map: Mapping[str, str], header: object) -> str | None:
    """The canonical column a header maps to: its normalised text, else its name without a unit
    ("Handling (sec)" -> "Handling", "Productive hrs" -> "Productive"), else None."""
    found = alias_map.get(normalize(header)) or alias_map.get(str(header))
    if found is None:
        base, unit = header_unit(header)
        if unit is not None:
            found = alias_map.get(normalize(base))
    return found


def suggest(missing: str, headers: Iterable[str], alias_map: Mapping[str, str]) -> str | None:
    """The file header most like a missing column or its aliases (difflib on normalised text), or None."""
    names = [k for k, v in alias_map.items() if v == missing] or [normalize(missing)]
    best: tuple[float, str] | None = None
    for header in headers:
        key = normalize(header_unit(header)[0]) or normalize(header)
        for name in names:
            ratio = difflib.SequenceMatcher(None, key, name).ratio()
            if ratio >= 0.75 and (best is None or ratio > best[0]):
                best = (ratio, header)
    return best[1] if best else None


def _alias_map(aliases: Mapping[str, Iterable[str]] | None, types: Mapping[str, str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for canonical, names in (aliases or {}).items():
        mapping.setdefault(normalize(canonical), canonical)
        for name in names:
            mapping.setdefault(normalize(name), canonical)
    for canonical in types:
        mapping.setdefault(normalize(canonical), canonical)
    return mapping


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _fill_merges(top: list[list[Any]], first_row: int, merges: list[tuple[int, int, int, int]]) -> None:
    """Copy each merged range's value into every cell it covers, within the header region."""
    last_row = first_row + len(top) - 1
    for r1, c1, r2, c2 in merges:
        if r1 > last_row or r2 < first_row or (r1 == r2 and c1 == c2):
            continue
        if c2 - c1 > 16384 or r2 - r1 > 1_048_576:
            continue
        source = top[r1 - first_row] if r1 >= first_row else None
        value = source[c1 - 1] if source is not None and c1 - 1 < len(source) else None
        if value is None or value == "":
            continue
        for r in range(max(r1, first_row), min(r2, last_row) + 1):
            row = top[r - first_row]
            if len(row) < c2:
                row.extend([None] * (c2 - len(row)))
            for c in range(c1 - 1, c2):
                if row[c] is None or row[c] == "":
                    row[c] = value


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


_BRACKETED_NOTE = re.compile(r"^\s*[(\[][^()\[\]]{1,20}[)\]]\s*$")  # "(cases)", "[%]", "(count)"


def _duration_unit(value: str) -> str | None:
    """A cell holding a duration unit alone — "(min)", "hrs", "[h:mm:ss]" — as the bracketed suffix a
    header would carry ("(min)"); None for anything else."""
    inner = value.strip().strip("()[]").strip()
    return f"({inner})" if inner and header_unit(f"x ({inner})")[1] is not None else None


def _unit_cell(value: Any) -> bool:
    """Is this cell a unit alone — "(min)", "hrs", "[h:mm:ss]", "(cases)" — as a row of units under a
    header has?"""
    return _is_text(value) and (_duration_unit(value) is not None or bool(_BRACKETED_NOTE.match(value)))


def _units_row(row: list[Any]) -> bool:
    """A row of units under the header ("(min)", "(hrs)"): part of the header, never data."""
    filled = [v for v in row if v is not None and v != ""]
    return bool(filled) and all(_unit_cell(v) for v in filled)


def _names_two_rows(upper: list[Any], lower: list[Any], width: int) -> list[str]:
    """One name per column from a header of two rows: the parent (merged over its columns, or the cell
    above) and the sub-header. A duration unit below ("h:mm:ss", "(min)") is bracketed for ``header_unit``;
    a bracketed note no reader converts ("(cases)") is left out — unless that would give two columns one
    name ("Handled" over "(chat)" and "(email)")."""
    names, full, parent = [], [], ""
    for c in range(width):
        up = _text(upper[c]) if c < len(upper) else ""
        down = _text(lower[c]) if c < len(lower) else ""
        shown = (_duration_unit(down) or "") if down and _unit_cell(down) else down
        if up:
            parent = up
        elif not down:
            parent = ""
        top = up or (parent if down else "")
        names.append(f"{top} {shown}".strip() if top and shown and top != shown else (top or shown))
        full.append(f"{top} {down}".strip() if top and down and top != down else (top or down))
    taken = collections.Counter(n for n in names if n)
    return [f if n and taken[n] > 1 and f != n else n for n, f in zip(names, full, strict=True)]


def _spans(row: list[Any], number: int, merges: list[tuple[int, int, int, int]]) -> bool:
    """Does a header cell with text span several columns of this row?"""
    return any(
        r1 == r2 == number and c2 > c1 and c1 - 1 < len(row) and _is_text(row[c1 - 1]) for r1, c1, r2, c2 in merges
    )


def _two_row_shape(upper: list[Any], lower: list[Any], merged: bool) -> bool:
    """Does ``lower`` look like sub-headers under a spanning header in ``upper``?"""
    if not lower or not any(_is_text(v) for v in lower):
        return False
    if any(v is not None and v != "" and not _is_text(v) for v in lower):
        return False  # a number or date below: ``lower`` is data
    if merged or _units_row(lower):
        return True
    # Without merge information: a header cell followed by blanks, with sub-headers under both.
    for c in range(1, min(len(upper), len(lower))):
        if not _is_text(upper[c]) and _is_text(lower[c]) and _is_text(upper[c - 1]) and _is_text(lower[c - 1]):
            return True
    return False


def _find_header(
    top: list[list[Any]],
    first_row: int,
    merges: list[tuple[int, int, int, int]],
    alias_map: dict[str, str],
) -> tuple[int, int, list[str]] | None:
    """(index in ``top``, header row count, header names), or None when no row looks like one."""
    raw = [list(row) for row in top]
    _fill_merges(top, first_row, merges)
    width = max((len(row) for row in top), default=0)
    if width == 0:
        return None

    def score(names: Iterable[str]) -> int:
        return len({found for name in names if name and (found := lookup(alias_map, name)) is not None})

    def distinct_text(row: list[Any]) -> int:
        return len({v.strip() for v in row if _is_text(v)})

    best: tuple[int, int, int, list[str]] | None = None  # (score, -index, rows, names)
    counts = [distinct_text(row) for row in top]
    if alias_map:
        for i, row in enumerate(top):
            names = [_text(v) for v in row] + [""] * (width - len(row))
            candidates = [(score(names), 1, names)]
            if i + 1 < len(top):
                upper_merged = _spans(raw[i], first_row + i, merges)
                if _two_row_shape(raw[i], raw[i + 1], upper_merged):
                    two = _names_two_rows(top[i], top[i + 1], width)
                    if _units_row(raw[i + 1]):  # units under the names: the header is both rows
                        candidates = []
                    candidates.append((score(two), 2, two))
            for s, n, names in candidates:
                if s and (best is None or (s, -i) > (best[0], best[1])):
                    best = (s, -i, n, names)
        if best is not None:
            return -best[1], best[2], best[3]
    most = max(counts, default=0)
    if most < 1:
        return None
    for i, count in enumerate(counts):
        if count >= max(2 if most >= 2 else 1, 0.75 * most):
            if (
                i > 0 and _spans(raw[i - 1], first_row + i - 1, merges) and _two_row_shape(raw[i - 1], raw[i], True)
            ):  # a row of group headers above the chosen one
                return i - 1, 2, _names_two_rows(top[i - 1], top[i], width)
            n, names = 1, [_text(v) for v in top[i]] + [""] * (width - len(top[i]))
            if i + 1 < len(top):
                upper_merged = _spans(raw[i], first_row + i, merges)
                if _two_row_shape(raw[i], raw[i + 1], upper_merged):
                    n, names = 2, _names_two_rows(top[i], top[i + 1], width)
            return i, n, names
    return None


# --------------------------------------------------------------------------- table


def read_table(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    aliases: Mapping[str, Iterable[str]] | None = None,
    required: Iterable[str] = (),
    types: Mapping[str, str] | None = None,
    dayfirst: bool | None = None,
    include_hidden: bool = False,
    header_search_rows: int = 30,
    tz: tzinfo | None = None,
    stream: bool = False,
    header: bool = True,
    label_columns: Iterable[str] = (),
) -> Table:
    """Read the table on a sheet of an .xlsx/.xlsm workbook, or a CSV/TSV file.

    Args:
        path: The workbook or CSV file.
        sheet: A sheet name (case-insensitive) or index; by default the first visible sheet whose
            header has every required column (or the first visible sheet).
        aliases: Canonical column name -> header spellings it may have in a file. Matching ignores
            case, spaces and punctuation. Other columns keep a snake_case name and are noted.
        required: Canonical columns that must be present; else DataError naming them.
        types: Canonical column -> one of str, int, float, percent, bool, date, datetime,
            duration, seconds. Untyped columns keep the cell's value (whole floats become int).
        dayfirst: How to read 03/04/2026. None rejects ambiguous text dates instead of guessing. A date
            column with a value only valid month-first (11/13/2026) is read month-first throughout, and a
            day-first-only value in it (13/11/2026) is a rejection (not with stream=True: rows come one by one).
        include_hidden: Also consider hidden sheets when choosing one.
        header_search_rows: How many rows from the top may hold titles, logos and notes.
        label_columns: Canonical columns of text that may say a row is a total ("Subtotal", "Grand Total"),
            beside the first three columns: such a row is skipped with a note, not read as data.
        tz: Attach this zone to naive datetimes.
        stream: Return rows as an iterator (rejections and notes fill in as it is consumed).
        header: False for a sheet without a header row: columns are named by letter (A, B, ...),
            ``types`` and ``required`` use those letters, and every non-blank row is data.

    Raises:
        WorkbookError: the file is not readable (.xls, encrypted, damaged, ...).
        DataError: no header found, a required column is missing, or no such sheet.
    """
    path = Path(path)
    types = dict(types or {})
    for type_name in types.values():
        converter(type_name)  # fail early on a misspelt type
    required = list(required)
    alias_map = _alias_map(aliases, types)
    for name in required:
        alias_map.setdefault(normalize(name), name)
    kind = inspect_file(path)
    notes: list[str] = []
    closer: Callable[[], None] = lambda: None  # noqa: E731
    if kind.kind == "csv":
        sheet_src, handle = csv_sheet(path, notes)
        closer = handle.close
        candidates: Iterator[Sheet] = iter([sheet_src])
    else:
        book = open_book(path, kind.date1904, notes, kind.error_cells)
        order = pick_sheets(book.names, book.visible, book.worksheet, sheet, include_hidden, path, notes)
        candidates = (book.sheet(i) for i in order)
    failures: list[str] = []
    try:
        for src in candidates:
            found = _locate(src, alias_map, header_search_rows) if header else _letters(src)
            if found is None:
                failures.append(
                    f"sheet {src.name!r} is empty"
                    if src.empty
                    else f"sheet {src.name!r}: no header row in the first {header_search_rows} rows"
                )
                continue
            header_row, n_rows, names, buffered = found
            columns, headers, positions, unknown, dupes = _map_columns(
                names, alias_map, bool(aliases or types), letters=not header
            )
            missing = [r for r in required if r not in headers]
            if missing:
                hints = [
                    f"did you mean {h!r} for {m}?"
                    for m in missing
                    if (h := suggest(m, [h for _, h in unknown], alias_map)) is not None
                ]
                failures.append(
                    f"sheet {src.name!r} lacks required column(s) {', '.join(missing)} "
                    f"(found: {', '.join(repr(h) for h in headers.values()) or 'none'})"
                    + (f"; {'; '.join(hints)}" if hints else "")
                )
                if sheet is None and kind.kind != "csv":
                    continue
                raise DataError(f"{failures[-1]}", where=path.name)
            if unknown:
                notes.append(
                    f"sheet {src.name!r}: columns without an alias kept as "
                    + ", ".join(f"{h!r} -> {c}" for c, h in unknown)
                )
            notes.extend(f"column {h!r} also maps to {c}; the first one is used" for h, c in dupes)
            units = {c: u for c in columns if (u := header_unit(headers[c])[1]) is not None}
            table = Table(
                path, src.name, header_row, columns, headers, [], [], notes, [h for _, h in unknown], units, dupes
            )
            if kind.kind != "csv" and sheet is None:
                table.unread = _unread_sheets(book, src.name, alias_map, header_search_rows, required)
            body: Iterable[tuple[int, list[Any]]] = itertools.chain(buffered, src.rows)
            ctx = Context(src.epoch, dayfirst, tz)
            plan = [
                (name, positions[name], converter(types[name], units.get(name)) if name in types else _auto)
                for name in columns
            ]
            if not stream:  # each date column's day order is decided once from all its values
                whole = list(body)
                plan = [(name, pos, _column_order(name, pos, conv, types, whole, ctx)) for name, pos, conv in plan]
                body = whole
            labels = [positions[c] for c in label_columns if c in positions]
            # A column the caller did not ask for (no alias, no type) never rejects a row: "#N/A" from a
            # VLOOKUP in a "Team lead" column is kept as that text, and the row is read.
            lenient = {c for c, _ in unknown} if aliases or types else set()
            # Only what names a row (a date, a moderator, a site) is merged down to each row of its block: a
            # number merged over rows (a moderator's productive hours over their queue rows) is said once.
            naming = {positions[c] for c in columns if types.get(c) in ("date", "datetime", "str")}
            body = _fill_vertical_merges(body, src.merges, header_row + n_rows - 1, naming)
            rows = _rows(body, plan, ctx, table, header_row + n_rows - 1, labels, lenient)
            if stream:
                table.rows = _closing(rows, closer)
                closer = lambda: None  # noqa: E731
            else:
                table.rows = list(rows)
            return table
    finally:
        closer()
    hidden = [n.removeprefix("skipped hidden sheet ") for n in notes if n.startswith("skipped hidden sheet ")]
    if hidden:  # the table may well be there: say so, rather than only what the visible sheets lack
        failures.append(f"hidden sheet(s) {', '.join(hidden)} not read")
    raise DataError(
        "; ".join(failures) or "has no sheet with a table",
        where=path.name,
        hint="unhide the sheet that holds the table (Excel: right-click a sheet tab > Unhide) and save it"
        if hidden
        else None,
    )


def _column_order(
    name: str, position: int, convert: Any, types: Mapping[str, str], body: list[tuple[int, list[Any]]], ctx: Context
) -> Any:
    """``convert`` for a date column whose values show it is month-first (``types.column_dayfirst``), bound to
    that order (a day-first value in it is then a reject); any other column's converter as it is."""
    if types.get(name) not in ("date", "datetime"):
        return convert
    values = (v[position] for _, v in body if position < len(v))
    order = column_dayfirst(values, ctx.dayfirst)
    if order is not False:
        return convert
    fixed = replace(ctx, dayfirst=False, order_fixed=True)
    return lambda raw, _ctx: convert(raw, fixed)


def _unread_sheets(
    book: Any, read: str, alias_map: dict[str, str], search: int, required: list[str]
) -> list[tuple[str, int]]:
    """(sheet, data rows) of the workbook's other sheets, visible or hidden, whose header has every
    required column (any known column when none is required) and filled rows under it: a second site's
    sheet is data a caller would otherwise drop. Notes, a lookup list (queue -> owner) and chart sheets
    are not tables of the same kind and are not counted."""
    out = []
    for index, name in enumerate(book.names):
        if name == read or not book.worksheet[index]:
            continue
        other = book.sheet(index)
        found = _locate(other, alias_map, search)
        if found is None:
            continue
        mapped = {lookup(alias_map, n) for n in found[2] if n} - {None}
        if not mapped or not set(required) <= mapped:
            continue
        first_data = found[0] + found[1]
        count = sum(1 for n, values in itertools.chain(found[3], other.rows) if n >= first_data and _filled(values))
        if count:
            out.append((name, count))
    return out


def _closing(rows: Iterator[dict[str, Any]], closer: Callable[[], None]) -> Iterator[dict[str, Any]]:
    try:
        yield from rows
    finally:
        closer()


def _locate(
    src: Sheet, alias_map: dict[str, str], search: int
) -> tuple[int, int, list[str], list[tuple[int, list[Any]]]] | None:
    buffered = list(itertools.islice(src.rows, search + 1))
    if not any(_filled(v) for _, v in buffered):
        src.empty = True
        return None
    first_row = buffered[0][0]
    # Index rows by spreadsheet row number so gaps (skipped empty rows) do not shift merges.
    top_numbers = [n for n, _ in buffered[:search]]
    top = [list(v) for _, v in buffered[:search]]
    dense_first = top_numbers[0]
    if top_numbers[-1] - dense_first + 1 != len(top):  # sparse rows: pad to a dense block
        dense: list[list[Any]] = [[] for _ in range(top_numbers[-1] - dense_first + 1)]
        for number, values in zip(top_numbers, top, strict=True):
            dense[number - dense_first] = values
        top = dense
    found = _find_header(top, first_row, src.merges, alias_map)
    if found is None:
        return None
    index, n_rows, names = found
    header_number = dense_first + index
    rest = [(n, v) for n, v in buffered if n >= header_number + n_rows]
    return header_number, n_rows, names, rest


def _letters(src: Sheet) -> tuple[int, int, list[str], list[tuple[int, list[Any]]]] | None:
    from openpyxl.utils import get_column_letter

    buffered = list(itertools.islice(src.rows, 1000))
    width = max((len(v) for _, v in buffered), default=0)
    if not any(_filled(v) for _, v in buffered):
        src.empty = True
        return None
    return 0, 1, [get_column_letter(i + 1) for i in range(width)], buffered


def _totals_label(values: list[Any], positions: list[int]) -> str | None:
    """The label that makes a row a totals row (``_TOTAL_RE``) in one of ``positions``, or None."""
    width = len(values)
    return next((v for p in positions if p < width and _is_text(v := values[p]) and _TOTAL_RE.match(v)), None)


def _filled(values: list[Any]) -> bool:
    return any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values)


def _map_columns(names: list[str], alias_map: dict[str, str], has_schema: bool, letters: bool = False):
    columns: list[str] = []
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    unknown: list[tuple[str, str]] = []
    dupes: list[tuple[str, str]] = []
    for index, header in enumerate(names):
        if not header:
            continue
        canonical = lookup(alias_map, header)
        known = canonical is not None
        if canonical is None:
            canonical = header if letters else snake(header)
        if canonical in headers:
            if known:
                dupes.append((header, canonical))
                continue
            n = 2
            while f"{canonical}_{n}" in headers:
                n += 1
            canonical = f"{canonical}_{n}"
        columns.append(canonical)
        headers[canonical] = header
        positions[canonical] = index
        if not known and has_schema:
            unknown.append((canonical, header))
    return columns, headers, positions, unknown, dupes


def _auto(value: Any, ctx: Context) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def _fill_vertical_merges(
    body: Iterable[tuple[int, list[Any]]],
    merges: list[tuple[int, int, int, int]],
    last_header_row: int,
    columns: set[int],
) -> Iterable[tuple[int, list[Any]]]:
    """Rows with a value merged down one of ``columns`` (0-based) over several of them ("03/11/2026" over
    a day's block) given to each row of the block that holds something else: Excel shows the value on every
    row of the block, and the vendor means it for each. Blank rows inside a block stay blank; a merge over
    several columns (a note, a banner) is left as it is."""
    down = sorted(
        (m for m in merges if m[2] > m[0] and m[1] == m[3] and m[0] > last_header_row and m[1] - 1 in columns),
        key=lambda m: m[0],
    )
    if not down:
        return body

    def filled() -> Iterator[tuple[int, list[Any]]]:
        open_: list[tuple[int, int, Any]] = []  # (last row, column, value)
        index = 0
        for number, values in body:
            while index < len(down) and down[index][0] <= number:
                r1, c1, r2, _ = down[index]
                if r1 == number and c1 - 1 < len(values):
                    open_.append((r2, c1 - 1, values[c1 - 1]))
                index += 1
            open_ = [m for m in open_ if m[0] >= number]
            for _, column, value in open_:
                others = any(v is not None and v != "" for i, v in enumerate(values) if i != column)
                if others and (column >= len(values) or values[column] is None or values[column] == ""):
                    values.extend([None] * (column + 1 - len(values)))
                    values[column] = value
            yield number, values

    return filled()


def _rows(
    body: Iterable[tuple[int, list[Any]]],
    plan: list[tuple[str, int, Any]],
    ctx: Context,
    table: Table,
    last_header_row: int,
    labels: list[int],
    lenient: set[str] | frozenset[str] = frozenset(),
) -> Iterator[dict[str, Any]]:
    sheet, rejected, notes = table.sheet, table.rejected, table.notes
    blank = 0
    # where a totals label may stand: the first three columns, and the caller's label columns
    first_positions = sorted({*sorted(p for _, p, _ in plan)[:3], *labels})
    for number, values in body:
        if number <= last_header_row:
            continue
        width = len(values)
        if not _filled(values):
            blank += 1
            continue
        lead = _totals_label(values, first_positions)
        if lead is not None:
            notes.append(f"{sheet}, row {number}: skipped totals row {lead.strip()!r}")
            continue
        filled = [v for v in values if v is not None and v != ""]
        if (
            len(filled) == 1
            and _is_text(filled[0])
            and len(plan) > 2
            and (_NOTE_RE.match(filled[0]) or len(filled[0]) > 40)
        ):
            notes.append(f"{sheet}, row {number}: skipped note {filled[0].strip()[:60]!r}")
            continue
        row: dict[str, Any] = {}
        ok = True
        for name, position, convert in plan:
            raw = values[position] if position < width else None
            if raw is None:
                row[name] = None
                continue
            error = excel_error(raw)
            if error and name in lenient:
                row[name] = error
                continue
            if error:
                rejected.append(Rejection(sheet, number, name, f"cell holds the Excel error {error}"))
                ok = False
                continue
            try:
                row[name] = convert(raw, ctx)
            except ValueError as exc:
                rejected.append(Rejection(sheet, number, name, str(exc)))
                ok = False
        if ok:
            table.row_numbers.append(number)
            yield row
    if blank:
        notes.append(f"{sheet}: skipped {blank} blank row(s)")
