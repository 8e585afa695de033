"""Benchmark the data generator: wall time and peak memory for one data set.

    .venv/bin/python bench/bench_generate.py            # 1,000,000 cases
    .venv/bin/python bench/bench_generate.py --scale 100000

Generation runs in a child process, so the peak resident memory printed is the generator's alone.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "generate.db")
    args = parser.parse_args(argv)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "demo.generate",
            "--db",
            str(args.db),
            "--seed",
            str(args.seed),
            "--scale",
            str(args.scale),
        ],
        cwd=ROOT,
        check=True,
    )
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    conn = sqlite3.connect(args.db)
    cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    conn.close()
    print(
        f"scale {args.scale:,}: {cases:,} cases in {elapsed:.1f}s "
        f"({cases / elapsed:,.0f} cases/s, process start included), peak RSS {peak_mib:,.0f} MiB, "
        f"database {args.db.stat().st_size / 2**20:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
