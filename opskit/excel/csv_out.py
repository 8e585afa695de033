"""CSV files written for people: text that a spreadsheet program would run as a formula is defused.

A CSV has no cell types: Excel, LibreOffice and Google Sheets evaluate any field starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return when the file is opened ("CSV injection"). The OWASP recommendation is
to prefix such a field with an apostrophe, which the programs show as text. Numbers stay numbers: ``-5``,
``+3.5`` and ``1e-3`` are left alone, written as numbers or as numeric text alike.

The guard is per output (``formula_guard=``): on by default, for files meant to be opened by people; off for
files another program reads back (a data file under ``paths.data``, an export compared byte for byte), where
the apostrophe would change the data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Mapping
from typing import IO, Any

from opskit.excel.safe import FORMULA_LEADS

# A number as spreadsheet programs read one: nothing to evaluate, and quoting it would turn it into text.
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def guard_field(value: Any) -> Any:
    """``value`` with an apostrophe in front when it is text a spreadsheet program would evaluate."""
    if isinstance(value, str) and value and value[0] in FORMULA_LEADS and not _NUMBER_RE.fullmatch(value):
        return "'" + value
    return value


class _GuardedWriter:
    """``csv.writer`` with every field of every row passed through ``guard_field``."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.dialect = writer.dialect

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([guard_field(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class _GuardedDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """``csv.DictWriter`` whose header and values pass through ``guard_field`` (headers come from data too)."""

    def writerow(self, rowdict: Mapping[Any, Any]) -> Any:
        return super().writerow({k: guard_field(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[Any, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def csv_writer(f: IO[str], *, formula_guard: bool = True, **fmtparams: Any) -> Any:
    """A ``csv.writer`` on ``f`` (opened with ``newline=""``), guarded unless ``formula_guard=False``."""
    writer = csv.writer(f, **fmtparams)
    return _GuardedWriter(writer) if formula_guard else writer


def csv_dict_writer(
    f: IO[str], fieldnames: Collection[Any], *, formula_guard: bool = True, **kwargs: Any
) -> csv.DictWriter:  # type: ignore[type-arg]
    """A ``csv.DictWriter`` on ``f``, guarded unless ``formula_guard=False``."""
    cls = _GuardedDictWriter if formula_guard else csv.DictWriter
    return cls(f, fieldnames, **kwargs)
