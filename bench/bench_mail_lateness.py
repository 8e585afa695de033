"""Scheduler lateness with a mute SMTP server, next to lateness with no mail server, in one run.

Two schedulers run at the same time, each in a process and a folder of its own, with the same jobs: 20 jobs
on `* * * * *` started through the real pre-forked executor (the no-op task), 10 of which email a report
after every run. One has no mail server (`email.backend: outbox`); the other sends through an SMTP server
that accepts the connection and never says a word (`email.timeout_s` 30, the default). Lateness is when a
run is handed to the executor, behind its slot (what `on_dispatch` sees); a slot not started by the end of
the window counts as not started. A scheduler that talked SMTP in its loop stalls 30 s per message (most
slots never start in the window); one that delivers off the loop is as late with the mute server as
without one.

    .venv/bin/python bench/bench_mail_lateness.py [--minutes 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

JOBS, MAILING = 20, 10


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def mute_server() -> int:
    """Accept connections and never answer; the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            held.append(conn)  # open, silent, until the client gives up

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def write_config(folder: Path, scenario: str) -> Path:
    lines = [
        "timezone: UTC",
        f"paths:\n  tasks: {REPO / 'bench' / 'tasks'}",
        f"scheduler:\n  max_concurrent_runs: {JOBS}",
    ]
    if scenario == "mute":
        lines.append(
            f"email:\n  backend: smtp\n  host: 127.0.0.1\n  port: {mute_server()}\n  security: none\n"
            "  sender: opskit@example.com"
        )
    lines.append("jobs:")
    for i in range(JOBS):
        lines.append(f'  job-{i:02d}:\n    task: noop\n    schedule: "* * * * *"')
        if i < MAILING:
            lines.append('    email:\n      to: [ops@example.com]\n      "on": [success, failure]')
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_scenario(scenario: str, minutes: int, out: Path) -> None:
    """One scheduler for ``minutes`` whole minutes; writes its lateness (ms) and outbox counts to ``out``."""
    import logging

    from opskit.delivery.outbox import Outbox
    from opskit.engine.daemon import Scheduler

    logging.basicConfig(level=logging.ERROR)
    lateness: list[float] = []

    def on_dispatch(record, now) -> None:
        lateness.append((time.time() - record.scheduled_for.timestamp()) * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        scheduler = Scheduler(write_config(Path(tmp), scenario), on_dispatch=on_dispatch)
        wait = 60 - datetime.now(UTC).second + 1  # start just after a minute: whole minutes follow
        timer = threading.Timer(wait + 60 * minutes - 2, scheduler.stopping.set)
        timer.start()
        try:
            scheduler.run_forever()
        finally:
            timer.cancel()
        outbox = Path(tmp) / "outbox"
        statuses = [e.status for e in Outbox(outbox).entries()] if outbox.exists() else []
    out.write_text(json.dumps({"lateness_ms": lateness, "messages": {s: statuses.count(s) for s in set(statuses)}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--scenario", choices=["none", "mute"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        run_scenario(args.scenario, args.minutes, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        outs = {name: Path(tmp) / f"{name}.json" for name in ("none", "mute")}
        children = [  # the runs' own log lines are not the subject: kept out of the figures
            subprocess.Popen(
                [sys.executable, __file__, "--scenario", name, "--minutes", str(args.minutes), "--out", str(out)],
                stderr=subprocess.DEVNULL,
            )
            for name, out in outs.items()
        ]
        for child in children:
            if child.wait() != 0:
                raise SystemExit(f"a scenario failed with exit code {child.returncode}: run it alone to see why")
        results = {name: json.loads(out.read_text()) for name, out in outs.items()}
    print(f"mail lateness: {JOBS} jobs on * * * * * ({MAILING} emailing), {args.minutes} min, both at once")
    print(f"  {'mail server':<34} {'started':>9} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}  outbox")
    labels = {"none": "none (email.backend: outbox)", "mute": "mute SMTP (accepts, never answers)"}
    for name, result in results.items():
        ms = result["lateness_ms"]
        messages = ", ".join(f"{n} {s}" for s, n in sorted(result["messages"].items())) or "-"
        started = f"{len(ms)}/{JOBS * args.minutes}"
        print(
            f"  {labels[name]:<34} {started:>9} {statistics.median(ms):>10.0f} {pct(ms, 0.99):>8.0f}"
            f" {max(ms):>8.0f}  {messages}"
        )


if __name__ == "__main__":
    main()
