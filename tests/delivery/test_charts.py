"""Trend charts fit their span: day ticks for a week, week ticks for a quarter; the legend outside the plot;
the value axis the task chose, the same in the email's PNG and in the workbook's chart."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from opskit.delivery.charts import trend_chart_png
from opskit.period import date_ticks


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (1, ("day", 1)),  # the daily report's two points: days, never hours
        (7, ("day", 1)),
        (9, ("day", 1)),
        (13, ("day", 2)),  # a fortnight: every other day, so the labels never touch
        (28, ("day", 2)),
        (91, ("week", 1)),  # a quarter
        (180, ("week", 2)),
        (400, ("month", 1)),
        (1000, ("month", 3)),
    ],
)
def test_ticks_fit_the_span(days, expected):
    first = date(2026, 8, 3)
    assert date_ticks(first, first + timedelta(days=days)) == expected


def _axes(monkeypatch):
    """The matplotlib Axes trend_chart_png draws on, caught as it saves."""
    from matplotlib.figure import Figure

    caught = []
    original = Figure.savefig

    def spy(self, *args, **kwargs):
        caught.append(self.axes[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return caught


def test_two_daily_points_get_day_ticks_and_the_legend_sits_above_the_plot(monkeypatch):
    caught = _axes(monkeypatch)
    series = {"AHT (s)": [(date(2026, 11, 11), 130.0), (date(2026, 11, 12), 141.0)], "Target": []}
    series["Target"] = [(d, 128.0) for d, _ in series["AHT (s)"]]
    png = trend_chart_png(series, "AHT per day", y_range=(100.0, 160.0))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (ax,) = caught
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["Wed 11", "Thu 12"]  # one tick a day, no hours between them
    assert ax.get_ylim() == (100.0, 160.0)
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    plot = ax.get_window_extent()
    assert legend.y0 >= plot.y1 - 1  # above the plot area: it can cover no line


def test_a_quarter_gets_week_ticks_on_mondays(monkeypatch):
    caught = _axes(monkeypatch)
    start = date(2026, 8, 3)
    series = {"AHT (s)": [(start + timedelta(days=i), 100.0 + i % 7) for i in range(91)]}
    trend_chart_png(series, "AHT per day")
    (ax,) = caught
    import matplotlib.dates as mdates

    days = [mdates.num2date(t).date() for t in ax.get_xticks()]
    assert days and all(d.weekday() == 0 for d in days) and (days[1] - days[0]).days == 7


def test_the_workbook_chart_has_the_same_date_ticks_and_scale(tmp_path):
    from openpyxl import load_workbook

    from opskit.excel import Column, Report

    start = date(2026, 8, 3)
    rows = [{"date": start + timedelta(days=i), "aht": 100.0 + i % 7} for i in range(91)]
    report = Report("Trend")
    report.trend(
        "Trend", rows, x=Column("date", "Date", "date"), series=[Column("aht", "AHT", "float")], y_range=(90.0, 110.0)
    )
    report.save(tmp_path / "t.xlsx")
    (chart,) = load_workbook(tmp_path / "t.xlsx")["Trend"]._charts
    assert (chart.y_axis.scaling.min, chart.y_axis.scaling.max) == (90.0, 110.0)
    assert chart.x_axis.majorUnit == 7 and chart.x_axis.majorTimeUnit == "days"
    assert chart.legend.position == "b" and not chart.legend.overlay
