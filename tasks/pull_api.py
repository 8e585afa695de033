"""Pull a period's cases from the Moderation Console's JSON API into the same CSV as its export."""

from __future__ import annotations

from opskit import DataError, Period, Result, RunContext, task
from opskit.excel import csv_writer  # csv and re only: opskit.excel loads openpyxl when a workbook is written


@task(schedule_hint="30 6 * * *")
def pull_api(
    ctx: RunContext,
    *,
    source: str = "console",
    period: Period = "yesterday",
    page_size: int = 1000,
    formula_guard: bool = False,
) -> Result:
    """Pull a period's cases through the console's API into a CSV with the export's header.

    Pages are followed by cursor; a 429 waits what Retry-After says, server errors are retried with
    backoff (bounded). Rows go to a temporary file that is renamed only after the last page, so an
    interrupted pull never looks complete. The console filters by creation day in UTC.

    Args:
        source: The source in config.yaml (its token_env names the bearer token).
        period: Days whose created cases to pull (UTC days, as the console filters).
        page_size: Cases per request (1-5000).
        formula_guard: Put an apostrophe before text starting with = + - @ tab or CR, for a CSV people open
            in a spreadsheet program. Off by default: tasks read this file back as the export.
    """
    from opskit.sources import CASE_COLUMNS  # requests loads only when the task runs

    if not ctx.source(source).token_env:
        raise DataError(f"source '{source}' has no token_env for its API")
    if not 1 <= page_size <= 5000:
        raise DataError(f"page_size must be between 1 and 5000, not {page_size}")
    client = ctx.api(source)
    name = f"cases_{period.label}_api.csv"
    rows = pages = 0
    expected = set(CASE_COLUMNS)
    newest = None
    params = {
        "date_from": period.start.isoformat(),
        "date_to": period.end.isoformat(),
        "limit": page_size,
    }
    try:
        with ctx.output(name) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv_writer(fh, formula_guard=formula_guard)
            writer.writerow(CASE_COLUMNS)
            for page in client.pages("/api/v1/cases", params):
                pages += 1
                for item in page:
                    if item.keys() != expected:
                        raise DataError(
                            f"case {item.get('case_id')} has fields {sorted(item)}, "
                            f"not the export's {len(CASE_COLUMNS)} columns"
                        )
                    writer.writerow([item[c] for c in CASE_COLUMNS])
                    if item["created_at"] and (newest is None or item["created_at"] > newest):
                        newest = item["created_at"]
                rows += len(page)
    finally:
        client.close()
    ctx.log.info(
        "pulled %d cases of %s in %d page(s), %d wait(s)",
        rows,
        period.label,
        pages,
        len(client.waits),
    )
    return Result(
        files=[ctx.path(name)],
        rows=rows,
        summary={
            "period": period.label,
            "rows": rows,
            "pages": pages,
            "columns": list(CASE_COLUMNS),
            "newest": newest,
            "waits": len(client.waits),
        },
    )
