"""`make bench`: every benchmark in bench/, one after another, each printing its own figures.

The defaults keep the whole run to roughly a quarter of an hour on the reference machine (2 cores); pass
`--full` for the sizes the issues quote (1M-row workbooks, 5 minutes of scheduler idling), or run one
script by hand with its own options (each has --help).

    .venv/bin/python bench/run_all.py [--full] [--only startup scheduler ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

QUICK = {
    "startup": ["bench_startup.py", "--repeat", "5"],
    "timetable": ["bench_timetable.py"],
    "generate": ["bench_generate.py", "--scale", "1000000"],
    "console": ["bench_console.py"],
    "metrics": ["bench_metrics.py", "--rows", "1000000"],
    "excel": ["bench_excel.py", "--rows", "100000", "--read-rows", "100000"],
    "reports": ["bench_reports.py"],
    "templates": ["bench_templates.py", "--rows", "100000"],
    "email": ["bench_email.py"],
    "browser": ["bench_browser.py", "--repeat", "3"],
    "scheduler": ["bench_scheduler.py", "--minutes", "1", "--idle-seconds", "60"],
    "mail_lateness": ["bench_mail_lateness.py", "--minutes", "2"],
    "web": ["bench_web.py", "--minutes", "1"],
    "cluster": ["bench_cluster.py", "--runs", "1000", "--repeat", "2"],
}
FULL = {
    **QUICK,
    "excel": ["bench_excel.py", "--rows", "1000000", "--read-rows", "100000"],
    "scheduler": ["bench_scheduler.py", "--minutes", "2", "--idle-seconds", "300"],
    "mail_lateness": ["bench_mail_lateness.py", "--minutes", "5"],
    "web": ["bench_web.py", "--minutes", "2"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the sizes the issues quote (about an hour)")
    parser.add_argument("--only", nargs="*", choices=sorted(QUICK), help="run only these")
    args = parser.parse_args()
    plan = FULL if args.full else QUICK
    failed = []
    for name, argv in plan.items():
        if args.only and name not in args.only:
            continue
        print(f"\n=== {name}: {' '.join(argv)}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / argv[0]), *argv[1:]], cwd=HERE.parent)
        print(f"=== {name}: {'ok' if code == 0 else f'exit {code}'} in {time.monotonic() - started:.0f}s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
