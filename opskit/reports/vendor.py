"""Vendor daily reports (DOMAIN.md): the spellings vendors use, reading and checking their rows, the inbox.

Every vendor sends one row per moderator, queue and day, but under its own headers, in its own order
and date format. ``VENDOR_ALIASES`` maps each DOMAIN.md field to the spellings seen so far, so
``read_vendor_report`` reads any of them into the same fields (durations in the unit the header names);
``column_problems`` names every header that maps to nothing and every expected field a file lacks, so
that a value in the source never turns into an empty cell unnoticed; ``complete_vendor_row`` fills the
handle time a vendor gives only as an average; ``check_vendor_rows`` applies the rules a row must pass,
and names the spreadsheet row of every one that fails. ``vendor_of`` says who sent a file by the
patterns of config.yaml's ``vendor_reports.vendors``, and nothing else. ``case_export_rows`` brings the platform's own
case export to the same grain, so the two can be reconciled. ``Inbox`` is the folder the files arrive
in: each file is read once, then archived, or quarantined with its reason; nothing is deleted.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, tzinfo
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.config.vendor_fields import VENDOR_REPORT_FIELDS
from opskit.errors import ConfigError, DataError
from opskit.excel.errors import WorkbookError
from opskit.reports.headers import human_header

if TYPE_CHECKING:
    from opskit.config.vendors import VendorPattern, VendorReports
    from opskit.excel import Column, Table

# DOMAIN.md "vendor daily report" fields and the spellings vendors use for them. Headers match
# ignoring case, spaces, punctuation and a unit ("Handling (sec)" and "handling" are one spelling).
VENDOR_ALIASES: dict[str, list[str]] = {
    "date": ["date", "report_date", "Work Date", "Day", "Business Date", "Shift Date", "Activity Date"],
    "vendor": ["vendor", "BPO", "partner", "Vendor Name"],
    "site": ["site", "location", "Centre", "center", "Site Name", "Office"],
    "moderator_id": [
        *("moderator_id", "Agent ID", "moderator", "Employee #", "Agent", "mod id", "moderator id", "mod"),
        *("employee id", "emp id", "agent name", "reviewer", "reviewer id", "associate id", "analyst id"),
    ],
    "queue_id": ["queue_id", "Queue", "Queue Name", "Queue ID", "Work Queue", "Workflow", "Skill"],
    "handled": [
        *("handled", "Ticket Count", "cases_handled", "Volume", "Handled", "cases", "tickets", "items handled"),
        *("jobs handled", "decisions", "reviews", "tickets closed", "cases closed", "items"),
    ],
    "handle_seconds": [
        *("handle_seconds", "Total Handle Time (h:mm:ss)", "handle_time_sec", "Handle Secs", "handle time"),
        *("total handle time", "handling", "handling time", "total handling time", "tht", "total handle"),
    ],
    "aht_seconds": [
        *("AHT (h:mm:ss)", "AHT", "aht_seconds", "average handle time", "avg handle time"),
        *("average handling time", "avg handling time", "mean handle time"),
    ],
    "productive_seconds": [
        *("productive_seconds", "Logged-in Productive (sec)", "prod_time_sec", "Productive Secs", "productive"),
        *("productive time", "logged productive", "logged-in productive", "prod time", "production time"),
    ],
    "logged_seconds": [
        *("logged_seconds", "logged in", "logged-in time", "logged in time", "login time", "logged time"),
        *("time logged", "staffed time", "logged", "login duration"),
    ],
    "idle_seconds": ["idle_seconds", "idle", "idle time", "not ready", "not ready time", "aux time", "aux"],
    "qa_sampled": [
        *("qa_sampled", "QA Audited", "qa_checked", "Audits", "QA Sampled", "qa samples", "qa reviews"),
        *("qa count", "audited", "quality checks"),
    ],
    "qa_correct": [
        *("qa_correct", "QA Passed", "qa_passed", "Audits OK", "QA Correct", "qa pass", "audits passed"),
        *("quality passed", "qa ok"),
    ],
}
DURATION_FIELDS = ("handle_seconds", "aht_seconds", "productive_seconds", "logged_seconds", "idle_seconds")
VENDOR_TYPES = {
    "date": "date",
    "handled": "int",
    **{f: "seconds" for f in DURATION_FIELDS},  # one parser (opskit/excel/durations.py), the header's unit
    "qa_sampled": "int",
    "qa_correct": "int",
    "moderator_id": "str",
    "queue_id": "str",
    "site": "str",
    "vendor": "str",
}
# The fields of a vendor daily report row, in the master workbook's order: the fields a report may carry
# (config/vendor_fields.py, the names aliases map to), less ``aht_seconds``, which is read only to derive handle time.
VENDOR_FIELDS = tuple(f for f in VENDOR_REPORT_FIELDS if f != "aht_seconds")
OPTIONAL_FIELDS = ("logged_seconds", "idle_seconds")
VENDOR_REQUIRED = ("date", "moderator_id", "queue_id", "handled")


def vendor_of(filename: str, vendors: Mapping[str, VendorPattern | Iterable[str]]) -> str | None:
    """The vendor whose file-name globs (case-insensitive) match ``filename``; None when none does.

    There is no fallback: a file from a vendor nobody described is a problem to name, not a vendor
    to invent from the file's name (config.yaml ``vendor_reports.vendors``).
    """
    for name, pattern in vendors.items():
        globs = pattern.files if hasattr(pattern, "files") else pattern
        if any(fnmatch(filename.lower(), g.lower()) for g in globs):
            return name
    return None


def vendor_settings(base: VendorReports | None = None, path: Path | None = None) -> VendorReports:
    """How vendor files are read: ``base`` (config.yaml's ``vendor_reports:``) with a settings file over it.

    The file (YAML, or JSON by its suffix) holds the same keys as the section; its aliases and ignored
    columns are added, its vendors and other keys replace. It is validated like the section.

    Raises:
        DataError: the file is not valid YAML or has an unknown key or field, naming the file (and line).
    """
    # pydantic and the config models: only when vendor files are read, never for `runner.py list`
    from opskit.config.model import VendorReports, load_vendor_reports

    settings = base or VendorReports()
    if path is None:
        return settings
    try:
        extra = load_vendor_reports(path)
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    return settings.merged(extra)


def read_vendor_report(
    path: Path,
    *,
    aliases: Mapping[str, Iterable[str]] = VENDOR_ALIASES,
    dayfirst: bool = True,
    required: Sequence[str] = VENDOR_REQUIRED,
) -> Table:
    """A vendor daily report (workbook or CSV) read into DOMAIN.md fields with ``opskit.excel.read_table``.

    ``aliases`` are added to the built-in ``VENDOR_ALIASES``. Duration columns take the unit their
    header declares ("Productive hrs", "Handling (sec)"). Rows are not completed yet (see
    ``complete_vendor_row``); rows that cannot be read are in ``table.rejected``; headers that map to
    no field are in ``table.unknown`` (``column_problems`` names them). ``dayfirst`` reads 03/11/2026
    as 3 November, as the vendors write it.

    Raises:
        WorkbookError: the file is not a readable workbook; DataError: a required column is missing.
    """
    # Here, not at the top: opskit.excel.read costs ~20 ms, and `runner.py list` imports every task.
    from opskit.excel import read_table

    names = {k: list(v) for k, v in VENDOR_ALIASES.items()}
    if aliases is not VENDOR_ALIASES:
        for key, spellings in aliases.items():
            names.setdefault(key, [])
            names[key] = [*spellings, *(s for s in names[key] if s not in spellings)]
    labels = ("vendor", "site", "moderator_id", "queue_id")  # where a "Subtotal" or "Grand Total" row says so
    return read_table(
        path, aliases=names, types=VENDOR_TYPES, dayfirst=dayfirst, required=required, label_columns=labels
    )


def column_problems(table: Table, settings: VendorReports | None = None) -> list[str]:
    """What is wrong with a vendor file's columns, one line each, with what each one might be.

    A header that maps to no field ("column 'Handel tme' maps to no field; did you mean handle_seconds?")
    unless ``settings.ignore_columns`` lists it or no row has a value under it; a second header for a
    field that an earlier one gives (its values would not be read); and an expected field the file lacks
    ("expected column productive_seconds is missing; did you mean 'Prodctive'?"). An AHT counts as the
    handle time. Another sheet of the workbook with rows under a known header is one too: only one
    sheet is read, and the gate must not merge the file as if it were whole.
    """
    from opskit.config.vendors import DEFAULT_EXPECTED  # pydantic: only when vendor files are read
    from opskit.excel.durations import header_unit  # opskit.excel loads when a file is read (~20 ms)
    from opskit.excel.read import normalize, suggest  # as above

    ignored = {normalize(h) for h in (settings.ignore_columns if settings else ())}
    known = {normalize(a): f for f, names in VENDOR_ALIASES.items() for a in (f, *names)}
    if settings is not None:
        known |= {normalize(a): f for f, names in settings.aliases.items() for a in names}
    out = []
    column_of = {header: column for column, header in table.headers.items()}
    rows = table.rows if isinstance(table.rows, list) else []
    unknown = [
        h
        for h in table.unknown
        if normalize(h) not in ignored and any(r.get(column_of.get(h, "")) not in (None, "") for r in rows)
    ]
    for header in unknown:
        key = normalize(header_unit(header)[0]) or normalize(header)
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
        hint = f"; did you mean {known[close[0]]}?" if close else ""
        out.append(f"sheet {table.sheet!r}: column {header!r} maps to no field{hint}")
    for header, field in table.duplicates:
        if normalize(header) not in ignored:
            first = table.headers.get(field, "")
            out.append(f"sheet {table.sheet!r}: column {header!r} also maps to {field}, which {first!r} gives")
    out += [f"sheet {name!r} has {count} data row(s) that were not read" for name, count in table.unread]
    expected = settings.expected if settings is not None else DEFAULT_EXPECTED
    for field in expected:
        if field in table.headers or (field == "handle_seconds" and "aht_seconds" in table.headers):
            continue
        near = suggest(field, unknown, known)
        hint = f"; did you mean {near!r}?" if near else ""
        out.append(f"sheet {table.sheet!r}: expected column {field} is missing{hint}")
    return out


def complete_vendor_row(row: dict[str, Any]) -> dict[str, Any]:
    """Fill the total a vendor reports another way: handle seconds from AHT x handled (hours and
    minutes are already seconds: the reader converts by the header's unit). Returns the same row."""
    if row.get("handle_seconds") is None and row.get("aht_seconds") is not None:
        row["handle_seconds"] = row["aht_seconds"] * (row.get("handled") or 0)
    return row


def vendor_columns(rows: Iterable[Mapping[str, Any]] | None = None) -> list[Column]:
    """The columns of a merged master sheet: VENDOR_FIELDS (dates as dates, counts as whole numbers,
    times as seconds) and the ``source_file`` each row came from, headed in words (``headers.HEADERS``).

    ``OPTIONAL_FIELDS`` (logged-in and idle time, which few vendors report) are columns only when one of
    ``rows`` has a value for them: a master of files without them has no column of empty cells.
    """
    from opskit.excel import Column  # start-up: opskit.excel loads when a workbook is made

    types = {"date": "date", "handled": "int", **{f: "seconds" for f in DURATION_FIELDS}}
    types |= {"qa_sampled": "int", "qa_correct": "int"}
    rows = list(rows or ())
    present = {f for f in OPTIONAL_FIELDS if any(r.get(f) is not None for r in rows)}
    fields = [f for f in VENDOR_FIELDS if f not in OPTIONAL_FIELDS or f in present]
    return [Column(k, human_header(k), types.get(k, "str")) for k in (*fields, "source_file")]


def rejection_columns() -> list[Column]:
    """The columns of a sheet of rejected rows (``check_vendor_rows``): file, sheet, row, column, reason."""
    from opskit.excel import Column  # start-up, as in vendor_columns

    return [
        Column("file", "File", "str"),
        Column("sheet", "Sheet", "str"),
        Column("row", "Row", "int"),
        Column("column", "Column", "str"),
        Column("reason", "Reason", "str"),
    ]


def _problem(out: Mapping[str, Any], seen: set[tuple[Any, ...]]) -> tuple[str, str] | None:
    """The first rule a completed row breaks, as (column, reason); None when it passes."""
    date, moderator, queue = key = (out["date"], out["moderator_id"], out["queue_id"])
    if date is None:
        return "date", "date is empty"
    if not moderator:
        return "moderator_id", "moderator_id is empty"
    if not queue:
        return "queue_id", "queue_id is empty"
    if not out["vendor"]:
        return "vendor", "vendor is empty, and no vendor_reports.vendors pattern matches the file's name"
    if out["handled"] is None or out["handled"] < 0:
        return "handled", "handled is empty or negative"
    for name in DURATION_FIELDS:
        if (out.get(name) or 0) < 0:
            return name, f"negative {name.removesuffix('_seconds')} time"
    if (out["qa_correct"] or 0) > (out["qa_sampled"] or 0):
        return "qa_correct", "more QA passes than QA samples"
    if key in seen:
        return "moderator_id", f"duplicate of an earlier row for {date}, {moderator}, {queue}"
    return None


def check_vendor_rows(
    table: Table, vendor: str | None, filename: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a vendor report's rows into those that pass and every rejected row, with its place.

    Passing rows carry VENDOR_FIELDS (``vendor`` from the file's name pattern when a row has none; a
    row with neither is rejected) and
    ``source_file``. Rejected rows, from reading and from the rules (dates, ids, non-negative counts, no
    more QA passes than samples, no duplicate moderator/queue/day), are ``{file, sheet, row, column,
    reason}`` with the spreadsheet row number, sorted by sheet and row.
    """
    bad = [
        {"file": filename, "sheet": r.sheet, "row": r.row, "column": r.column, "reason": r.reason}
        for r in table.rejected
    ]
    good: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    failed: list[tuple[int, str, str]] = []
    for i, row in enumerate(table.rows):
        complete_vendor_row(row)
        out = {k: row.get(k) for k in VENDOR_FIELDS}
        out["vendor"] = row.get("vendor") or vendor
        problem = _problem(out, seen)
        if problem:
            failed.append((i, *problem))
            continue
        seen.add((out["date"], out["moderator_id"], out["queue_id"]))
        out["source_file"] = filename
        good.append(out)
    if failed:
        bad += [
            {"file": filename, "sheet": table.sheet, "row": table.row_numbers[i], "column": col, "reason": why}
            for i, col, why in failed
        ]
    bad.sort(key=lambda b: (b["sheet"], b["row"] or 0))
    return good, bad


# --------------------------------------------------------------------------- the platform's side


def is_case_export(path: Path) -> bool:
    """Whether ``path`` is a CSV case export of the console (it has case_id and completed_at)."""
    if path.suffix.lower() != ".csv":
        return False
    with open(path, encoding="utf-8-sig", errors="replace") as handle:  # any encoding: only names are compared
        header = [name.strip().strip('"') for name in handle.readline().strip().split(",")]
    return "case_id" in header and "completed_at" in header


# The case export columns ``case_export_rows`` reads.
CASE_EXPORT_COLUMNS = (
    "case_id",
    "completed_at",
    "vendor",
    "site",
    "moderator_id",
    "queue_id",
    "handle_seconds",
    "qa_sampled",
    "qa_correct",
)


def _number(path: Path, n: int, row: Mapping[str, str], column: str, cast: Callable[[str | int], Any]) -> Any:
    try:
        return cast(row[column] or 0)
    except ValueError:
        raise DataError(f"{path.name}, row {n}: {column} {row[column]!r} is not a number") from None


def case_export_rows(path: Path, tz: tzinfo) -> list[dict[str, Any]]:
    """Completed cases with a vendor as vendor daily report rows: one per case, ``handled`` 1, dated by
    the completion day in ``tz``. Summed by key, they are what each vendor's report should say.

    Each ``case_id`` counts once (its first row), as in ``scan_cases``.

    Raises:
        DataError: a missing column, or a completion time or number that is not one, naming the row.
    """
    out = []
    days: dict[str, str] = {}
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CASE_EXPORT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}")
        for n, r in enumerate(reader, start=2):
            done = r["completed_at"]
            if r["case_id"] in seen:
                continue
            seen.add(r["case_id"])  # its first row, open or not, as in scan_cases
            if not done or not r["vendor"]:
                continue
            day = days.get(done[:16])
            if day is None:
                try:
                    moment = datetime.fromisoformat(done[:16] + "+00:00")
                except ValueError:
                    raise DataError(f"{path.name}, row {n}: completed_at {done!r} is not an ISO 8601 time") from None
                day = days[done[:16]] = moment.astimezone(tz).date().isoformat()
            out.append(
                {
                    "date": day,
                    "vendor": r["vendor"],
                    "site": r["site"],
                    "moderator_id": r["moderator_id"],
                    "queue_id": r["queue_id"],
                    "handled": 1,
                    "handle_seconds": _number(path, n, r, "handle_seconds", float),
                    "qa_sampled": _number(path, n, r, "qa_sampled", int),
                    "qa_correct": _number(path, n, r, "qa_correct", int),
                }
            )
    return out


# --------------------------------------------------------------------------- the inbox


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Inbox:
    """A folder where files arrive, with the folders they leave to; nothing is ever deleted or overwritten.

    Args:
        folder: Where the files arrive (must exist).
        archive: Where processed files go; a file whose content is already there was processed before.
        quarantine: Where unusable files go, each with ``<name>.reason.txt`` beside it.

    Raises:
        DataError: ``folder`` does not exist.
    """

    def __init__(self, folder: Path, archive: Path, quarantine: Path):
        if not folder.is_dir():
            raise DataError(f"inbox folder not found: {folder}")
        for f in (archive, quarantine):
            f.mkdir(parents=True, exist_ok=True)
        self.folder, self.archive_dir, self.quarantine_dir = folder, archive, quarantine
        self._archived = {file_sha256(p): p.name for p in archive.iterdir() if p.is_file()}

    def __iter__(self) -> Iterator[Path]:
        """The waiting files in name order; hidden files (``.name``) and the owner files Excel and LibreOffice
        keep beside a workbook someone has open (``~$name.xlsx``, ``.~lock.name#``) are left alone."""
        return iter(
            sorted(p for p in self.folder.iterdir() if p.is_file() and p.name[0] != "." and not p.name.startswith("~$"))
        )

    def archived_as(self, sha256: str) -> str | None:
        """The archived file with this content, if any: a re-sent file is not read twice."""
        return self._archived.get(sha256)

    def archive(self, path: Path, sha256: str) -> Path:
        """Move a processed file to the archive; returns where it went."""
        target = _move(path, self.archive_dir, None)
        self._archived[sha256] = target.name
        return target

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move an unusable file to quarantine with ``<name>.reason.txt`` saying why; returns where it went."""
        return _move(path, self.quarantine_dir, reason)


def _move(path: Path, folder: Path, reason: str | None) -> Path:
    """Move without ever overwriting: a taken name gets the content hash before the suffix."""
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{file_sha256(path)[:12]}{path.suffix}"
    os.replace(path, target)
    if reason is not None:
        Path(f"{target}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def examine_vendor_file(
    path: Path, vendor: str | None, settings: VendorReports
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str], str]:
    """Read one vendor file: (good rows, rejected rows, column problems, why it must be quarantined or "").

    ``settings`` is config.yaml's ``vendor_reports:`` with the task's aliases file over it (``vendor_settings``).

    The order is the order of the questions a reader would ask: can it be read, who sent it, does every
    column land in a field (the ``unknown_columns`` gate), did any row pass.
    """
    try:
        own = settings.vendors[vendor].dayfirst if vendor in settings.vendors else None
        table = read_vendor_report(path, aliases=settings.aliases, dayfirst=settings.dayfirst if own is None else own)
        if vendor is None and "vendor" not in table.headers:
            why = "unknown vendor: no vendor_reports.vendors pattern in config.yaml matches the file's name, and the"
            return [], [], [], why + " file has no vendor column"
        columns = column_problems(table, settings)
        good, bad = check_vendor_rows(table, vendor, path.name)
    except (WorkbookError, DataError) as exc:
        return [], [], [], str(exc)
    except Exception as exc:  # a bug or a file no reader foresaw: this file's problem, never the run's
        return [], [], [], f"could not be read ({type(exc).__name__}: {_one_line(exc)})"
    if columns and settings.unknown_columns == "quarantine":
        return good, bad, columns, "; ".join(columns)
    if not good:
        first = f" (first: {bad[0]['reason']}, row {bad[0]['row']})" if bad else ""
        return good, bad, columns, f"every row was rejected{first}" if bad else "no data rows"
    return good, bad, columns, ""


def vendor_row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a master row one moderator's day on one queue at one vendor."""
    return row["vendor"], row["date"], row["moderator_id"], row["queue_id"]


def repeated_rows(good: list[dict[str, Any]], merged_from: dict[tuple[Any, ...], str]) -> str:
    """Why a file must be quarantined because it repeats rows merged from another file in this run, or "".

    Two files of one run with the same rows are a re-sent or corrected report: merging both would count
    the day twice, and which one is right is the vendor's call, so the later file waits in quarantine.
    """
    repeated = [r for r in good if vendor_row_key(r) in merged_from]
    if not repeated:
        return ""
    first = repeated[0]
    other = merged_from[vendor_row_key(first)]
    return (
        f"{len(repeated)} row(s) repeat rows already merged from {other} in this run"
        f" (first: {first['date']}, {first['moderator_id']}, {first['queue_id']})"
    )


def _one_line(exc: Exception) -> str:
    """An exception's message on one short line (never a traceback: reasons go to emails and .reason.txt)."""
    text = " ".join(str(exc).split())
    return text[:200] + ("…" if len(text) > 200 else "") or "no message"


def quarantine_fix(reason: str) -> str:
    """What to do about a quarantined file, by what kept it out."""
    if reason.startswith("unknown vendor"):
        return "Add the vendor's file pattern to vendor_reports.vendors in config.yaml, then put the file back"
    if "already merged from" in reason:
        return "Check with the vendor which file is right; put that one back in the inbox for a run of its own"
    if "were not read" in reason:
        return "Put the rows of every sheet on one sheet (or send one file per sheet), then put the file back"
    if any(k in reason for k in ("maps to no field", "expected column", "also maps to", "lacks required column")):
        return (
            "Map the header in config.yaml (vendor_reports.aliases) or list it in vendor_reports.ignore_columns"
            " (or ask the vendor for the usual layout), then put the file back in the inbox"
        )
    return "Fix the file (or ask the vendor for a new one) and put it back in the inbox"
