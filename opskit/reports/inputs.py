"""What a report reads: its case exports, found by period, and the small side inputs beside them.

Report tasks take file names as parameters (``cases=``, ``queues=``, ``targets=``, ``shifts=``),
relative to the data folder, with defaults that are the files other jobs publish there
(``data/cases/<period>.csv`` from export_cases, ``queues.csv`` and ``targets.csv`` from
pull_reference). The helpers here turn those parameters into paths and rows, with the same errors
everywhere: a file the user named that is missing is a ``DataError`` naming the path; a default
that is missing is left out, with a note for the report.

Example:
    files = case_exports(ctx, cases, [period, period.previous()])
    sla = read_optional(ctx, queues, "queues.csv", read_queues, what="SLA attainment", notes=notes)
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from opskit.errors import DataError
from opskit.excel.durations import parse_seconds
from opskit.period import Period
from opskit.reports.formulas import HIGHER, LOWER

if TYPE_CHECKING:
    from opskit.context import RunContext

T = TypeVar("T")


# --------------------------------------------------------------------------- finding files


def data_path(ctx: RunContext, name: str | Path) -> Path:
    """``name`` as given when absolute, else inside the data folder."""
    path = Path(name)
    return path if path.is_absolute() else ctx.data_dir / path


def data_file(ctx: RunContext, name: str | Path, what: str = "", *, hint: str | None = None) -> Path:
    """A file the user named, which must exist: ``DataError("<what> file not found: <path>")`` if not."""
    path = data_path(ctx, name)
    if not path.is_file():
        raise DataError(f"{what + ' ' if what else ''}file not found: {path}", hint=hint)
    return path


def existing(paths: Iterable[Path]) -> list[Path]:
    """The paths that exist, in order, without repeats."""
    out: list[Path] = []
    for p in paths:
        if p.is_file() and p not in out:
            out.append(p)
    return out


def step_exports(steps: Mapping[str, Any]) -> list[Path]:
    """Case exports (``cases*.csv``) that earlier steps of the same run produced, in step order.

    This is how a chain hands data on: ``export_cases`` downloads, ``efficiency_report`` reads it.
    """
    found: list[Path] = []
    for result in steps.values():
        for f in getattr(result, "files", []):
            path = Path(f)
            if path.suffix.lower() == ".csv" and path.name.startswith("cases") and path.is_file():
                found.append(path)
    return found


def case_exports(
    ctx: RunContext, cases: str, periods: Iterable[Period | str], *, from_steps: bool = True
) -> list[Path]:
    """The case export CSVs a report reads, in this order of preference.

    1. The files named in ``cases`` (comma-separated, relative to the data folder); each must exist.
    2. The exports earlier steps of the same run produced (``step_exports``), unless ``from_steps``
       is False: a report whose arithmetic assumes whole periods (capacity_plan's weeks of history)
       must not take a chain's shorter export instead.
    3. ``data/cases/<period label>.csv`` for each of ``periods`` that exists.

    Returns:
        The paths; empty when nothing was named and nothing was found (the task says what is missing).

    Raises:
        DataError: a named file does not exist.
    """
    if cases:
        paths = [data_path(ctx, p.strip()) for p in cases.split(",") if p.strip()]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise DataError(f"case export not found: {', '.join(missing)}")
        return paths
    found = step_exports(ctx.steps) if from_steps else []
    return found or existing(ctx.data_dir / "cases" / f"{p}.csv" for p in periods)


def read_optional(
    ctx: RunContext,
    given: str,
    default: str,
    reader: Callable[[Path], T],
    *,
    what: str,
    notes: list[str],
) -> T | None:
    """Read an optional side input: the named file (which must exist), else the default if present.

    A missing default is not an error: the report leaves ``what`` out and says so in ``notes``
    ("No queues.csv in the data folder: SLA attainment left out.").
    """
    path = data_path(ctx, given or default)
    if not path.is_file():
        if given:
            raise DataError(f"{what} file not found: {path}")
        notes.append(f"No {default} in the data folder: {what} left out.")
        return None
    return reader(path)


# --------------------------------------------------------------------------- weeks


def iso_week(day: date) -> str:
    """The ISO week of a day as a period label: "2026-W47"."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def week_start(day: date) -> date:
    """The Monday of the ISO week of ``day``."""
    return day - timedelta(days=day.weekday())


def weeks_before(monday: date, n: int) -> list[Period]:
    """The ``n`` whole weeks before the week starting ``monday``, the latest first."""
    return [Period(monday - timedelta(weeks=w), monday - timedelta(weeks=w, days=-6)) for w in range(1, n + 1)]


# --------------------------------------------------------------------------- side inputs


def read_rows(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    """A small CSV or workbook as dicts, checked to have the ``required`` columns.

    Workbooks go through ``opskit.excel.read_table`` (header found, merged cells and totals rows
    handled); CSVs through ``csv.DictReader`` (a UTF-8 BOM is fine; comma, semicolon, tab or pipe).

    Raises:
        DataError: a required column is missing, a workbook cell holds an Excel error (#N/A), or a CSV is
            not UTF-8 (``WorkbookError`` for an unreadable workbook).
    """
    return [row for _, row in numbered_rows(path, required)]


def numbered_rows(
    path: Path, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[int, dict[str, Any]]]:
    """``read_rows`` with each row's number as the user sees it (the sheet's row, the CSV's line), so an
    error about a cell can name it wherever the table starts. A side input is read whole or not at all:
    a row a workbook reader would reject in a column the reader uses (``required`` and ``optional``) is an
    error, never a row left out; an Excel error in any other column ("#N/A" in an "owner" column) is
    kept as its text."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        # Here, not at the top: opskit.excel.read costs ~20 ms, and `runner.py list` imports every task.
        from opskit.excel import read_table

        used = {name: [name] for name in (*required, *optional)}
        table = read_table(path, required=required, aliases=used)
        if table.rejected:
            first = table.rejected[0]
            raise DataError(f"{path.name}, row {first.row}: {first.column}: {first.reason}")
        return list(zip(table.row_numbers, table.rows, strict=True))
    # Here, not at the top: as read_table above (the CSV reader's delimiter rule, one for every CSV).
    from opskit.excel.sheets import csv_delimiter

    with open(path, newline="", encoding="utf-8-sig") as handle:
        try:
            delimiter = csv_delimiter(list(itertools.islice(handle, 30)))
            handle.seek(0)
            reader = csv.DictReader(handle, delimiter=delimiter)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}")
            return [(reader.line_num, row) for row in reader]
        except UnicodeDecodeError:
            # Text is decoded a block ahead of the rows: the line is counted in the bytes.
            raise DataError(
                f"{path.name}, line {_bad_line(path)}: not UTF-8 text",
                hint="Save it as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8)",
            ) from None


def _bad_line(path: Path) -> int:
    """The line of a file's first byte that is not UTF-8 (1 when it all is)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data[: exc.start].count(b"\n") + 1
    return 1


_PLAIN_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


def _key(value: object) -> str:
    """An id cell as text, as a CSV would hold it: a workbook's 101 or 101.0 is "101"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _number(path: Path, n: int, column: str, value: object) -> float:
    """A numeric cell of a side input, or a ``DataError`` naming the file, row and column.

    Thousands separators are commas between groups of three ("1,234.5"); "12,5" is refused, not read as
    125 (a decimal comma is the locale's, and opskit does not guess it).
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    text = str(value).strip()
    if _PLAIN_NUMBER.match(text) and any(c.isdigit() for c in text):
        return float(text.replace(",", ""))
    raise DataError(f"{path.name}, row {n}: {column} {value!r} is not a number")


def read_queues(path: Path) -> dict[str, float]:
    """queue_id -> sla_hours, from a CSV or workbook with those two columns."""
    out = {}
    for n, r in numbered_rows(path, ("queue_id", "sla_hours")):
        if r["queue_id"] not in (None, "") and r["sla_hours"] not in (None, ""):
            out[str(r["queue_id"])] = _number(path, n, "sla_hours", r["sla_hours"])
    return out


@dataclass(frozen=True, slots=True)
class Target:
    """One row of the targets table (DOMAIN.md): for ``period``, ``metric`` of ``level``/``key`` is ``value``."""

    period: str
    level: str
    key: str
    metric: str
    value: float
    direction: str


def read_targets(path: Path) -> list[Target]:
    """Targets (DOMAIN.md: period, level, key, metric, value, direction) from a CSV or workbook.

    The report's own metrics are judged by their DOMAIN.md direction whatever the row says
    (``cuts.misses``); ``direction`` serves a task's metrics of its own (blank: higher_is_better).

    Raises:
        DataError: a direction other than higher_is_better / lower_is_better, or a value that is not
            a number, naming the row.
    """
    out = []
    for n, r in numbered_rows(path, ("level", "key", "metric", "value"), ("period", "direction")):
        direction = str(r.get("direction") or HIGHER)
        if direction not in (HIGHER, LOWER):
            raise DataError(f"{path.name}, row {n}: direction {direction!r} is not {HIGHER} or {LOWER}")
        value = _number(path, n, "value", r["value"])
        out.append(
            Target(str(r.get("period") or ""), str(r["level"]), str(r["key"]), str(r["metric"]), value, direction)
        )
    return out


def targets_for(targets: Iterable[Target], label: str, last_day: date) -> dict[tuple[str, str, str], Target]:
    """(level, key, metric) -> target for a period: rows for its label, else for the ISO week of its
    last day, else rows without a period (standing targets). Level ``global`` becomes ``all``."""
    rank = {label: 0, iso_week(last_day): 1, "": 2}
    best: dict[tuple[str, str, str], tuple[int, Target]] = {}
    for t in targets:
        r = rank.get(t.period)
        if r is None:
            continue
        level = "all" if t.level == "global" else t.level
        key = (level, "all" if level == "all" else t.key, t.metric)
        if key not in best or r < best[key][0]:
            best[key] = (r, t)
    return {k: t for k, (_, t) in best.items()}


def read_shifts(path: Path, first: date, last: date) -> dict[str, float]:
    """moderator_id -> productive seconds on shift days first..last (shift dates are UTC days).

    Productive time may be written in any duration form (``opskit.excel.durations.parse_seconds``:
    seconds, ``h:mm:ss`` text, an Excel duration cell).

    Raises:
        DataError: a productive time that is not a duration, naming the file and row.
    """
    out: dict[str, float] = {}
    for n, r in numbered_rows(path, ("moderator_id", "date", "productive_seconds")):
        day = r["date"].date() if isinstance(r["date"], datetime) else r["date"]
        if not isinstance(day, date):
            try:
                day = date.fromisoformat(str(day).strip()[:10])
            except ValueError:
                raise DataError(f"{path.name}, row {n}: date {r['date']!r} is not a date (YYYY-MM-DD)") from None
        if first <= day <= last:
            try:
                seconds = parse_seconds(r["productive_seconds"]) or 0.0
            except ValueError as exc:
                raise DataError(f"{path.name}, row {n}: productive_seconds: {exc}") from None
            moderator = _key(r["moderator_id"])
            out[moderator] = out.get(moderator, 0.0) + seconds
    return out


def read_staffing(path: Path) -> dict[tuple[str, str], float]:
    """(ISO week, queue_id) -> planned FTE, summed over vendors, from a workbook or CSV with
    week, queue_id and fte (the vendors' staffing plan that capacity_plan compares against).

    ``week`` is an ISO week ("2026-W49") or any day of it (a date cell or "2026-11-30").

    Raises:
        DataError: a week or FTE that is not one, naming the file and row.
    """
    out: dict[tuple[str, str], float] = {}
    for n, r in numbered_rows(path, ("week", "queue_id", "fte")):
        key = (_week(path, n, r["week"]), _key(r["queue_id"]))
        out[key] = out.get(key, 0.0) + (_number(path, n, "fte", r["fte"]) if r["fte"] not in (None, "") else 0.0)
    return out


_ISO_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")


def _week(path: Path, n: int, value: object) -> str:
    """A staffing row's week as its ISO label, from the label or a day of the week."""
    if isinstance(value, date):
        return iso_week(value.date() if isinstance(value, datetime) else value)
    text = str(value or "").strip()
    if _ISO_WEEK.match(text.upper()):
        return text.upper()
    try:
        return iso_week(date.fromisoformat(text[:10]))
    except ValueError:
        raise DataError(
            f"{path.name}, row {n}: week {value!r} is not an ISO week (2026-W49) or a date (2026-11-30)"
        ) from None


def moderators_in(path: Path) -> dict[str, tuple[str, str]] | None:
    """The vendor and site of each moderator of a file that has those columns beside ``moderator_id``
    (a shifts export often does); None when it has not. Unreadable files are left to their reader."""
    try:
        return read_moderators(path)
    except DataError:
        return None


def read_moderators(path: Path) -> dict[str, tuple[str, str]]:
    """moderator_id -> (vendor, site), from the moderator table (DOMAIN.md: moderator_id, vendor, site).

    Which vendor and site a moderator's shifts count for in UPH (``cuts.productive_by``): without it,
    only moderators who handled a case in the exports read are known, from their case rows.
    """
    out: dict[str, tuple[str, str]] = {}
    for r in read_rows(path, ("moderator_id", "vendor", "site")):
        if r["moderator_id"] not in (None, ""):
            out[_key(r["moderator_id"])] = (str(r["vendor"] or "").strip(), str(r["site"] or "").strip())
    return out
