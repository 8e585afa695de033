"""Merge the vendors' daily-report workbooks into one master workbook, with a validation report each."""

from __future__ import annotations

from typing import Any

from opskit import DataError, DataPath, Result, RunContext, task
from opskit.reports import (
    KPI,
    VENDOR_FIELDS,
    Inbox,
    check_vendor_rows,
    data_file,
    email_kpi,
    file_sha256,
    problem,
    read_vendor_report,
    rejection_columns,
    report_for,
    save_report,
    vendor_columns,
    vendor_of,
    vendor_settings,
)


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

    Args:
        inbox: Folder of vendor daily reports (.xlsx, .xlsm, .csv), relative to the data folder.
        archive: Where processed files go. A file whose content is already archived is not read again.
        quarantine: Where unreadable files go, each with a .reason.txt beside it. Nothing is deleted.
        aliases: JSON or YAML file: {"aliases": {field: [headers]}, "vendors": {name: [file globs]},
            "dayfirst": true}; merged over the built-in defaults.
    """
    from opskit.excel import Column, WorkbookError  # here, not at the top: `runner.py list` imports all tasks

    box = Inbox(ctx.data_dir / inbox, ctx.data_dir / archive, ctx.data_dir / quarantine)
    names, vendors, dayfirst = vendor_settings(data_file(ctx, aliases, "aliases") if aliases else None)
    master: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    rejects: dict[str, list[dict[str, Any]]] = {}
    for path in box:
        sha = file_sha256(path)
        vendor = vendor_of(path.name, vendors)
        entry: dict[str, Any] = {"file": path.name, "vendor": vendor, "sha256": sha, "rows": 0, "rejected": 0}
        if seen := box.archived_as(sha):
            entry.update(status="skipped", reason=f"already processed (same content as {archive}/{seen})")
            box.quarantine(path, entry["reason"])
        elif path.suffix.lower() not in (".xlsx", ".xlsm", ".csv"):
            entry.update(status="quarantined", reason=f"not a workbook ({path.suffix or 'no suffix'})")
            box.quarantine(path, entry["reason"])
        else:
            try:
                table = read_vendor_report(path, aliases=names, dayfirst=dayfirst)
            except (WorkbookError, DataError) as exc:
                entry.update(status="quarantined", reason=str(exc))
                box.quarantine(path, str(exc))
            else:
                good, bad = check_vendor_rows(table, vendor, path.name)
                master += good
                rejects.setdefault(vendor, []).extend(bad)
                entry.update(status="archived", rows=len(good), rejected=len(bad), reason="")
                box.archive(path, sha)
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
    report.sheet("Master", master, vendor_columns())
    info = ("file", "vendor", "status", "rows", "rejected", "reason", "sha256")
    numbers = ("rows", "rejected")
    report.sheet("Files", files, [Column(k, k.capitalize(), "int" if k in numbers else "str") for k in info])
    outputs = [save_report(ctx, report, f"vendor_master_{day}.xlsx")]
    for vendor, bad in sorted(rejects.items()):
        accepted = sum(f["rows"] for f in files if f["vendor"] == vendor and f["status"] == "archived")
        check = report_for(ctx, f"Validation report: {vendor}", subject=vendor)
        check.summary(
            [
                KPI("Rows accepted", accepted, type="int"),
                KPI("Rows rejected", len(bad), target=0, direction="lower_is_better", type="int"),
            ]
        )
        check.sheet("Rejected rows", bad, rejection_columns())
        slug = "".join(c if c.isalnum() else "_" for c in vendor.lower()).strip("_")
        outputs.append(save_report(ctx, check, f"validation_{slug}_{day}.xlsx"))

    newest = max((r["date"] for r in master), default=None)
    problems = [
        problem(
            f["file"],
            f["reason"].removeprefix(f"{f['file']}: "),  # the reason may start with the file's name already
            "Fix the file (or ask the vendor for a new one) and put it back in the inbox",
        )
        for f in files
        if f["status"] == "quarantined"
    ]
    for vendor, bad in sorted(rejects.items()):
        if bad:
            slug = "".join(c if c.isalnum() else "_" for c in vendor.lower()).strip("_")
            where = f"{vendor}, {len(bad)} row{'s' if len(bad) != 1 else ''}"
            fix = f"The rows are left out of the master; each is listed in validation_{slug}_{day}.xlsx"
            first = f"rejected: {bad[0]['reason']}" + (" and more" if len(bad) > 1 else "")
            problems.append(problem(where, first, fix))
    summary = {
        "kind": "ingestion",
        "title": "Vendor daily reports",
        "headline": f"{kinds['archived']} file(s) merged into the master, {merged:,} rows"
        + (f"; {kinds['quarantined']} quarantined" if kinds["quarantined"] else "")
        + (f"; {rejected:,} rows rejected" if rejected else "")
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
        "columns": list(VENDOR_FIELDS),
        "newest": newest.isoformat() + "T00:00:00+00:00" if newest is not None else None,
    }
    return Result(files=outputs, rows=len(master), summary=summary)
