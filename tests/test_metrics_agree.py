"""The two ways opskit computes a metric give identical numbers: the streaming case scan over CSV text
(``scan_cases`` -> ``Totals.metrics``) and the row functions over dicts (``opskit.reports.metrics``).

Both count, then call the same formula in ``opskit.reports.formulas``; this test holds their counting to
the same answers on a few thousand varied cases: open cases, unsampled and ungraded QA, appeals with and
without overturns, queues without an SLA, groups whose denominators are zero, cases exactly on window
edges, two overlapping export files, several cuts, windows and days.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from opskit import Period
from opskit.reports import metrics as m
from opskit.reports.scan import NEEDED, UNASSIGNED, scan_cases

BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULED = datetime(2026, 11, 16, 7, tzinfo=UTC)
CURRENT = Period.parse("2026-W46", tz=BERLIN, scheduled_for=SCHEDULED)
WINDOWS = {
    "current": CURRENT,
    "previous": CURRENT.previous(),
    "day": Period(date(2026, 11, 12), date(2026, 11, 12)),
    "empty": Period(date(2026, 1, 5), date(2026, 1, 11)),  # no case at all: every ratio is n/a
}
QUEUES = {  # queue_id -> (name, channel, market, sla_hours or None)
    "search-de": ("Search DE", "search", "DE", 4.0),
    "comment-br": ("Comments BR", "comment", "BR", 24.0),
    "dm-id": ("Messages ID", "messaging", "ID", 1.0),
    "account-us": ("Accounts US", "account", "US", None),  # no SLA: completed, never within
    "quiet-de": ("Quiet DE", "search", "DE", 8.0),  # only open cases: zero denominators
}
MODERATORS = {f"M{i:03d}": v for i, v in enumerate(["Lumen BPO", "Atlas CX", "in-house", "Kestrel"] * 5)}
SITES = {"Lumen BPO": "MNL", "Atlas CX": "LIS", "in-house": "DUB", "Kestrel": "KUL"}


def _edges() -> list[datetime]:
    """Every window bound as a UTC instant: cases are created and completed exactly there too."""
    out = []
    for name, period in WINDOWS.items():
        if name != "empty":
            out += period.bounds(BERLIN)
    return [t.astimezone(UTC) for t in out]


def make_cases(n: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2026, 10, 26, tzinfo=UTC)
    edges = _edges()
    cases = []
    for i in range(1, n + 1):
        queue = rng.choice(list(QUEUES))
        created = rng.choice(edges) if rng.random() < 0.05 else start + timedelta(seconds=rng.randrange(28 * 86400))
        open_case = queue == "quiet-de" or rng.random() < 0.12
        if open_case:
            done, moderator = None, rng.choice([None, rng.choice(list(MODERATORS))])
        else:
            later = [e for e in edges if e >= created]
            if later and rng.random() < 0.05:
                done = rng.choice(later)
            else:
                done = created + timedelta(
                    seconds=rng.choice([0, 60, 3600, 4 * 3600, 24 * 3600]) + rng.randrange(40 * 3600)
                )
            moderator = rng.choice(list(MODERATORS))
        sampled = not open_case and rng.random() < 0.4
        appealed = not open_case and rng.random() < 0.15
        vendor = MODERATORS[moderator] if moderator else None
        cases.append(
            {
                "case_id": i,
                "queue_id": queue,
                "created_at": created,
                "completed_at": done,
                "moderator_id": moderator,
                # whole and half seconds: sums are exact in any order, so equality can be exact
                "handle_seconds": None if open_case else rng.randrange(1, 1800) + rng.choice([0, 0.5]),
                "qa_sampled": sampled,
                "qa_correct": (rng.random() < 0.9 if rng.random() < 0.85 else None) if sampled else None,
                "escalated": not open_case and rng.random() < 0.07,
                "appealed": appealed,
                "overturned": appealed and rng.random() < 0.3,
                "vendor": vendor,
                "site": SITES.get(vendor or "", None),
            }
        )
    return cases


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def write_export(path, cases: Iterable[dict]) -> None:
    """The console's export format: NEEDED columns (and one extra), UTC times, 1/0 flags, empty for None."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*NEEDED, "decision"])
        for c in cases:
            name, channel, market, _ = QUEUES[c["queue_id"]]
            extra = {"queue_name": name, "channel": channel, "market": market}
            writer.writerow([_text(extra[k] if k in extra else c[k]) for k in NEEDED] + ["remove"])


def group_of(case: dict, dim: str) -> str:
    if dim == "all":
        return "all"
    if dim == "queue":
        return case["queue_id"]
    if dim in ("vendor", "site"):
        return case[dim] or UNASSIGNED
    _, channel, market, _ = QUEUES[case["queue_id"]]
    return {"channel": channel, "market": market}[dim]


def row_metrics(rows: list[dict], start: datetime, end: datetime, sla: dict, productive: float | None) -> dict:
    """Every metric of ``Totals.metrics`` by the row functions (accuracy and overturns over cases completed)."""
    done = [r for r in rows if r["completed_at"] is not None and start <= r["completed_at"] < end]
    return {
        "incoming": m.incoming(rows, start, end),
        "completed": m.completed(rows, start, end),
        "aht": m.aht(rows, start, end),
        "sla_attainment": m.sla_attainment(rows, sla, start, end),
        "accuracy": m.accuracy(done),
        "tat_p50": m.tat_percentile(rows, 0.5, start, end),
        "tat_p90": m.tat_percentile(rows, 0.9, start, end),
        "escalation_rate": m.escalation_rate(rows, start, end),
        "overturn_rate": m.overturn_rate(done),
        "uph": m.uph_from_rows(rows, [{"productive_seconds": productive}] if productive else [], start, end),
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    cases = make_cases(4000)
    folder = tmp_path_factory.mktemp("agree")
    first, second = folder / "cases_a.csv", folder / "cases_b.csv"
    write_export(first, cases[:2600])
    write_export(second, cases[2000:])  # 600 cases in both files: each must count once
    sla = {q: hours for q, (*_, hours) in QUEUES.items() if hours is not None}
    trend = Period(date(2026, 10, 26), date(2026, 11, 22))
    windows = {name: period.bounds(BERLIN) for name, period in WINDOWS.items()}
    scan = scan_cases([first, second], windows=windows, tz=BERLIN, sla_hours=sla, trend=trend.bounds(BERLIN))
    return cases, sla, scan


def test_the_data_has_the_awkward_cases(data):
    cases, _, scan = data
    assert scan.rows == len(cases) == 4000
    assert any(c["completed_at"] is None for c in cases) and any(c["moderator_id"] is None for c in cases)
    assert any(c["qa_sampled"] and c["qa_correct"] is None for c in cases)
    edges = set(_edges())
    assert sum(c["created_at"] in edges for c in cases) > 50 and sum(c["completed_at"] in edges for c in cases) > 50
    assert scan.overall("empty").completed == 0


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("dim", ["all", "queue", "vendor", "site", "market", "channel"])
def test_scan_and_row_functions_give_identical_numbers(data, window, dim):
    cases, sla, scan = data
    start, end = WINDOWS[window].bounds(BERLIN)
    groups = scan.cut(window, dim)
    expected_groups = {group_of(c, dim) for c in cases if start <= c["created_at"] < end}
    expected_groups |= {group_of(c, dim) for c in cases if c["completed_at"] and start <= c["completed_at"] < end}
    assert set(groups) == expected_groups
    for n, (key, totals) in enumerate(sorted(groups.items())):
        rows = [c for c in cases if group_of(c, dim) == key]
        productive = [0.0, 7200.0, 123_456.5][n % 3] or None  # some groups without shifts: no UPH
        got = totals.metrics(sla=True, productive_seconds=productive)
        assert got == row_metrics(rows, start, end, sla, productive), (window, dim, key)
    if window == "empty":
        assert all(v is None for k, v in scan.overall(window).metrics().items() if k not in ("incoming", "completed"))


def test_the_daily_trend_agrees_day_by_day(data):
    cases, sla, scan = data
    assert len(scan.daily) == 28
    for day, totals in scan.daily.items():
        start, end = Period(day, day).bounds(BERLIN)
        expected = row_metrics(cases, start, end, sla, None)
        got = totals.metrics()
        for key in ("incoming", "completed", "aht", "sla_attainment"):
            assert got[key] == expected[key], (day, key)


def test_without_a_queue_list_sla_is_not_available(data):
    _, _, scan = data
    assert scan.overall("current").metrics(sla=False)["sla_attainment"] is None
