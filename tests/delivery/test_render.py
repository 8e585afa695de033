from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from opskit.delivery.render import RenderedEmail, Renderer, TemplateError, duration, na, num, pct
from opskit.errors import TaskError

from .samples import failure_context, no_data_context, report_context

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="https://evil.example/phish">click</a>',
    "=cmd|' /C calc'!A0",
]


class ParsedHtml(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def tags(self):
        return [t for t, _ in self.elements]

    @property
    def text(self):
        return "".join(self.chunks)


def parse_html(html: str) -> ParsedHtml:
    doc = ParsedHtml()
    doc.feed(html)
    doc.close()
    return doc


@pytest.fixture
def renderer():
    return Renderer(timezone="Europe/Berlin")


@pytest.fixture
def tmp_renderer(tmp_path):
    (tmp_path / "email").mkdir()
    return tmp_path, Renderer(tmp_path, timezone="Europe/Berlin")


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        (1234567, (), "1,234,567"),
        (1234.56, (1,), "1,234.6"),
        (None, (), "n/a"),
        (float("nan"), (), "n/a"),
        (0, (), "0"),
    ],
)
def test_num(value, args, expected):
    assert num(value, *args) == expected


@pytest.mark.parametrize(("value", "expected"), [(0.9345, "93.5%"), (1, "100.0%"), (0, "0.0%"), (None, "n/a")])
def test_pct(value, expected):
    assert pct(value) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (45, "45s"),
        (192, "3m 12s"),
        (3900, "1h 05m"),
        (90000, "25h 00m"),
        (52.4, "52s"),
        (-75, "-1m 15s"),
        (None, "n/a"),
    ],
)
def test_duration(seconds, expected):
    assert duration(seconds) == expected


def test_na_keeps_zero_and_replaces_none():
    assert na(0) == 0
    assert na(None) == "n/a"
    assert na(None, "-") == "-"


@pytest.mark.parametrize(
    ("change", "direction", "kind", "text", "colour"),
    [
        (0.052, "higher_is_better", "pct", "▲ 5.2%", "#1a7f37"),
        (0.052, "lower_is_better", "pct", "▲ 5.2%", "#c62828"),
        (-0.012, "higher_is_better", "pp", "▼ 1.2 pp", "#c62828"),
        (-30, "lower_is_better", "duration", "▼ 30s", "#1a7f37"),
        (0, "higher_is_better", "pct", "= 0.0%", "#57606a"),
    ],
)
def test_delta_in_html_is_coloured_markup(tmp_renderer, change, direction, kind, text, colour):
    root, r = tmp_renderer
    (root / "email" / "d.html").write_text("{{ c|delta(d, k) }}")
    html = r.render("email/d.html", {"c": change, "d": direction, "k": kind})
    assert html == f'<span style="color:{colour};font-weight:600;white-space:nowrap">{text}</span>'


@pytest.mark.parametrize(
    ("change", "direction", "expected"),
    [
        (0.052, "higher_is_better", "▲ 5.2% (better)"),
        (0.052, "lower_is_better", "▲ 5.2% (worse)"),
        (None, "higher_is_better", "n/a"),
    ],
)
def test_delta_in_text_says_better_or_worse(tmp_renderer, change, direction, expected):
    root, r = tmp_renderer
    (root / "email" / "d.txt").write_text("{{ c|delta(d) }}")
    assert r.render("email/d.txt", {"c": change, "d": direction}) == expected


def test_delta_rejects_an_unknown_direction(tmp_renderer):
    root, r = tmp_renderer
    (root / "email" / "d.txt").write_text("{{ 0.1|delta('up') }}")
    expected = "^delta: direction 'up' is not one of higher_is_better, lower_is_better, neutral$"
    with pytest.raises(TaskError, match=expected):
        r.render("email/d.txt")


def test_localtime_uses_the_job_timezone(tmp_renderer):
    root, r = tmp_renderer
    (root / "email" / "t.txt").write_text("{{ t|localtime }} / {{ t|localdate }}")
    # 23:30 UTC on 15 Nov is already the 16th in Berlin (CET, UTC+1)
    assert r.render("email/t.txt", {"t": datetime(2026, 11, 15, 23, 30, tzinfo=UTC)}) == (
        "2026-11-16 00:30 CET / 2026-11-16"
    )


def test_localtime_refuses_a_naive_datetime(tmp_renderer):
    root, r = tmp_renderer
    (root / "email" / "t.txt").write_text("{{ t|localtime }}")
    with pytest.raises(TaskError, match="naive datetime 2026-11-15T23:30:00 has no timezone"):
        r.render("email/t.txt", {"t": datetime(2026, 11, 15, 23, 30)})


def test_an_undefined_name_names_the_template_and_line(tmp_renderer):
    root, r = tmp_renderer
    (root / "email" / "typo.html").write_text("<p>ok</p>\n<p>{{ title }}</p>\n<p>{{ kpsi }}</p>\n")
    with pytest.raises(TemplateError) as info:
        r.render("email/typo.html", {"title": "x"})
    assert str(info.value) == f"{root.name}/email/typo.html:3: 'kpsi' is undefined"


def test_an_undefined_name_in_a_parent_layout_names_the_layout(tmp_renderer):
    root, r = tmp_renderer
    (root / "email" / "layout.html").write_text("<h1>{{ title }}</h1>\n{% block body %}{% endblock %}\n{{ footr }}\n")
    (root / "email" / "child.html").write_text('{% extends "email/layout.html" %}{% block body %}b{% endblock %}')
    with pytest.raises(TemplateError, match=r"email/layout\.html:3: 'footr' is undefined$"):
        r.render("email/child.html", {"title": "t"})


def test_a_syntax_error_names_the_template_and_line(tmp_renderer):
    root, r = tmp_renderer
    (root / "email" / "bad.html").write_text("line one\n{% if x %}\nno endif\n")
    with pytest.raises(TemplateError, match=r"email/bad\.html:3: Unexpected end of template"):
        r.render("email/bad.html", {"x": 1})


def test_a_missing_template_says_where_it_looked(tmp_renderer):
    root, r = tmp_renderer
    with pytest.raises(TemplateError, match=r"template 'email/nope\.html' not found under "):
        r.render("email/nope.html")


def test_a_typo_in_the_shipped_report_template_context_fails_before_sending(renderer):
    ctx = report_context()
    del ctx["drivers"]
    with pytest.raises(TemplateError, match=r"templates/email/kinds/comparison\.html:\d+: 'drivers' is undefined"):
        renderer.render_email("email/report.html", ctx)


def test_subject_template_errors_name_the_subject(renderer):
    with pytest.raises(TemplateError, match=r"^job 'x': email subject: 'perid' is undefined$"):
        renderer.render_string("Report {{ perid }}", {"period": "W46"}, label="job 'x': email subject")


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("email/report.html", report_context()),
        ("email/failure_alert.html", failure_context()),
        ("email/no_data.html", no_data_context()),
    ],
)
def test_every_email_template_renders_html_and_its_own_text(renderer, template, context):
    email = renderer.render_email(template, context)
    assert isinstance(email, RenderedEmail)
    styles = re.findall(r"<style>(.*?)</style>", email.html, flags=re.S)
    assert [s.lstrip()[:6] for s in styles] == ["@media"]  # only the mobile rule stays in <style>
    assert 'style="' in email.html  # CSS was inlined into attributes
    assert "<link" not in email.html and "http://" not in email.html and "https://" not in email.html
    assert "<" not in email.text
    assert f"job {context['job']}, run {context['run_id']}" in email.text
    assert f"job <strong>{context['job']}</strong>, run {context['run_id']}" in email.html
    assert "2026-11-16 08:02 CET" in email.text  # generated_at in the job's timezone


def test_report_shows_kpis_deltas_missed_targets_and_drivers(renderer):
    email = renderer.render_email("email/report.html", report_context())
    # workload is neutral: its change has neither colour nor verdict
    assert "  Completed                   184,233   ▲ 4.2%\n" in email.text
    assert "  Incoming                    191,020   ▲ 6.6%\n" in email.text
    assert "▲ 9.1% (worse), target 50s" in email.text  # AHT up is bad
    assert "HEADLINE KPIS (against 2026-W45)" in email.text
    # worst first by attainment, whatever order the task gave
    missed = [line for line in email.text.splitlines() if line.startswith("  - ")]
    assert missed == [
        "  - BR search / AHT: 1m 11s vs target 55s (77.5% attainment)",
        "  - DE comments / SLA attainment: 87.4% vs target 95.0% (92.0% attainment)",
        "  - Vendor Lumen BPO / UPH: 1.23 vs target 1.18 (95.9% attainment)",  # never "1.2 vs 1.2"
    ]
    assert "1. Volume moving to DE comments: 61.0% - share 12.0% → 18.4%" in email.text
    assert "Each share is of the AHT change from 2026-W45 to 2026-W46 (+4.4 s)" in email.text
    assert "color:#c62828" in email.html and "color:#1a7f37" in email.html
    assert "3 targets missed" in email.html
    assert "Data quality warning" not in email.html


def test_report_warning_banner_appears_with_gate_warnings(renderer):
    email = renderer.render_email("email/report.html", report_context(warnings=["1,204 rows, 41% below"]))
    assert "Data quality warning" in email.html and "1,204 rows, 41% below" in email.html
    assert "DATA QUALITY WARNING" in email.text and "! 1,204 rows, 41% below" in email.text


def test_report_without_missed_targets_says_so(renderer):
    email = renderer.render_email("email/report.html", report_context(changes={"missed_targets": []}))
    assert "all targets met" in email.text and "Every target was met." in email.text


def test_report_without_any_target_claims_nothing_about_targets(renderer):
    kpis = [{k: v for k, v in kpi.items() if k != "target"} for kpi in report_context()["kpis"]]
    email = renderer.render_email("email/report.html", report_context(changes={"missed_targets": [], "kpis": kpis}))
    assert "no targets to check" in email.text
    assert "No targets apply" in email.text and "target was met" not in email.text


def test_a_report_with_data_problems_never_says_every_target_was_met(renderer):
    """Targets met on the data that could be read are not "every target was met" (issue #12)."""
    problem = {"where": "atlas.xlsx", "problem": "quarantined: every row was rejected", "fix": "Resend it"}
    email = renderer.render_email(
        "email/report.html", report_context(changes={"missed_targets": [], "problems": [problem]})
    )
    for text in (email.text, email.html):
        assert "all targets met" not in text and "Every target was met" not in text
        assert "no target missed in the data read" in text and "1 problem to fix" in text


@pytest.mark.parametrize(
    ("quarantined", "rejected", "verdict"),
    [
        (False, 12, "3 files read, 12 rows rejected"),
        (True, 0, "3 files read, 1 quarantined"),
        (True, 12, "3 files read, 1 quarantined, 12 rows rejected"),
        (False, 0, "3 files read, 1,732 rows"),
    ],
)
def test_an_ingestion_headline_names_quarantined_files_and_rejected_rows(renderer, quarantined, rejected, verdict):
    """Even a task that lists no problems: the verdict under the title says what was left out."""
    files = [
        {"file": "a.xlsx", "vendor": "A", "status": "archived", "rows": 512, "rejected": rejected},
        {"file": "b.xlsx", "vendor": "B", "status": "archived", "rows": 401, "rejected": 0},
        {"file": "c.xlsx", "vendor": "C", "status": "quarantined" if quarantined else "archived", "rows": 0},
        {"file": "d.xlsx", "vendor": "D", "status": "archived", "rows": 819, "rejected": 0},
    ][: 4 if quarantined else 3]
    if not quarantined:
        files[2]["rows"] = 819
    context = report_context("ingestion", changes={"problems": [], "files": files})
    email = renderer.render_email("email/report.html", context)
    assert context["verdict"] == verdict and verdict in email.text
    assert "target" not in context["verdict"]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_data_is_text_in_html_never_markup(renderer, payload):
    ctx = report_context(
        summary=payload,
        drivers=[{"label": payload, "share": 0.5, "note": payload}],
        missed=[{"where": payload, "metric": "AHT", "actual": 1, "target": 2, "kind": "num", "attainment": 0.5}],
    )
    email = renderer.render_email("email/report.html", ctx)
    doc = parse_html(email.html)
    assert "script" not in doc.tags
    assert not any("onerror" in attrs for tag, attrs in doc.elements)
    assert not any(attrs.get("href", "").startswith("https://evil") for tag, attrs in doc.elements)
    assert doc.text.count(payload) == 4  # as text: summary, driver label and note, missed table
    assert payload in email.text  # the text part shows it verbatim: plain text cannot execute


def test_hostile_data_in_failure_alert_log_lines_is_escaped(renderer):
    email = renderer.render_email("email/failure_alert.html", failure_context(cause=HOSTILE[0], log_lines=[HOSTILE[1]]))
    doc = parse_html(email.html)
    assert "script" not in doc.tags and doc.tags.count("img") == 0
    assert HOSTILE[0] in doc.text and HOSTILE[1] in doc.text


def test_markdown_documents_are_not_escaped_and_html_documents_are(renderer):
    md = renderer.render_document(
        "attribution.md",
        {
            "title": "AHT <up>",
            "period_label": "W46",
            "baseline_label": "W45",
            "metric": "AHT",
            "total_change": 4.1,
            "unit": "s",
            "rows": [{"segment": "DE comments", "mix": 2.0, "rate": 1.5, "interaction": 0.6, "share": 1.0}],
            "job": "j",
            "run_id": "r",
            "generated_at": datetime(2026, 11, 16, tzinfo=UTC),
        },
    )
    assert "# AHT <up>" in md
    assert "| DE comments |" in md
    html = renderer.render_document(
        "docs/weekly_review.html",
        {**report_context(summary="<b>bold</b>"), "sections": [{"heading": "Notes", "body": "<i>x</i>"}]},
    )
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


def test_templates_beside_the_config_come_first_and_can_extend_the_built_in_layout(tmp_path):
    from opskit.delivery.render import Renderer

    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "mine.txt").write_text("{% extends 'email/base.txt' %}{% block body %}MINE{% endblock %}")
    (tmp_path / "email" / "report.txt").write_text("overridden")
    renderer = Renderer(extra_dirs=(tmp_path,))
    assert renderer.render("email/report.txt", {}) == "overridden"
    assert Renderer().render_string("x") == "x"
    assert "email/mine.txt" in renderer.env.list_templates()
