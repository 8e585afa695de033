"""Merge the vendors' daily-report workbooks into one master workbook, with a validation report each."""

from __future__ import annotations

import hashlib
import json
import os
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from opskit import DataError, Result, RunContext, task
from opskit.reports import VENDOR_ALIASES as ALIASES
from opskit.reports import VENDOR_TYPES as TYPES

VENDORS = {
    "Lumen BPO": ["lumen*"],
    "Northwind Services": ["northwind*"],
    "Atlas CX": ["atlas*"],
    "Kestrel Moderation": ["kestrel*"],
}
FIELDS = (
    "date",
    "vendor",
    "site",
    "moderator_id",
    "queue_id",
    "handled",
    "handle_seconds",
    "productive_seconds",
    "qa_sampled",
    "qa_correct",
)


@task(schedule_hint="0 9 * * *")
def vendor_consolidation(
    ctx: RunContext,
    *,
    inbox: str = "inbox/vendors",
    archive: str = "inbox/archive",
    quarantine: str = "inbox/quarantine",
    aliases: str = "",
) -> Result:
    """Merge every vendor workbook in the inbox into a master workbook; archive or quarantine each file.

    Args:
        inbox: Folder of vendor daily reports (.xlsx, .xlsm, .csv), relative to the data folder.
        archive: Where processed files go. A file whose content is already archived is not read again.
        quarantine: Where unreadable files go, each with a .reason.txt beside it. Nothing is deleted.
        aliases: JSON or YAML file: {"aliases": {field: [headers]}, "vendors": {name: [file globs]},
            "dayfirst": true}; merged over the built-in defaults.
    """
    from opskit.excel import WorkbookError, read_table

    folders = {n: ctx.data_dir / p for n, p in (("inbox", inbox), ("archive", archive), ("quarantine", quarantine))}
    if not folders["inbox"].is_dir():
        raise DataError(f"inbox folder not found: {folders['inbox']}")
    for f in ("archive", "quarantine"):
        folders[f].mkdir(parents=True, exist_ok=True)
    names, vendors, dayfirst = _config(ctx, aliases)
    done = {_sha(p): p.name for p in folders["archive"].iterdir() if p.is_file()}
    master: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    rejects: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(p for p in folders["inbox"].iterdir() if p.is_file() and p.name[0] != "."):
        sha = _sha(path)
        vendor = _vendor(path.name, vendors)
        entry = {"file": path.name, "vendor": vendor, "sha256": sha, "rows": 0, "rejected": 0}
        if sha in done:
            entry.update(
                status="skipped",
                reason=f"already processed (same content as {archive}/{done[sha]})",
            )
            _move(path, folders["quarantine"], entry["reason"])
        elif path.suffix.lower() not in (".xlsx", ".xlsm", ".csv"):
            entry.update(status="quarantined", reason=f"not a workbook ({path.suffix or 'no suffix'})")
            _move(path, folders["quarantine"], entry["reason"])
        else:
            try:
                table = read_table(
                    path,
                    aliases=names,
                    types=TYPES,
                    dayfirst=dayfirst,
                    required=("date", "moderator_id", "queue_id", "handled"),
                )
            except (WorkbookError, DataError) as exc:
                entry.update(status="quarantined", reason=str(exc))
                _move(path, folders["quarantine"], str(exc))
            else:
                good, bad = _validate(table, vendor, path.name)
                master += good
                rejects.setdefault(vendor, []).extend(bad)
                entry.update(status="archived", rows=len(good), rejected=len(bad), reason="")
                done[sha] = _move(path, folders["archive"], None).name
        ctx.log.info("%s: %s %s", path.name, entry["status"], entry.get("reason") or "")
        files.append(entry)
    outputs = [_master(ctx, master, files)]
    outputs += [_report(ctx, vendor, bad, files) for vendor, bad in sorted(rejects.items())]
    kinds = {s: sum(f["status"] == s for f in files) for s in ("archived", "quarantined", "skipped")}
    summary = {
        "period": ctx.scheduled_for.astimezone(ctx.tz).date().isoformat(),
        "kpis": [
            {
                "label": "Files merged",
                "value": kinds["archived"],
                "kind": "num",
                "change": None,
                "direction": "higher_is_better",
            },
            {
                "label": "Rows merged",
                "value": len(master),
                "kind": "num",
                "change": None,
                "direction": "higher_is_better",
            },
            {
                "label": "Rows rejected",
                "value": sum(f["rejected"] for f in files),
                "kind": "num",
                "change": None,
                "direction": "lower_is_better",
            },
            {
                "label": "Files quarantined",
                "value": kinds["quarantined"],
                "kind": "num",
                "change": None,
                "direction": "lower_is_better",
            },
        ],
        "missed_targets": [],
        "drivers": [],
        "files": files,
        **kinds,
        "columns": list(FIELDS),
        "newest": max((r["date"] for r in master), default=None),
    }
    if summary["newest"] is not None:
        summary["newest"] = summary["newest"].isoformat() + "T00:00:00+00:00"
    return Result(files=outputs, rows=len(master), summary=summary)


def _config(ctx: RunContext, path: str) -> tuple[dict[str, list[str]], dict[str, list[str]], bool]:
    names = {k: list(v) for k, v in ALIASES.items()}
    vendors = {k: list(v) for k, v in VENDORS.items()}
    if not path:
        return names, vendors, True
    file = ctx.data_dir / path
    if not file.is_file():
        raise DataError(f"aliases file not found: {file}")
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text) or {}
    for field_name, spellings in (data.get("aliases") or {}).items():
        names.setdefault(field_name, []).extend(spellings)
    vendors.update(data.get("vendors") or {})
    return names, vendors, bool(data.get("dayfirst", True))


def _vendor(filename: str, vendors: dict[str, list[str]]) -> str:
    for name, globs in vendors.items():
        if any(fnmatch(filename.lower(), g.lower()) for g in globs):
            return name
    return Path(filename).stem.split("_")[0]


def _validate(table: Any, vendor: str, filename: str) -> tuple[list[dict], list[dict]]:
    """Rows that pass, and every rejected row (read errors and rule failures) with sheet/row/column."""
    bad = [
        {"file": filename, "sheet": r.sheet, "row": r.row, "column": r.column, "reason": r.reason}
        for r in table.rejected
    ]
    good, seen, failed = [], {}, []
    for i, row in enumerate(table.rows):
        if row.get("handle_seconds") is None and row.get("aht_seconds") is not None:
            row["handle_seconds"] = row["aht_seconds"] * (row.get("handled") or 0)
        if row.get("productive_seconds") is None and row.get("productive_hours") is not None:
            row["productive_seconds"] = row["productive_hours"] * 3600
        out = {k: row.get(k) for k in FIELDS}
        out["vendor"] = row.get("vendor") or vendor
        key = (out["date"], out["moderator_id"], out["queue_id"])
        problem = next(
            (
                (col, why)
                for col, why in (
                    ("date", "date is empty" if out["date"] is None else ""),
                    ("moderator_id", "moderator_id is empty" if not out["moderator_id"] else ""),
                    ("queue_id", "queue_id is empty" if not out["queue_id"] else ""),
                    (
                        "handled",
                        "handled is empty or negative" if (out["handled"] or 0) < 0 or out["handled"] is None else "",
                    ),
                    (
                        "handle_seconds",
                        "negative handle time" if (out["handle_seconds"] or 0) < 0 else "",
                    ),
                    (
                        "qa_correct",
                        "more QA passes than QA samples" if (out["qa_correct"] or 0) > (out["qa_sampled"] or 0) else "",
                    ),
                    (
                        "moderator_id",
                        f"duplicate of an earlier row for {key[0]}, {key[1]}, {key[2]}" if key in seen else "",
                    ),
                )
                if why
            ),
            None,
        )
        if problem:
            failed.append((i, row, *problem))
            continue
        seen[key] = i
        out["source_file"] = filename
        good.append(out)
    if failed:
        numbers = _row_numbers(table, [i for i, _, _, _ in failed])
        bad += [
            {"file": filename, "sheet": table.sheet, "row": n, "column": col, "reason": why}
            for n, (_, _, col, why) in zip(numbers, failed, strict=True)
        ]
    bad.sort(key=lambda b: (b["sheet"], b["row"] or 0))
    return good, bad


def _row_numbers(table: Any, indexes: list[int]) -> list[int]:
    """Spreadsheet row numbers of accepted rows, by their position among the rows read_table kept.

    read_table does not keep row numbers on accepted rows; every raw row after the header is blank,
    a noted totals/note row, a rejected row, or the next accepted row, in that order.
    """
    import re

    from openpyxl import load_workbook

    if table.path.suffix.lower() == ".csv":
        import csv

        with open(table.path, newline="", encoding="utf-8-sig") as handle:
            raw = list(csv.reader(handle))
    else:
        wb = load_workbook(table.path, read_only=True, data_only=True)
        raw = [list(r) for r in wb[table.sheet].iter_rows(values_only=True)]
        wb.close()
    dropped = {r.row for r in table.rejected} | {int(m[1]) for n in table.notes if (m := re.search(r"\brow (\d+):", n))}
    accepted = [
        n
        for n, values in enumerate(raw, start=1)
        if n > table.header_row and n not in dropped and any(v not in (None, "") for v in values)
    ]
    return [accepted[i] for i in indexes]


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _move(path: Path, folder: Path, reason: str | None) -> Path:
    """Move without ever overwriting: a taken name gets the content hash before the suffix."""
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{_sha(path)[:12]}{path.suffix}"
    os.replace(path, target)
    if reason is not None:
        Path(f"{target}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def _master(ctx: RunContext, rows: list[dict], files: list[dict]) -> Path:
    from opskit.excel import Column, Report
    from opskit.reports import KPI

    report = Report(
        "Vendor daily reports, merged",
        created=ctx.scheduled_for,
        keywords=tuple(x for x in ("vendor_consolidation", ctx.job) if x),
    )
    report.summary(
        [
            KPI("Files merged", sum(f["status"] == "archived" for f in files), type="int"),
            KPI("Rows merged", len(rows), type="int"),
            KPI("Rows rejected", sum(f["rejected"] for f in files), type="int"),
            KPI("Files quarantined", sum(f["status"] == "quarantined" for f in files), type="int"),
        ]
    )
    types = {
        "date": "date",
        "handled": "int",
        "handle_seconds": "seconds",
        "productive_seconds": "seconds",
        "qa_sampled": "int",
        "qa_correct": "int",
    }
    report.sheet("Master", rows, [Column(k, k, types.get(k, "str")) for k in (*FIELDS, "source_file")])
    report.sheet(
        "Files",
        files,
        [
            Column(k, k.capitalize(), "int" if k in ("rows", "rejected") else "str")
            for k in ("file", "vendor", "status", "rows", "rejected", "reason", "sha256")
        ],
    )
    path = ctx.path(f"vendor_master_{ctx.scheduled_for.astimezone(ctx.tz):%Y-%m-%d}.xlsx")
    with ctx.output(path) as tmp:
        report.save(tmp)
    return path


def _report(ctx: RunContext, vendor: str, bad: list[dict], files: list[dict]) -> Path:
    from opskit.excel import Column, Report
    from opskit.reports import KPI

    mine = [f for f in files if f["vendor"] == vendor and f["status"] == "archived"]
    report = Report(f"Validation report: {vendor}", subject=vendor, created=ctx.scheduled_for)
    report.summary(
        [
            KPI("Rows accepted", sum(f["rows"] for f in mine), type="int"),
            KPI("Rows rejected", len(bad), target=0, direction="lower_is_better", type="int"),
        ]
    )
    report.sheet(
        "Rejected rows",
        bad,
        [
            Column("file", "File", "str"),
            Column("sheet", "Sheet", "str"),
            Column("row", "Row", "int"),
            Column("column", "Column", "str"),
            Column("reason", "Reason", "str"),
        ],
    )
    slug = "".join(c if c.isalnum() else "_" for c in vendor.lower()).strip("_")
    path = ctx.path(f"validation_{slug}_{ctx.scheduled_for.astimezone(ctx.tz):%Y-%m-%d}.xlsx")
    with ctx.output(path) as tmp:
        report.save(tmp)
    return path
