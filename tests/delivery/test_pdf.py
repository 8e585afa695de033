from __future__ import annotations

import base64

import pytest

from opskit.delivery.charts import trend_chart_png
from opskit.delivery.render import Renderer, html_to_pdf

from .samples import report_context, trend_series


@pytest.mark.browser
def test_html_document_to_pdf_is_written_atomically(tmp_path):
    png = trend_chart_png(trend_series(), "AHT")
    html = Renderer(timezone="Europe/Berlin").render_document(
        "weekly_review.html",
        {
            **report_context(),
            "chart_data_uri": "data:image/png;base64," + base64.b64encode(png).decode(),
        },
    )
    out = html_to_pdf(html, tmp_path / "out" / "weekly_review.pdf")
    assert out == tmp_path / "out" / "weekly_review.pdf"
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    assert [p.name for p in out.parent.iterdir()] == ["weekly_review.pdf"]  # no temp file left behind
