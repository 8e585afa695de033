"""A printable weekly review (PDF) of what the earlier steps of the job found."""

from __future__ import annotations

from opskit import Period, Result, RunContext, TaskError, task


@task
def weekly_review(ctx: RunContext, *, title: str = "Weekly operations review") -> Result:
    """The weekly review as a PDF: headline KPIs, missed targets, top drivers, trend, narrative.

    Meant as the last step of a job: it reads the summaries of the steps before it (e.g.
    efficiency_report and metric_attribution) and prints them through headless Chromium.

    Args:
        title: The document's title.
    """
    if not ctx.steps:
        raise TaskError("weekly_review has nothing to review: run it as a later step of a job")
    # merged as the run's result is: the job's report step first, the others fill in
    summary = ctx.steps_summary()
    period = summary.get("period")
    label = str(period or "")
    if period:
        try:
            label = Period.parse(str(period), tz=ctx.tz, scheduled_for=ctx.scheduled_for).human_label
        except ValueError:
            pass
    narrative = [{"heading": "What changed", "body": str(summary["narrative"])}] if summary.get("narrative") else []
    name = f"weekly_review_{period or ctx.scheduled_for.date()}.pdf"
    path = ctx.render_pdf(
        "docs/weekly_review.html",
        {
            "title": title,
            "period_label": label,
            "summary": summary.get("headline", ""),
            **ctx.summary_sections(summary),
            "sections": narrative,
        },
        name=name,
    )
    ctx.log.info("wrote %s", name)
    return Result(files=[path], summary={"review_pdf": name})
