"""efficiency_report (and metric_attribution) on a 1M-case console export: wall time and peak memory.

.venv/bin/python bench/bench_reports.py            # generates bench/out/reports_1m/ once (~15 s)
.venv/bin/python bench/bench_reports.py --scale 200000

Each task runs in its own child process, so peak RSS is the task's alone (ru_maxrss of the child).
The CSV floor is a bare csv.reader pass over the same file.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import importlib.util, json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo
from opskit import Period, RunContext
name, data, out, params = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4])
tz = ZoneInfo("Europe/Berlin")
when = datetime(2026, 11, 16, 7, tzinfo=UTC)
spec = importlib.util.spec_from_file_location(name, Path("tasks") / f"{name}.py")
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
for key in ("period", "current"):
    if key in params:
        params[key] = Period.parse(params[key], tz=tz, scheduled_for=when)
out.mkdir(parents=True, exist_ok=True)
ctx = RunContext(run_id="bench", job=None, task=name, params={}, scheduled_for=when, tz=tz,
                 folder=out, data_dir=data)
started = time.perf_counter()
result = getattr(module, name)(ctx, **params)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": result.rows}))
"""


def prepare(scale: int) -> tuple[Path, Path]:
    from demo.fixtures import write_cases_csv, write_queues_csv, write_targets_csv
    from demo.generate import generate

    folder = ROOT / "bench" / "out" / f"reports_{scale}"
    data = folder / "data"
    cases = data / "all_cases.csv"
    if not cases.exists():
        data.mkdir(parents=True, exist_ok=True)
        db = generate(folder / "console.db", seed=7, days=28, start=date(2026, 10, 19), scale=scale)
        write_cases_csv(db.db_path, cases, start="2026-10-19", end="2026-11-16")
        write_queues_csv(db.db_path, data / "queues.csv")
        write_targets_csv(db.db_path, data / "targets.csv")
    return data, cases


def run(name: str, data: Path, params: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            name,
            str(data),
            str(data.parent / "run"),
            json.dumps(params),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "task": name,
        "wall_s": round(wall, 2),
        "task_s": round(inner["seconds"], 2),
        "peak_rss_mib": round(max(peak, before) / 1024),
        "rows": inner["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1_000_000)
    args = parser.parse_args()
    data, cases = prepare(args.scale)
    started = time.perf_counter()
    with open(cases, newline="", encoding="utf-8") as handle:
        n = sum(1 for _ in csv.reader(handle)) - 1
    floor = time.perf_counter() - started
    print(f"{n:,} cases in {cases} ({cases.stat().st_size / 2**20:.0f} MiB); csv.reader floor {floor:.2f} s")
    for name, params in (
        (
            "efficiency_report",
            {
                "period": "2026-W46",
                "cases": str(cases),
                "cuts": ["queue", "vendor", "site", "market", "channel"],
            },
        ),
        ("metric_attribution", {"current": "2026-W46", "by": "vendor", "cases": str(cases)}),
    ):
        print(json.dumps(run(name, data, params)))


if __name__ == "__main__":
    main()
