"""Small trend charts as PNG bytes, for emails (inline by Content-ID) and documents.

matplotlib with the Agg canvas and no pyplot: no global figure state, nothing opens a window, and two
threads can draw at once.

The date axis fits the span (``opskit.period.date_ticks``): a tick a day up to ten days, every other
day up to four weeks, a tick a week (Mondays) up to about a quarter, a tick a month beyond; never hours
between daily points. The legend sits above the plot area, outside it, so it never covers a line. A
``y_range`` given by the task (the same one its workbook chart uses, ``opskit.reports.trend_scale``)
fixes the value axis, so the email's picture and the workbook's chart show the same series on the
same scale.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from opskit.period import date_ticks

PALETTE = ("#2f6fb3", "#8c959f", "#e07b00", "#1a7f37", "#8250df", "#c62828")


def trend_chart_png(
    series: Mapping[str, Sequence[tuple[date, float | None]]],
    title: str,
    *,
    width_px: int = 600,
    height_px: int = 220,
    scale: int = 2,
    percent: bool = False,
    dashed: Sequence[str] = ("Target",),
    y_range: tuple[float, float] | None = None,
) -> bytes:
    """A line chart of one or more series over dates; ``width_px`` x ``height_px`` CSS pixels at ``scale``x.

    Args:
        series: Label -> [(date, value)]; None values leave a gap.
        title: Shown top left, small.
        percent: Format the y axis as percentages (values are ratios).
        dashed: Series drawn as dashed grey reference lines (targets).
        y_range: (min, max) of the value axis; matplotlib's own choice when None.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, DayLocator, MonthLocator, WeekdayLocator, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    dpi = 100 * scale
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = iter(PALETTE)
    for label, points in series.items():
        xs = [date2num(p[0]) for p in points]
        ys = [float("nan") if p[1] is None else p[1] for p in points]
        if label in dashed:
            ax.plot(xs, ys, label=label, color="#8c959f", linewidth=1.2, linestyle=(0, (4, 3)))
        else:
            ax.plot(xs, ys, label=label, color=next(colours), linewidth=2.0, marker="o", markersize=3)
    days = [p[0] for points in series.values() for p in points]
    unit, step = date_ticks(min(days), max(days))
    if unit == "day":
        ax.xaxis.set_major_locator(DayLocator(interval=step))
        ax.xaxis.set_major_formatter(DateFormatter("%a %d"))
    elif unit == "week":
        ax.xaxis.set_major_locator(WeekdayLocator(byweekday=0, interval=step))
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    else:
        ax.xaxis.set_major_locator(MonthLocator(interval=step))
        ax.xaxis.set_major_formatter(DateFormatter("%b %Y"))
    if min(days) == max(days):  # one point: a day either side, not a zero-width axis
        ax.set_xlim(date2num(min(days) - timedelta(days=1)), date2num(max(days) + timedelta(days=1)))
    if y_range is not None:
        ax.set_ylim(*y_range)
    if percent:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.0f}%"))
    ax.tick_params(labelsize=8, colors="#57606a", length=0)
    ax.grid(axis="y", color="#eaeef2", linewidth=0.8)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color("#d8dee4")
    if len(series) > 1:
        # above the axes, right-aligned beside the title: outside the plot area, never over a line
        ax.legend(loc="lower right", fontsize=8, frameon=False, ncols=len(series), bbox_to_anchor=(1, 1.0))
    ax.set_title(title, loc="left", fontsize=10, color="#1f2328", pad=8)
    fig.tight_layout(pad=0.6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()
