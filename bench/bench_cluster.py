"""Runs on Celery workers against the local executor, side by side in one run.

1. trivial runs: --runs (default 1,000) runs of a no-op task handed to the scheduler at once, through the
   local executor (the scheduler's zygote) and through 1, 2 and 4 ``runner.py worker`` processes (threads
   pool, --concurrency 2 each, like the 2 cores of the reference machine) on a throwaway Redis;
   ``scheduler.max_concurrent_runs`` is --in-flight for every column. Throughput is runs per second from the
   hand-over of the first to the end of the last; dispatch latency is each run's start (its process's first
   write to the history) behind its hand-over to the executor, median and p99: for a cluster with fewer
   free slots than runs in flight it includes the wait in Redis. The scheduler ticks at its own pace (every
   0.1 s while runs are in flight), as ``runner.py schedule`` does. The runs' console lines go to a file.
   A last column runs 2 workers with Celery's prefork pool instead of threads (``--pool prefork``).
2. the weekly ops review end to end (export through the browser, reports, PDF, email) against the
   Moderation Console, through the local executor and through a browser worker: time from hand-over to a
   delivered run, median of --repeat after one warm-up run each; the difference is the cluster's overhead
   (target: under 2 s).

    .venv/bin/python bench/bench_cluster.py [--runs 1000] [--in-flight 8] [--repeat 2] [--skip review]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from demo.redis_server import LocalRedis  # noqa: E402
from opskit.engine.daemon import Scheduler  # noqa: E402
from opskit.engine.history import RunRecord, RunStore, Trigger  # noqa: E402
from opskit.engine.planning import plan_run  # noqa: E402

WORKER_COUNTS = (1, 2, 4)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Workers:
    """``runner.py worker`` processes, stopped (warm, then killed) when done."""

    def __init__(self, config: Path, folder: Path):
        self.config, self.folder, self.procs = config, folder, []  # type: ignore[var-annotated]

    def start(self, queues: str = "default", concurrency: int = 2, pool: str = "threads") -> None:
        log = (self.folder / f"worker-{len(self.procs)}.log").open("ab")
        cmd = [sys.executable, str(REPO / "runner.py"), "--config", str(self.config), "worker"]
        cmd += ["--queues", queues, "--concurrency", str(concurrency), "--pool", pool]
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def wait_up(self, store: RunStore) -> None:
        pids = {p.pid for p in self.procs}
        wait(lambda: pids <= {w.pid for w in store.workers()}, 60, "the workers' heartbeats")
        time.sleep(1.0)  # their zygotes load meanwhile: measured runs should not pay for it

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []


def wait(predicate: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.05)


def drive(scheduler: Scheduler, done: Callable[[], bool], seconds: float) -> None:
    """The scheduler's own loop, bounded: tick, then sleep as long as it would."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("the runs did not end in time")
        now = datetime.now(UTC)
        scheduler.step(now)
        time.sleep(scheduler.sleep_seconds(datetime.now(UTC)))


def trivial_config(folder: Path, in_flight: int, broker: str | None) -> Path:
    executor = f"executor:\n  kind: celery\n  broker: {broker}\n  heartbeat: 1s\n" if broker else ""
    text = (
        f"timezone: UTC\n{executor}paths:\n  tasks: {REPO / 'bench' / 'tasks'}\n"
        f"scheduler:\n  max_concurrent_runs: {in_flight}\njobs: {{}}\n"
    )
    path = folder / "config.yaml"
    path.write_text(text)
    return path


def trivial(
    runs: int, in_flight: int, broker: str | None, workers: int, base: Path, pool_kind: str = "threads"
) -> dict[str, float]:
    folder = base / (f"celery-{workers}-{pool_kind}" if broker else "local")
    folder.mkdir()
    config = trivial_config(folder, in_flight, broker)
    pool = Workers(config, folder)
    handed: dict[str, float] = {}
    scheduler = Scheduler(config, on_dispatch=lambda record, now: handed.__setitem__(record.id, time.time()))
    scheduler.start(datetime.now(UTC))
    try:
        if broker:
            for _ in range(workers):
                pool.start(pool=pool_kind)
            pool.wait_up(scheduler.store)
        plan = plan_run(scheduler.config, scheduler.registry, "noop", scheduled_for=datetime.now(UTC))
        with scheduler.store.transaction():
            for _ in range(runs):
                scheduler.runs.enqueue(plan, Trigger.MANUAL, datetime.now(UTC))
        first = time.time()
        drive(scheduler, lambda: not scheduler.runs.queue and not scheduler.running, 1800)
        records: list[RunRecord] = scheduler.store.list(limit=runs + 10)
        last = max(r.finished_at.timestamp() for r in records if r.finished_at)
        ok = sum(r.status == "succeeded" for r in records)
        lags = [r.started_at.timestamp() - handed[r.id] for r in records if r.started_at and r.id in handed]
    finally:
        scheduler.stop(datetime.now(UTC))
        pool.stop()
    return {
        "ok": ok,
        "throughput": runs / (last - first),
        "median_ms": statistics.median(lags) * 1000,
        "p99_ms": pct(lags, 0.99) * 1000,
    }


def review(repeat: int, base: Path) -> dict[str, list[float]]:
    from demo.run_demo import prepare_data
    from demo.server import ConsoleServer

    db_path = prepare_data(REPO / "data", date.today())
    times: dict[str, list[float]] = {"local": [], "celery": []}
    with ConsoleServer(db_path, use_env=False) as console, LocalRedis(base / "redis-review") as redis:
        os.environ.update(
            CONSOLE_URL=console.url,
            CONSOLE_USER=console.username,
            CONSOLE_PASSWORD=console.password,
            CONSOLE_API_TOKEN=console.api_token,
        )
        for kind in ("local", "celery"):
            folder = base / f"review-{kind}"
            folder.mkdir()
            text = (REPO / "config.yaml").read_text()
            text = text.replace("\n  var: var", f"\n  var: {folder / 'var'}")
            text = text.replace("\n  data: data", f"\n  data: {REPO / 'data'}\n  tasks: {REPO / 'tasks'}")
            text = text.replace("\n  outbox_dir: outbox", f"\n  outbox_dir: {folder / 'outbox'}")
            if kind == "celery":
                text = f"executor:\n  kind: celery\n  broker: {redis.url}\n  heartbeat: 1s\n" + text
            config = folder / "config.yaml"
            config.write_text(text)
            pool = Workers(config, folder)
            scheduler = Scheduler(config)
            scheduler.start(datetime.now(UTC))
            try:
                if kind == "celery":
                    pool.start("default,browser")
                    pool.wait_up(scheduler.store)
                for i in range(repeat + 1):  # the first is a warm-up (zygote, Chromium, caches): not counted
                    plan = plan_run(scheduler.config, scheduler.registry, "weekly-ops-review")
                    began = time.monotonic()
                    scheduler.runs.enqueue(plan, Trigger.MANUAL, datetime.now(UTC))
                    run_id = scheduler.store.list(job="weekly-ops-review", limit=1)[0].id

                    def delivered(run_id: str = run_id, scheduler: Scheduler = scheduler) -> bool:
                        record = scheduler.store.get(run_id)
                        return record.status not in ("queued", "running") and bool(record.delivery)

                    drive(scheduler, delivered, 600)
                    record = scheduler.store.get(run_id)
                    if record.status != "succeeded":
                        raise RuntimeError(f"the weekly ops review {record.status} on {kind}: {record.error}")
                    if i:
                        times[kind].append(time.monotonic() - began)
            finally:
                scheduler.stop(datetime.now(UTC))
                pool.stop()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=8, help="scheduler.max_concurrent_runs (default 8)")
    parser.add_argument("--repeat", type=int, default=2, help="weekly ops reviews per executor (default 2)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("trivial", "review"))
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    quiet = os.open(base / "runs-stderr.log", os.O_WRONLY | os.O_CREAT, 0o600)
    saved = os.dup(2)
    os.dup2(quiet, 2)  # the local runs' console lines (the workers write to their own logs)
    try:
        if "trivial" not in args.skip:
            print(f"{args.runs} trivial runs, {args.in_flight} in flight (cores: {os.cpu_count()})", flush=True)
            columns = {"local executor": trivial(args.runs, args.in_flight, None, 0, base)}
            with LocalRedis(base / "redis") as redis:
                for n in WORKER_COUNTS:
                    columns[f"celery x{n}"] = trivial(args.runs, args.in_flight, redis.url, n, base)
                    redis.client().flushall()
                # The pool: each worker's runs watched by threads (the default) or by prefork processes.
                columns["x2 prefork"] = trivial(args.runs, args.in_flight, redis.url, 2, base, pool_kind="prefork")
            print(f"  {'':<24}" + "".join(f"{name:>16}" for name in columns))
            rows = [
                ("succeeded", "ok", "{:.0f}"),
                ("throughput (runs/s)", "throughput", "{:.1f}"),
                ("dispatch median (ms)", "median_ms", "{:.1f}"),
                ("dispatch p99 (ms)", "p99_ms", "{:.1f}"),
            ]
            for label, key, fmt in rows:
                print(f"  {label:<24}" + "".join(f"{fmt.format(c[key]):>16}" for c in columns.values()))
        if "review" not in args.skip:
            print(f"\nweekly ops review end to end (hand-over to delivered), median of {args.repeat}:", flush=True)
            times = review(args.repeat, base)
            local, celery = statistics.median(times["local"]), statistics.median(times["celery"])
            print(f"  local executor   {local:6.2f} s   ({', '.join(f'{t:.2f}' for t in times['local'])})")
            print(f"  celery worker    {celery:6.2f} s   ({', '.join(f'{t:.2f}' for t in times['celery'])})")
            verdict = "under" if celery - local < 2 else "OVER"
            print(f"  overhead         {celery - local:+6.2f} s   ({verdict} the 2 s target)")
    finally:
        os.dup2(saved, 2)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
