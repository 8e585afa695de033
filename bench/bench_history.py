"""The run history's costs on SQLite (default) or PostgreSQL: writes as the scheduler and workers make them,
and the reads behind ``history`` and the web app's jobs page.

    .venv/bin/python bench/bench_history.py [postgresql://USER:PASS@HOST/DB]

Without a URL it uses a fresh SQLite file in a temp folder. Run it on main's code and on a branch, side
by side, to compare.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from opskit.engine.history import RunStatus, RunStore  # noqa: E402


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else str(Path(tempfile.mkdtemp()) / "history.sqlite")
    store = RunStore(target if "://" in target else Path(target))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    with store.transaction():  # a thousand slots due at once: one transaction
        ids = [
            store.create(
                job=f"job{i}",
                task="t",
                params={"i": i},
                trigger="schedule",
                scheduled_for=t0 + timedelta(minutes=i),
                folder_root=Path("/tmp"),
            ).id
            for i in range(1000)
        ]
    created = time.perf_counter()
    for run_id in ids[:300]:
        store.mark_running(run_id, pid=1)
        store.finish(run_id, RunStatus.SUCCEEDED, result={"rows": 1})
    finished = time.perf_counter()
    for _ in range(200):
        store.list(limit=20)
    listed = time.perf_counter()
    store.last_runs_brief([f"job{i}" for i in range(500)])
    brief = time.perf_counter()
    print(
        f"{store.where}: create 1000 runs in one transaction {created - start:.3f} s; "
        f"300 x (mark_running + finish) {finished - created:.3f} s; 200 x list(20) {listed - finished:.3f} s; "
        f"last_runs_brief(500 jobs) {brief - listed:.3f} s"
    )
    store.close()


if __name__ == "__main__":
    main()
