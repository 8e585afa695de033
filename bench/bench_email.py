"""Time to render one report email (with its chart) and to send it to a local aiosmtpd server.

Run: .venv/bin/python bench/bench_email.py [--repeat 20]
Prints medians in ms. Sending goes through the outbox (an .eml file + index row, fsync'd) and then SMTP on
127.0.0.1 without TLS, so it compares with MEASURED.md's ~12 ms for a bare smtplib send with an xlsx.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.delivery.samples import report_context, trend_series  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms (min {min(samples) * 1000:.1f}, n={len(samples)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from aiosmtpd.controller import Controller
    from openpyxl import Workbook

    from opskit.config.email import EmailSettings, JobEmail
    from opskit.delivery.charts import trend_chart_png
    from opskit.delivery.compose import compose_email, deliver
    from opskit.delivery.render import Renderer

    tmp = Path(tempfile.mkdtemp(prefix="bench_email_"))
    wb = Workbook()
    ws = wb.active
    for i in range(2000):
        ws.append([f"queue-{i % 40}", i, i * 1.5, "DE"])
    xlsx = tmp / "weekly_emea_2026-W46.xlsx"
    wb.save(xlsx)

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    settings = EmailSettings(
        backend="smtp",
        outbox_dir=tmp / "outbox",
        sender="reports@example.com",
        host="127.0.0.1",
        port=port,
        security="none",
    )
    job_email = JobEmail(to=["lead@example.com"], cc=["team@example.com"], attach=["*.xlsx"])
    now = datetime(2026, 11, 16, 7, 2, tzinfo=UTC)

    t0 = time.perf_counter()
    renderer = Renderer(timezone="Europe/Berlin")
    trend_chart_png(trend_series(), "AHT")  # first call imports matplotlib and warms its font cache
    first = time.perf_counter() - t0

    chart_t, render_t, compose_t, send_t = [], [], [], []
    for i in range(args.repeat):
        t = time.perf_counter()
        png = trend_chart_png(trend_series(), "AHT, last 12 weeks")
        chart_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        renderer.render_email("email/report.html", report_context(chart_cid="trend@opskit"))
        render_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        composed = compose_email(
            renderer,
            job_email,
            settings,
            context=report_context(),
            job="bench",
            run_id=f"run-{i}",
            now=now,
            files=[xlsx],
            chart_png=png,
        )
        compose_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        entry = deliver(settings, composed, job="bench", run_id=f"run-{i}")
        send_t.append(time.perf_counter() - t)
        assert entry.status == "sent", entry.last_error
    controller.stop()
    assert Sink.count == args.repeat

    size = len(composed.message.as_bytes())
    print(
        f"message size: {size / 1000:.0f} kB (xlsx {xlsx.stat().st_size / 1000:.0f} kB + chart "
        f"{len(png) / 1000:.0f} kB)"
    )
    print(f"first render setup (imports, font cache): {first * 1000:.0f} ms")
    print(f"chart png (600x220 @2x):                  {median_ms(chart_t)}")
    print(f"render report email (HTML+inline CSS+txt):{median_ms(render_t)}")
    print(f"compose (render + subject + build MIME):  {median_ms(compose_t)}")
    print(f"deliver (outbox .eml+index, SMTP send):   {median_ms(send_t)}")


if __name__ == "__main__":
    main()
