"""Merge the vendors' daily-report workbooks into one master workbook, with a validation report each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opskit import DataPath, Result, RunContext, task
from opskit.reports import (
    KPI,
    Inbox,
    data_file,
    email_kpi,
    examine_vendor_file,
    file_sha256,
    problem,
    quarantine_fix,
    rejection_columns,
    repeated_rows,
    report_for,
    save_report,
    vendor_columns,
    vendor_of,
    vendor_row_key,
    vendor_settings,
)

# What to do with a file of a kind the merge does not read, by suffix: the vendor can send it again as one.
UNREAD_SUFFIXES = {
    ".xls": ": an Excel 97-2003 file; open it in Excel and save it as .xlsx, or ask the vendor for .xlsx",
    ".ods": ": a LibreOffice file; open it and save it as .xlsx",
    ".numbers": ": a Numbers file; export it as .xlsx",
    ".tsv": ": rename it to .csv (tab-separated files are read as CSV)",
    ".txt": ": if it is a CSV export, rename it to .csv",
}


@task(schedule_hint="0 9 * * *")
def vendor_consolidation(
    ctx: RunContext,
    *,
    inbox: DataPath = "inbox/vendors",
    archive: DataPath = "inbox/archive",
    quarantine: DataPath = "inbox/quarantine",
    aliases: DataPath = "",
) -> Result:
    """Merge every vendor workbook in the inbox into a master workbook; archive or quarantine each file.

    How files are read comes from config.yaml's ``vendor_reports:`` (header aliases, which vendor sends
    which files, ignored columns, expected columns, and the ``unknown_columns`` gate). A file is merged
    only when it is readable, from a known vendor, its columns all map to fields (or the gate says warn
    or ignore), and at least one of its rows passes; otherwise it is quarantined with its reasons.

    Args:
        inbox: Folder of vendor daily reports (.xlsx, .xlsm, .csv), relative to the data folder.
        archive: Where merged files go. A file whose content is already archived is skipped, not read again.
        quarantine: Where files that were not merged go, each with a .reason.txt beside it. Nothing is deleted.
        aliases: A YAML or JSON file with the keys of config.yaml's ``vendor_reports:``, merged over it.
    """
    from opskit.excel import Column  # here, not at the top: `runner.py list` imports all tasks

    box = Inbox(ctx.data_dir / inbox, ctx.data_dir / archive, ctx.data_dir / quarantine)
    settings = vendor_settings(ctx.vendor_reports, data_file(ctx, aliases, "aliases") if aliases else None)
    master: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    rejects: dict[str, list[dict[str, Any]]] = {}
    warnings: list[tuple[str, str]] = []  # (file, problem) merged under unknown_columns: warn
    to_archive: list[tuple[Path, str]] = []  # moved only once the master is written: a crash loses no file
    merged_from: dict[tuple[Any, ...], str] = {}  # (vendor, date, moderator, queue) -> the file it was merged from
    for path in box:
        sha = file_sha256(path)
        vendor = vendor_of(path.name, settings.vendors)
        entry: dict[str, Any] = {"file": path.name, "vendor": vendor or "", "sha256": sha, "rows": 0, "rejected": 0}
        reason = ""
        if seen := box.archived_as(sha) or next((p.name for p, s in to_archive if s == sha), None):
            entry.update(status="skipped", reason=f"already processed (same content as {archive}/{seen})")
            box.quarantine(path, entry["reason"])
        elif path.suffix.lower() not in (".xlsx", ".xlsm", ".csv"):
            reason = f"not a workbook ({path.suffix or 'no suffix'})" + UNREAD_SUFFIXES.get(path.suffix.lower(), "")
        else:
            good, bad, columns, reason = examine_vendor_file(path, vendor, settings)
            reason = reason or repeated_rows(good, merged_from)
            label = vendor or next((r["vendor"] for r in good), "")
            entry.update(vendor=label, rows=0 if reason else len(good), rejected=len(bad))
            if bad:
                rejects.setdefault(label or "unknown vendor", []).extend(bad)
            if not reason:
                if columns and settings.unknown_columns == "warn":
                    warnings += [(path.name, c) for c in columns]
                master += good
                merged_from.update((vendor_row_key(r), path.name) for r in good)
                entry.update(status="archived", reason="; ".join(columns))
                to_archive.append((path, sha))
        if reason:
            entry.update(status="quarantined", reason=reason)
            box.quarantine(path, reason)
        ctx.log.info("%s: %s %s", path.name, entry["status"], entry.get("reason") or "")
        files.append(entry)

    day = f"{ctx.scheduled_for.astimezone(ctx.tz):%Y-%m-%d}"
    kinds = {s: sum(f["status"] == s for f in files) for s in ("archived", "quarantined", "skipped")}
    merged, rejected = len(master), sum(f["rejected"] for f in files)
    report = report_for(ctx, "Vendor daily reports, merged", task="vendor_consolidation")
    report.summary(
        [
            KPI("Files merged", kinds["archived"], type="int"),
            KPI("Rows merged", merged, type="int"),
            KPI("Rows rejected", rejected, type="int"),
            KPI("Files quarantined", kinds["quarantined"], type="int"),
        ]
    )
    master_columns = vendor_columns(master)
    report.sheet("Master", master, master_columns)
    info = ("file", "vendor", "status", "rows", "rejected", "reason", "sha256")
    numbers = ("rows", "rejected")
    report.sheet("Files", files, [Column(k, k.capitalize(), "int" if k in numbers else "str") for k in info])
    outputs = [save_report(ctx, report, f"vendor_master_{day}.xlsx")]
    for path, sha in to_archive:  # the master holds their rows now (save_report is atomic)
        box.archive(path, sha)
    for vendor in sorted(set(rejects) | {f["vendor"] for f in files if f["vendor"]}):
        bad = rejects.get(vendor, [])
        accepted = sum(f["rows"] for f in files if f["vendor"] == vendor and f["status"] == "archived")
        # a vendor's file problems: quarantined files, and columns merged without under the warn gate
        warned = settings.unknown_columns == "warn"
        troubled = [
            f
            for f in files
            if f["vendor"] == vendor
            and (f["status"] == "quarantined" or (warned and f["status"] == "archived"))
            and f["reason"]
        ]
        if not bad and not accepted and not troubled:
            continue
        check = report_for(ctx, f"Validation report: {vendor}", subject=vendor)
        check.summary(
            [
                KPI("Rows accepted", accepted, type="int"),
                KPI("Rows rejected", len(bad), target=0, direction="lower_is_better", type="int"),
                KPI("File problems", len(troubled), target=0, direction="lower_is_better", type="int"),
            ]
        )
        check.sheet("Rejected rows", bad, rejection_columns())
        if troubled:
            check.sheet(
                "File problems", troubled, [Column(k, k.capitalize(), "str") for k in ("file", "status", "reason")]
            )
        slug = "".join(c if c.isalnum() else "_" for c in vendor.lower()).strip("_")
        outputs.append(save_report(ctx, check, f"validation_{slug}_{day}.xlsx"))

    newest = max((r["date"] for r in master), default=None)
    problems = [
        problem(
            f["file"],
            f["reason"].removeprefix(f"{f['file']}: "),  # the reason may start with the file's name already
            quarantine_fix(f["reason"]),
        )
        for f in files
        if f["status"] == "quarantined"
    ]
    problems += [
        problem(
            name,
            what,
            "Map the header in config.yaml (vendor_reports.aliases) or list it in vendor_reports.ignore_columns;"
            " the file was merged without it",
        )
        for name, what in warnings
    ]
    for vendor, bad in sorted(rejects.items()):
        if bad:
            slug = "".join(c if c.isalnum() else "_" for c in vendor.lower()).strip("_")
            where = f"{vendor}, {len(bad)} row{'s' if len(bad) != 1 else ''}"
            fix = f"The rows are left out of the master; each is listed in validation_{slug}_{day}.xlsx"
            where_first = f"{bad[0]['file']} row {bad[0]['row']}" + (
                f", {bad[0]['column']}" if bad[0]["column"] else ""
            )
            first = f"rejected ({where_first}): {bad[0]['reason']}" + (" and more" if len(bad) > 1 else "")
            problems.append(problem(where, first, fix))
    summary = {
        "kind": "ingestion",
        "title": "Vendor daily reports",
        "headline": f"{kinds['archived']} file(s) merged into the master, {merged:,} rows"
        + (f"; {kinds['quarantined']} quarantined" if kinds["quarantined"] else "")
        + (f"; {rejected:,} rows rejected" if rejected else "")
        + (f"; {len(warnings)} column problem(s) in merged files" if warnings else "")
        + ".",
        "period": ctx.scheduled_for.astimezone(ctx.tz).date().isoformat(),
        "problems": problems,
        "kpis": [
            email_kpi("Files merged", kinds["archived"], "num", "neutral"),
            email_kpi("Rows merged", merged, "num", "neutral"),
            email_kpi("Rows rejected", rejected, "num", "lower_is_better"),
            email_kpi("Files quarantined", kinds["quarantined"], "num", "lower_is_better"),
        ],
        "files": files,
        **kinds,
        "columns": [str(c.key) for c in master_columns if c.key != "source_file"],
        "newest": newest.isoformat() + "T00:00:00+00:00" if newest is not None else None,
    }
    return Result(files=outputs, rows=len(master), summary=summary)
