"""Scheduler precision and idle cost, next to the schedule library's own loop.

1. dispatch: 1,000 jobs on `* * * * *`; lateness of each hand-over to the executor behind its slot
   (median, p99), the daemon's CPU and memory. The executor here finishes at once: it measures the daemon.
2. task start: 50 no-op jobs due in the same minute, max_concurrent_runs 8, real child processes;
   lateness of each task's first line behind its slot.
3. idle: 50 jobs, nothing due, for --idle-seconds (default 300): CPU share of one core and RSS.
4. reference: the schedule library's run_pending loop with 1,000 minute jobs (sleep 1 s and 0.2 s).
   cron itself has 1-minute granularity and starts jobs within about a second of the minute.

    .venv/bin/python bench/bench_scheduler.py [--minutes 2] [--idle-seconds 300] [--skip idle]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from opskit.engine.daemon import Scheduler  # noqa: E402
from opskit.engine.executors import Executor, RunHandle  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def write_config(
    folder: Path, jobs: int, schedule: str, *, max_concurrent: int = 2, marker_dir: Path | None = None
) -> Path:
    lines = [
        "timezone: UTC",
        f"paths:\n  tasks: {REPO / 'bench' / 'tasks'}",
        f"scheduler:\n  max_concurrent_runs: {max_concurrent}",
        "jobs:",
    ]
    for i in range(jobs):
        lines.append(f'  job-{i:04d}:\n    task: noop\n    schedule: "{schedule}"\n    overlap: queue')
        if marker_dir:
            lines.append(f"    params:\n      marker_dir: {marker_dir}")
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class _Done(RunHandle):
    """A run that has finished the moment it started."""

    where = "nowhere (benchmark)"

    def poll(self) -> int:
        return 0

    def kill(self) -> None:
        pass

    def terminate(self) -> None:
        pass


class _Instant(Executor):
    """An executor whose runs end at once: the benchmark measures the daemon, not the runs."""

    def start(self, record, config, *, options=None, plan=None) -> RunHandle:
        return _Done()


def run_for(scheduler: Scheduler, seconds: float) -> None:
    timer = threading.Timer(seconds, scheduler.stopping.set)
    timer.start()
    try:
        scheduler.run_forever()
    finally:
        timer.cancel()


def bench_dispatch(minutes: int) -> None:
    lateness: list[float] = []

    def on_dispatch(record, now) -> None:
        lateness.append(time.time() - record.scheduled_for.timestamp())

    with tempfile.TemporaryDirectory() as tmp:
        # No queueing: this measures the daemon's own work between a slot and the hand-over.
        config = write_config(Path(tmp), 1000, "* * * * *", max_concurrent=1000)
        scheduler = Scheduler(config, executor=_Instant(), on_dispatch=on_dispatch)
        # start just after a minute so the first slot is a whole minute away
        wait = 60 - datetime.now(UTC).second + 1
        cpu0, t0 = cpu_seconds(), time.monotonic()
        run_for(scheduler, wait + 60 * minutes - 2)
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - t0
    ms = [x * 1000 for x in lateness]
    print(
        f"dispatch, 1,000 jobs x {minutes} min: {len(ms)} dispatches, lateness median {statistics.median(ms):.0f} ms,"
        f" p99 {pct(ms, 0.99):.0f} ms, max {max(ms):.0f} ms; daemon CPU {cpu / wall * 100:.1f}% of a core,"
        f" RSS {rss_mb():.0f} MB"
    )


def bench_task_start() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        markers = Path(tmp) / "markers"
        markers.mkdir()
        config = write_config(Path(tmp), 50, "* * * * *", max_concurrent=8, marker_dir=markers)
        scheduler = Scheduler(config)
        wait = 60 - datetime.now(UTC).second + 1
        run_for(scheduler, wait + 40)
        lateness = []
        for marker in markers.iterdir():
            slot, first_line = map(float, marker.read_text().split())
            lateness.append((first_line - slot) * 1000)
    print(
        f"task start, 50 no-op jobs in one minute, 8 concurrent: {len(lateness)} runs, first-line lateness "
        f"median {statistics.median(lateness):.0f} ms, p99 {pct(lateness, 0.99):.0f} ms, max {max(lateness):.0f} ms"
    )


def bench_idle(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), 50, "0 3 1 1 *")
        scheduler = Scheduler(config)
        cpu0, t0 = cpu_seconds(), time.monotonic()
        run_for(scheduler, seconds)
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - t0
    print(f"idle, 50 jobs, nothing due, {wall:.0f} s: CPU {cpu / wall * 100:.2f}% of a core, RSS {rss_mb():.0f} MB")


def bench_schedule_library(sleep_s: float, minutes: int = 1) -> None:
    import schedule

    scheduler = schedule.Scheduler()
    lateness: list[float] = []

    def job() -> None:
        now = time.time()
        lateness.append((now - (now // 60) * 60) * 1000)

    for _ in range(1000):
        scheduler.every().minute.at(":00").do(job)
    end = time.time() + 60 * minutes + (60 - time.time() % 60) + 1
    cpu0, t0 = cpu_seconds(), time.monotonic()
    while time.time() < end:
        scheduler.run_pending()
        time.sleep(sleep_s)
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - t0
    print(
        f"reference: schedule library, 1,000 minute jobs, loop sleeping {sleep_s}s: {len(lateness)} calls, "
        f"lateness median {statistics.median(lateness):.0f} ms, p99 {pct(lateness, 0.99):.0f} ms; "
        f"CPU {cpu / wall * 100:.1f}% of a core"
    )


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--idle-seconds", type=float, default=300)
    parser.add_argument("--skip", nargs="*", default=[], choices=["dispatch", "start", "idle", "reference"])
    args = parser.parse_args()
    print(f"pid {os.getpid()}, {os.cpu_count()} cores")
    if "dispatch" not in args.skip:
        bench_dispatch(args.minutes)
    if "start" not in args.skip:
        bench_task_start()
    if "idle" not in args.skip:
        bench_idle(args.idle_seconds)
    if "reference" not in args.skip:
        bench_schedule_library(1.0)
        bench_schedule_library(0.2)


if __name__ == "__main__":
    main()
