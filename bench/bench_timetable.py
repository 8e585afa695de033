"""How long one ``Timetable.next_fire`` call takes, for cron, phrases and holiday calendars.

Run: ``.venv/bin/python bench/bench_timetable.py [calls]`` (default 3000 calls per case).

Each case asks for the next fire time after the same deterministic spread of instants over
2026 (so DST days and holidays are among them) and prints the median and p99 per call.
croniter's ``get_next`` (shared/docs/MEASURED.md: 25-51 us) runs in the same process as the peer.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opskit.engine.calendars import Calendar  # noqa: E402
from opskit.engine.timetable import parse_schedule  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")


def instants(count: int) -> list[datetime]:
    rng = random.Random(20261118)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [start + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(count)]


def measure(call, points: list[datetime]) -> tuple[float, float]:
    for at in points[:50]:  # warm up imports and holiday tables
        call(at)
    samples = []
    for at in points:
        begin = time.perf_counter_ns()
        call(at)
        samples.append((time.perf_counter_ns() - begin) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    points = instants(calls)
    de = Calendar("DE")
    cases = [
        ("cron '30 8 * * MON-FRI'", parse_schedule("30 8 * * MON-FRI", BERLIN)),
        ("cron '*/15 * * * *'", parse_schedule("*/15 * * * *", BERLIN)),
        ("cron '0 9 * * 1#2'", parse_schedule("0 9 * * 1#2", BERLIN)),
        ("phrase 'every day at 08:30'", parse_schedule("every day at 08:30", BERLIN)),
        ("phrase 'every 15 minutes'", parse_schedule("every 15 minutes", BERLIN)),
        (
            "phrase 'every weekday at 07:00' skipping DE holidays",
            parse_schedule("every weekday at 07:00", BERLIN, calendar=de, skip_holidays=True),
        ),
        (
            "phrase 'every minute' skipping DE holidays",
            parse_schedule("every minute", BERLIN, calendar=de, skip_holidays=True),
        ),
        (
            "phrase 'business day 3 of the month at 09:00' DE",
            parse_schedule("business day 3 of the month at 09:00", BERLIN, calendar=de),
        ),
        (
            "phrase 'last business day of the month at 17:00' DE",
            parse_schedule("last business day of the month at 17:00", BERLIN, calendar=de),
        ),
    ]
    print(f"next_fire, {calls} calls per case, Europe/Berlin, after-instants spread over 2026")
    print(f"{'case':<58} {'median':>9} {'p99':>9}")
    for label, timetable in cases:
        median, p99 = measure(timetable.next_fire, points)
        print(f"{label:<58} {median:>7.1f}us {p99:>7.1f}us")

    from croniter import croniter

    def croniter_next(at: datetime) -> datetime:
        return croniter("30 8 * * MON-FRI", at.astimezone(BERLIN)).get_next(datetime)

    median, p99 = measure(croniter_next, points)
    print(f"{'peer: croniter 30 8 * * MON-FRI (new iterator per call)':<58} {median:>7.1f}us {p99:>7.1f}us")
    reused = croniter("30 8 * * MON-FRI", points[0].astimezone(BERLIN))

    def croniter_reused(at: datetime) -> datetime:
        reused.set_current(at.astimezone(BERLIN), force=True)
        return reused.get_next(datetime)

    median, p99 = measure(croniter_reused, points)
    print(f"{'peer: croniter 30 8 * * MON-FRI (one iterator, set_current)':<58} {median:>7.1f}us {p99:>7.1f}us")
    begin = time.perf_counter()
    for _ in range(1000):
        parse_schedule("every weekday at 07:00", BERLIN)
    print(f"parse_schedule('every weekday at 07:00'): {(time.perf_counter() - begin) * 1000:.1f}us")


if __name__ == "__main__":
    main()
