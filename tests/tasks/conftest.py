"""Session-wide console data for the report tasks: one generated database and the files made from it.

The database is the console's (demo.generate, seed 7, 2026-10-19 + 28 days): its week 46 holds the
planted story (Lumen BPO slower, volume moving to the account channel). Files are what the tasks
read in production: case exports per ISO week, the queue list, targets and shifts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from demo.fixtures import write_queues_csv, write_shifts_csv, write_targets_csv
from opskit import Result, RunContext
from opskit.testing import DEFAULT_SCHEDULED_FOR, ContextFactory, find_config

SCALE = 6000
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class ConsoleData:
    db: Path
    data_dir: Path
    all_cases: Path  # every case in the database, one export

    def sql(self, query: str, *params: object) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> ConsoleData:
    from demo.fixtures import write_cases_csv
    from demo.generate import generate

    root = tmp_path_factory.mktemp("console")
    db = generate(root / "console.db", seed=7, days=28, start=date(2026, 10, 19), scale=SCALE).db_path
    data = root / "data"
    (data / "cases").mkdir(parents=True)
    write_cases_csv(db, data / "cases" / "2026-W46.csv", start="2026-11-09", end="2026-11-15")
    write_cases_csv(db, data / "cases" / "2026-W45.csv", start="2026-11-02", end="2026-11-08")
    write_queues_csv(db, data / "queues.csv")
    write_targets_csv(db, data / "targets.csv")
    write_shifts_csv(db, data / "shifts.csv", start=date(2026, 10, 19), end=date(2026, 11, 15))
    everything = root / "all_cases.csv"
    write_cases_csv(db, everything, start="2026-10-19", end="2026-11-16")
    return ConsoleData(Path(db), data, everything)


@pytest.fixture(scope="module")
def task_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContextFactory]:
    """The project's own pytest plugin (``opskit.testing``) for a whole module: ``opskit_context`` is per
    test, while these modules build one report per module and check it from several sides."""
    factory = ContextFactory(tmp_path_factory.mktemp("runs"), find_config(Path(__file__).parent))
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def make_ctx(task_context: ContextFactory) -> Callable[..., RunContext]:
    """``make_ctx(task, data_dir, tz=..., scheduled_for=..., vendor_reports=...)``: a real RunContext for job
    'weekly' (``vendor_reports``: config.yaml's section; the repository's by default)."""

    def make(
        task: str,
        data_dir: Path,
        *,
        tz: ZoneInfo = BERLIN,
        scheduled_for: datetime | None = None,
        vendor_reports: dict | None = None,
    ) -> RunContext:
        return task_context(
            task,
            job="weekly",
            data_dir=data_dir,
            tz=tz,
            scheduled_for=scheduled_for or DEFAULT_SCHEDULED_FOR,
            vendor_reports=vendor_reports,
        )

    return make


@pytest.fixture(scope="module")
def run_task(task_context: ContextFactory) -> Callable[..., Result]:
    """``run_task(name, ctx=ctx, **params)``: validate the parameters like a real run, then run the task."""
    return task_context.run


def utc_bounds(start: date, end_exclusive: date, tz: ZoneInfo = BERLIN) -> tuple[str, str]:
    """Local-midnight bounds as the stored UTC text, for SQL over the console database."""

    def stamp(d: date) -> str:
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return stamp(start), stamp(end_exclusive)
