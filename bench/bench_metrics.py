"""Streaming group-by over a 1M-row case CSV with metrics.Accumulator (pure Python).

.venv/bin/python bench/bench_metrics.py --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opskit.reports.metrics import Accumulator  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "cases.csv"
        with open(path, "w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(
                [
                    "case_id",
                    "queue_id",
                    "vendor",
                    "completed",
                    "handle_seconds",
                    "qa_sampled",
                    "qa_correct",
                ]
            )
            for i in range(args.rows):
                out.writerow(
                    [
                        i,
                        f"q{i % 40}",
                        f"v{i % 7}",
                        i % 10 != 0,
                        30 + i % 900,
                        i % 20 == 0,
                        i % 3 != 0,
                    ]
                )
        start = time.perf_counter()
        acc = Accumulator(
            key=lambda r: (r["queue_id"], r["vendor"]),
            sums=("handle_seconds",),
            counts={
                "completed": lambda r: r["completed"] == "True",
                "qa_correct": lambda r: r["qa_correct"] == "True",
            },
        )
        with open(path, newline="") as handle:
            acc.update(csv.DictReader(handle))
        elapsed = time.perf_counter() - start
        print(
            f"{args.rows:,} rows -> {len(acc)} groups in {elapsed:.2f} s "
            f"(AHT q1/v1 = {acc.ratio(('q1', 'v1'), 'handle_seconds', 'completed'):.1f} s)"
        )


if __name__ == "__main__":
    main()
