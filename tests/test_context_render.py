"""Documents through the run context: ctx.render, ctx.render_pdf (atomic), ctx.summary_sections,
ctx.steps_summary, and Period.human_label: what a task such as weekly_review needs, without plumbing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from opskit import Period, Result, RunContext, TaskError
from opskit.delivery.render import TemplateError
from tests.delivery.samples import report_context

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 16, 7, tzinfo=UTC)  # 08:00 in Berlin
TREND = {"title": "AHT by day", "series": {"AHT": [["2026-11-09", 50.1], ["2026-11-10", 51.0]]}}


def make_ctx(tmp_path, **kwargs) -> RunContext:
    folder = tmp_path / "run"
    folder.mkdir(parents=True)
    return RunContext(
        run_id="20261116T070000Z-weekly-3f9a",
        job="weekly",
        task="weekly_review",
        params={},
        scheduled_for=MONDAY,
        tz=BERLIN,
        folder=folder,
        data_dir=tmp_path / "data",
        **kwargs,
    )


def document_context(**overrides):
    """The weekly review template's data, without what the context adds by itself."""
    values = {k: v for k, v in report_context().items() if k not in ("job", "run_id", "generated_at")}
    return {**values, "sections": [], "chart_data_uri": "", **overrides}


def test_render_adds_the_job_the_run_and_the_time_in_the_jobs_timezone(tmp_path):
    ctx = make_ctx(tmp_path)
    html = ctx.render("docs/weekly_review.html", document_context(title="<b>Weekly</b>"))
    assert "job weekly, run 20261116T070000Z-weekly-3f9a, 2026-11-16 08:00 CET." in html
    assert "&lt;b&gt;Weekly&lt;/b&gt;" in html and "<b>Weekly</b>" not in html  # autoescaped
    assert "job other, run" in ctx.render("docs/weekly_review.html", document_context(job="other"))


def test_render_names_a_missing_template(tmp_path):
    with pytest.raises(TemplateError, match=re.escape("template 'docs/nope.html' not found")):
        make_ctx(tmp_path).render("docs/nope.html")


@pytest.mark.browser
def test_render_pdf_writes_the_pdf_into_the_run_folder_atomically(tmp_path):
    ctx = make_ctx(tmp_path)
    path = ctx.render_pdf("docs/weekly_review.html", document_context(), name="review.pdf")
    assert path == ctx.folder / "review.pdf"
    assert path.read_bytes().startswith(b"%PDF-")
    assert path.stat().st_mode & 0o777 == 0o600  # run data: owner only
    assert [p.name for p in ctx.folder.iterdir()] == ["review.pdf"]  # no temporary file left behind

    # A print that fails half way leaves the earlier file as it was, and no temporary file either.
    path.write_bytes(b"the earlier review")
    with pytest.raises(Exception, match="Unknown paper format"):
        ctx.render_pdf("docs/weekly_review.html", document_context(), name="review.pdf", page_format="Z9")
    assert path.read_bytes() == b"the earlier review"
    assert [p.name for p in ctx.folder.iterdir()] == ["review.pdf"]


def test_render_pdf_with_a_broken_template_writes_nothing(tmp_path):
    ctx = make_ctx(tmp_path)
    with pytest.raises(TemplateError, match="'title' is undefined"):
        ctx.render_pdf("docs/weekly_review.html", {}, name="review.pdf")
    assert list(ctx.folder.iterdir()) == []


def test_summary_sections_are_the_emails_with_the_trend_as_an_inline_png(tmp_path):
    ctx = make_ctx(tmp_path)
    summary = {
        "kpis": [{"name": "AHT", "value": 52.4, "previous": 48.0, "kind": "duration", "direction": "lower_is_better"}],
        "missed_targets": [
            {"where": "DE", "metric": "AHT", "actual": 60, "target": 50, "direction": "lower_is_better"}
        ],
        "drivers": [{"label": "Mix", "share": 0.6}],
        "trend": TREND,
    }
    sections = ctx.summary_sections(summary)
    # a summary without a kind is a comparison, and has the comparison's sections
    assert sections["kind"] == "comparison"
    assert {"kpis", "missed", "drivers", "drivers_share_of", "problems", "chart_data_uri"} <= set(sections)
    assert sections["kpis"][0]["label"] == "AHT"
    assert sections["kpis"][0]["change"] == pytest.approx((52.4 - 48.0) / 48.0)
    assert sections["missed"][0]["attainment"] == pytest.approx(50 / 60)
    assert sections["drivers"] == [{"label": "Mix", "share": 0.6, "note": None}]
    assert sections["drivers_share_of"].startswith("the total change between the two periods")
    assert sections["chart_data_uri"].startswith("data:image/png;base64,iVBORw0KGgo")  # a PNG's first bytes
    assert ctx.summary_sections({})["chart_data_uri"] == ""


def test_summary_sections_off_the_convention_name_the_key(tmp_path):
    with pytest.raises(TaskError, match=re.escape("summary.kpis[0] needs a 'label' (or 'name')")):
        make_ctx(tmp_path).summary_sections({"kpis": [{"value": 1}]})


def test_steps_summary_merges_like_the_runs_result_with_the_report_step_first(tmp_path):
    steps = {
        "report": Result(summary={"period": "2026-W46", "headline": "from the report"}),
        "attribution": Result(summary={"period": "2026-W45..2026-W46", "drivers": [{"label": "Mix"}], "headline": ""}),
    }
    ctx = make_ctx(tmp_path, steps=steps, report_step="report")
    assert ctx.steps_summary() == {
        "period": "2026-W46",
        "headline": "from the report",
        "drivers": [{"label": "Mix"}],
    }
    assert make_ctx(tmp_path / "bare").steps_summary() == {}


@pytest.mark.parametrize(
    ("text", "label"),
    [("2026-W46", "Week 2026-W46 (9-15 Nov)"), ("2026-11", "November 2026"), ("yesterday", "Sun 15 Nov 2026")],
)
def test_a_period_as_people_say_it(text, label):
    assert Period.parse(text, tz=BERLIN, scheduled_for=MONDAY).human_label == label
