"""A printable weekly review (PDF) of what the earlier steps of the job found."""

from __future__ import annotations

import base64

from opskit import Result, RunContext, TaskError, task


@task
def weekly_review(ctx: RunContext, *, title: str = "Weekly operations review") -> Result:
    """The weekly review as a PDF: headline KPIs, missed targets, top drivers, trend, narrative.

    Meant as the last step of a job: it reads the summaries of the steps before it (e.g.
    efficiency_report and metric_attribution) and prints them through headless Chromium.

    Args:
        title: The document's title.
    """
    from opskit.delivery.render import Renderer, html_to_pdf
    from opskit.delivery.report import summary_sections, trend_chart
    from opskit.period import Period, human_period
    from opskit.result import merged_summary

    if not ctx.steps:
        raise TaskError("weekly_review has nothing to review: run it as a later step of a job")
    # merged as the run's result is: the job's report step first, the others fill in
    summary = merged_summary(ctx.steps.values(), report=ctx.steps.get(ctx.report_step or ""))
    period = summary.get("period")
    label = str(period or "")
    if period:
        try:
            label = human_period(Period.parse(str(period), tz=ctx.tz, scheduled_for=ctx.scheduled_for))
        except ValueError:
            pass
    chart = trend_chart(summary)
    narrative = [{"heading": "What changed", "body": str(summary["narrative"])}] if summary.get("narrative") else []
    html = Renderer(timezone=ctx.tz).render_document(
        "weekly_review.html",
        {
            "title": title,
            "period_label": label,
            "summary": summary.get("headline", ""),
            **summary_sections(summary),
            "sections": narrative,
            "chart_data_uri": "data:image/png;base64," + base64.b64encode(chart).decode() if chart else "",
            "job": ctx.job or ctx.task,
            "run_id": ctx.run_id,
            "generated_at": ctx.scheduled_for,
        },
    )
    name = f"weekly_review_{period or ctx.scheduled_for.date()}.pdf"
    path = html_to_pdf(html, ctx.path(name))
    ctx.log.info("wrote %s", name)
    return Result(files=[path], summary={"review_pdf": name})
