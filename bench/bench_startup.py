"""Start-up cost of the command line: `runner.py list` and `runner.py run source_check`.

Wall time (median and max of several runs) and peak memory (the largest child's max RSS) of each command as a
user runs it. `list` must stay under 0.3 s: it must not import Playwright, openpyxl or pydantic.

    .venv/bin/python bench/bench_startup.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import http.server
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def measure(cmd: list[str], repeat: int) -> tuple[float, float, float]:
    times = []
    peak_kb = 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
        peak_kb = max(peak_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return statistics.median(times), max(times), peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"paths:\n  tasks: {REPO / 'tasks'}\nsources:\n  local:\n"
            f"    url: http://127.0.0.1:{server.server_address[1]}/\n"
        )
        runner = [sys.executable, str(REPO / "runner.py"), "--config", str(config)]
        rows = [
            ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
            ("runner.py --help", [*runner, "--help"]),
            ("runner.py list", [*runner, "list"]),
            ("runner.py validate", [*runner, "validate"]),
            ("runner.py run source_check", [*runner, "run", "source_check"]),
        ]
        print(f"{'command':<32} {'median':>8} {'max':>8} {'peak RSS':>10}   ({args.repeat} runs each)")
        for label, cmd in rows:
            median, worst, peak = measure(cmd, args.repeat)
            print(f"{label:<32} {median * 1000:>6.0f}ms {worst * 1000:>6.0f}ms {peak:>8.1f}MB")
    server.shutdown()
    print(
        "note: `run` includes the child process that executes the task (its own interpreter start-up);"
        " peak RSS is the largest single process."
    )


if __name__ == "__main__":
    main()
