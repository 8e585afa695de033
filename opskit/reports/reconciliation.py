"""Reconciliation (DOMAIN.md): two datasets compared on key columns, with the differences per group.

"Why does the vendor's workbook say 10,412 cases and the platform export 10,377?" Each side is read
into the same field names (``read_side``: the platform's case export at the vendor report grain, or
any workbook or CSV through the vendor header aliases plus a column mapping of the analyst's own,
``field=Header``), summed by key (``keyed_sums``); ``reconcile_sums`` then finds the keys on one side
only and the keys whose compared fields differ by more than a tolerance (absolute, or relative to the
left side), and summarises them per group. The left side is the reference.

A key a side does not have is never silently empty (that would match nothing): a vendor report
without a vendor column takes its vendor from the file-name patterns of config.yaml's
``vendor_reports.vendors`` (as vendor consolidation does), and is a ``DataError`` when none matches; any other
missing key or compared column is a ``DataError`` naming the side, the field and the headers found,
with the mapping that would fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.errors import DataError
from opskit.reports.headers import HEADERS
from opskit.reports.vendor import (
    VENDOR_ALIASES,
    case_export_rows,
    complete_vendor_row,
    is_case_export,
    read_vendor_report,
    vendor_of,
)

if TYPE_CHECKING:
    from opskit.config.vendors import VendorReports

Key = tuple[str, ...]
Sums = dict[Key, list[float]]


def parse_columns(items: Iterable[str], side: str) -> dict[str, str]:
    """A side's column mapping, ``("handled=Ticket Count", "moderator_id=Agent")``, as field -> header.

    Raises:
        DataError: an item without ``=``, naming the side's parameter.
    """
    mapping: dict[str, str] = {}
    for item in items:
        field, sep, header = item.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise DataError(f"{side}_columns: {item!r} is not field=Header", hint="e.g. handled=Ticket Count")
        mapping[field.strip()] = header.strip()
    return mapping


def read_side(
    path: Path,
    tz: tzinfo,
    *,
    side: str,
    keys: Sequence[str],
    compare: Sequence[str],
    columns: Mapping[str, str],
    vendors: VendorReports | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One side's rows in field names, and notes on what was filled in.

    A console case export (``is_case_export``) is brought to the vendor report grain; anything else is
    read with the vendor header aliases (``vendors.aliases`` added), ``columns`` (field -> header) first.
    ``vendors`` is config.yaml's ``vendor_reports:`` (``RunContext.vendor_reports``): who sent a file.

    Raises:
        DataError: a key or compared column is missing on this side (module docstring).
    """
    notes: list[str] = []
    if is_case_export(path) and not columns:
        return case_export_rows(path, tz), notes
    aliases = {k: list(v) for k, v in VENDOR_ALIASES.items()}
    for field, names in (vendors.aliases if vendors else {}).items():
        aliases[field] = [*names, *aliases.get(field, [])]
    for field, header in HEADERS.items():  # opskit's own workbooks (the vendor master) read back
        if field in aliases:
            aliases[field].append(header)
    for field, header in columns.items():
        aliases[field] = [header, *aliases.get(field, [])]
    # totals a vendor gives another way are completed below: handle seconds from AHT x handled
    derived = {"handle_seconds": "aht_seconds"}
    needed = [c for c in (*keys, *compare) if c != "vendor" and c not in derived]
    try:
        table = read_vendor_report(path, aliases=aliases, required=needed)
    except DataError as exc:
        # A missing column is fixed by mapping it; a file that is no workbook, encrypted or damaged keeps its
        # own advice ("save it as .xlsx", "ask for it again").
        missing = "lacks required column" in exc.args[0] or "missing column" in exc.args[0]
        raise DataError(
            f"{side} side ({path.name}): {exc.args[0]}",
            hint=f"Map the field to one of its headers with {side}_columns=field=Header" if missing else exc.hint,
        ) from None
    rows = [complete_vendor_row(r) for r in table.rows]
    for field, source in derived.items():
        if field in (*keys, *compare) and field not in table.columns and source not in table.columns:
            raise DataError(
                f"{side} side ({path.name}) has no column for {field} (headers: {', '.join(table.headers.values())})",
                hint=f"Map it with {side}_columns={field}=<header>",
            )
    if "vendor" in keys and "vendor" not in table.columns:
        vendor = vendor_of(path.name, vendors.vendors if vendors else {})
        if vendor is None:
            raise DataError(
                f"{side} side ({path.name}) has no vendor column, and no vendor_reports.vendors pattern"
                " in config.yaml matches its name",
                hint=f"Add the vendor's files there (vendors: {{Name: {{files: ['{path.name[:4].lower()}*']}}}})",
            )
        for row in rows:
            row["vendor"] = vendor
        notes.append(
            f"{side} side ({path.name}) has no vendor column: vendor '{vendor}' by its file name"
            " (config.yaml vendor_reports.vendors)."
        )
    return rows, notes


def parse_filters(only: Iterable[str]) -> dict[str, str]:
    """``column=value`` filters (``vendor=Lumen BPO``) as a mapping.

    Raises:
        DataError: an item without ``=``.
    """
    only = tuple(only)
    pairs = [tuple(f.split("=", 1)) for f in only]
    if any(len(p) != 2 for p in pairs):
        raise DataError(f"only: {only!r} is not column=value", hint="e.g. only=vendor=Lumen BPO")
    return dict(pairs)  # type: ignore[arg-type]


def key_text(value: Any) -> str:
    """A key value as text that compares equal across sources: dates as ISO, 12.0 as "12", None as ""."""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def keyed_sums(
    rows: Iterable[Mapping[str, Any]], keys: Sequence[str], compare: Sequence[str], only: Mapping[str, str]
) -> tuple[int, Sums]:
    """(rows kept, key -> summed ``compare`` values) of one side.

    A filter on a column the side does not have is no filter (a vendor report has no vendor column).
    """
    sums: Sums = {}
    n = 0
    for row in rows:
        if any(c in row and key_text(row[c]) != v for c, v in only.items()):
            continue
        n += 1
        acc = sums.setdefault(tuple(key_text(row.get(c)) for c in keys), [0.0] * len(compare))
        for i, c in enumerate(compare):
            acc[i] += float(row.get(c) or 0)
    return n, sums


def _beyond(diff: float, base: float, tolerance: float, relative: bool) -> bool:
    if relative:
        return abs(diff) > tolerance * abs(base) if base else diff != 0
    return abs(diff) > tolerance + 1e-9  # float sums: a difference of 1e-12 is no difference


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What ``reconcile_sums`` found. ``left``/``right`` are the summed sides; key lists are in discovery order."""

    keys: tuple[str, ...]
    compare: tuple[str, ...]
    left: Sums
    right: Sums
    only_left: list[Key]
    only_right: list[Key]
    differing: list[Key]
    group: str

    def counts(self) -> dict[str, int]:
        """rows_left, rows_right, matched, only_left, only_right, differing."""
        return {
            "rows_left": len(self.left),
            "rows_right": len(self.right),
            "matched": len(self.left) - len(self.only_left),
            "only_left": len(self.only_left),
            "only_right": len(self.only_right),
            "differing": len(self.differing),
        }

    def totals(self) -> dict[str, dict[str, float]]:
        """Each compared column's total on the left and on the right."""
        return {
            c: {"left": sum(v[i] for v in self.left.values()), "right": sum(v[i] for v in self.right.values())}
            for i, c in enumerate(self.compare)
        }

    def groups(self) -> list[dict[str, Any]]:
        """One row per group (the ``vendor`` key, else the first key): rows and problems on each side,
        and each compared column's left, right and diff (``<column>_l``, ``_r``, ``_diff``)."""
        gi = self.keys.index(self.group)
        groups: dict[str, dict[str, Any]] = {}
        found: tuple[tuple[str, Iterable[Key]], ...] = (
            ("only_left", self.only_left),
            ("only_right", self.only_right),
            ("differing", self.differing),
            ("rows_left", self.left),
            ("rows_right", self.right),
        )
        for name, keys in found:
            for k in keys:
                g = groups.setdefault(
                    k[gi],
                    {
                        "group": k[gi],
                        "rows_left": 0,
                        "rows_right": 0,
                        "only_left": 0,
                        "only_right": 0,
                        "differing": 0,
                        **{f"{c}_{s}": 0.0 for c in self.compare for s in "lr"},
                    },
                )
                g[name] += 1
                if name in ("rows_left", "rows_right"):
                    sums = self.left if name == "rows_left" else self.right
                    for i, c in enumerate(self.compare):
                        g[f"{c}_{name[5]}"] += sums[k][i]
        for g in groups.values():
            for c in self.compare:
                g[f"{c}_diff"] = g[f"{c}_r"] - g[f"{c}_l"]
        return sorted(groups.values(), key=lambda g: str(g["group"]))

    def one_sided_rows(self, side: str) -> list[dict[str, Any]]:
        """The rows only on ``side`` ("left" or "right"), sorted: keys as k0, k1, ... and the compared values."""
        found, sums = (self.only_left, self.left) if side == "left" else (self.only_right, self.right)
        return [
            {**{f"k{i}": v for i, v in enumerate(k)}, **dict(zip(self.compare, sums[k], strict=True))}
            for k in sorted(found)
        ]

    def difference_rows(self) -> list[dict[str, Any]]:
        """The rows on both sides that differ, sorted: keys, and each column's left, right and diff."""
        rows = []
        for k in sorted(self.differing):
            row: dict[str, Any] = {f"k{i}": v for i, v in enumerate(k)}
            for i, c in enumerate(self.compare):
                row.update(
                    {
                        f"{c}_l": self.left[k][i],
                        f"{c}_r": self.right[k][i],
                        f"{c}_diff": self.right[k][i] - self.left[k][i],
                    }
                )
            rows.append(row)
        return rows


def reconcile_sums(
    left: Sums,
    right: Sums,
    *,
    keys: Sequence[str],
    compare: Sequence[str],
    tolerance: float = 0.0,
    relative: bool = False,
) -> Reconciliation:
    """Compare two keyed sums (``keyed_sums``): one-sided keys, and keys whose values differ beyond ``tolerance``.

    Args:
        tolerance: The largest difference still counted as equal (a ratio of the left value when ``relative``).
        relative: Compare |right - left| / |left| instead of |right - left|.
    """
    differing = []
    for k in left.keys() & right.keys():
        diffs = [right[k][i] - left[k][i] for i in range(len(compare))]
        if any(_beyond(d, left[k][i], tolerance, relative) for i, d in enumerate(diffs)):
            differing.append(k)
    return Reconciliation(
        tuple(keys),
        tuple(compare),
        left,
        right,
        [k for k in left if k not in right],
        [k for k in right if k not in left],
        differing,
        "vendor" if "vendor" in keys else keys[0],
    )
