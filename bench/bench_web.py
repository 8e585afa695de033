"""The web app under load: page and API latency over a long history, viewers beside the scheduler, and the
time from "Run now" to the task's first log line.

1. history: 500 jobs in 10 groups and 200,000 runs; the jobs page and GET /api/v1/jobs as an admin (all 500
   jobs) and as a group member (50), the job page and the runs page: p50 / p95 / max over --requests each.
2. viewers: the scheduler (in this process, an executor whose runs end at once, 250 jobs due every minute)
   for --minutes alone, then --minutes with 20 viewers (another process, 20 threads) refreshing the jobs
   page every 5 s: dispatch lateness median / p99 in both halves, and the viewers' page p50 / p95.
3. run now: `runner.py schedule` and `runner.py web` as real processes; POST /api/v1/jobs/probe/runs with a
   free place, --trials times, one after another: from the request to the task's first line, median / max.

The web server is `runner.py web` (waitress, 16 threads) in its own process in every part, as deployed.

    .venv/bin/python bench/bench_web.py [--minutes 2] [--requests 60] [--trials 15] [--skip viewers]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from opskit.engine.history import RunStore  # noqa: E402
from opskit.web.security import digest, hash_password, new_token  # noqa: E402

PASSWORD = "bench-password-1234"
JOBS, GROUPS, RUNS = 500, 10, 200_000
SCHEDULES = ["30 8 * * MON-FRI", "every 15 minutes", "0 9 * * MON", "business day 1 of the month at 09:00", "@hourly"]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def figures(ms: list[float]) -> str:
    return f"p50 {statistics.median(ms):.0f} ms, p95 {pct(ms, 0.95):.0f} ms, max {max(ms):.0f} ms"


def write_project(folder: Path, *, every_minute: int = 0, probe: Path | None = None, scheduled: bool = True) -> Path:
    """500 jobs (the first ``every_minute`` of them due every minute), users ada (admin) and gus (group g0)."""
    lines = [
        "timezone: Europe/Berlin",
        f"paths:\n  tasks: {REPO / 'bench' / 'tasks'}",
        "scheduler:\n  max_concurrent_runs: 1000",
        "jobs:",
    ]
    for i in range(JOBS):
        schedule = "* * * * *" if i < every_minute else SCHEDULES[i % len(SCHEDULES)]
        lines.append(
            f"  job-{i:04d}:\n    description: Benchmark job {i}\n    group: g{i % GROUPS}\n    task: noop\n"
            + (f'    schedule: "{schedule}"\n' if scheduled else "")
            + "    overlap: queue"
        )
        if i % 7 == 0:
            lines.append("    calendar: {market: DE}")
    if probe is not None:
        lines.append(f"  probe:\n    group: g0\n    task: noop\n    params: {{marker_dir: {probe}}}")
    config = folder / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def seed_history(folder: Path) -> dict[str, str]:
    """200,000 finished runs over 500 jobs, and the users; returns their API tokens."""
    path = folder / "var" / "history.sqlite"
    tokens = {}
    with RunStore(path) as store:
        hashed = hash_password(PASSWORD)
        for name, role, groups in (("ada", "admin", ()), ("gus", "viewer", ("g0",))):
            store.add_user(name, role=role, groups=groups, password_hash=hashed)
            tokens[name] = new_token()
            store.add_token(name, digest(tokens[name]))
    rnd = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=400)
    rows = []
    for n in range(RUNS):
        job = f"job-{n % JOBS:04d}"
        at = start + timedelta(minutes=n * 2.8)
        status = "failed" if rnd.random() < 0.05 else "succeeded"
        ts = at.isoformat(timespec="milliseconds")
        end = (at + timedelta(seconds=rnd.uniform(2, 60))).isoformat(timespec="milliseconds")
        result = json.dumps({"rows": rnd.randint(100, 5000), "files": [], "summary": {}})
        rows.append(
            (
                f"{at:%Y%m%dT%H%M%SZ}-{job}-{n:06x}",
                job,
                "noop",
                "{}",
                "manual",  # not "schedule": the scheduler starts these jobs from now, no catch-up of a made-up past
                1,
                status,
                ts,
                ts,
                ts,
                end,
                12.5,
                "a source did not answer" if status == "failed" else None,
                result,
                "[]",
                str(folder / "runs" / job),
            )
        )
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO runs (id, job, task, params, trigger, attempt, status, scheduled_for, queued_at, started_at,"
            " finished_at, duration_s, error, result, artifacts, folder) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    db.execute("ANALYZE")
    db.close()
    return tokens


class WebProcess:
    """`runner.py web` on a free port, as deployed."""

    def __init__(self, config: Path):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "runner.py"), "--config", str(config), "web", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("runner.py web did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def sign_in(url: str, user: str) -> requests.Session:
    import re

    http = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(url + "/login").text).group(1)  # type: ignore[union-attr]
    resp = http.post(url + "/login", data={"csrf_token": token, "username": user, "password": PASSWORD})
    assert resp.url.endswith("/jobs"), resp.url
    return http


def timed(http: requests.Session, url: str, n: int, before: Any = None) -> list[float]:
    http.get(url)  # warm: the config, the tasks and the timetables are loaded on first use
    out = []
    for i in range(n):
        if before is not None:
            before(i)
        t0 = time.perf_counter()
        resp = http.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, (url, resp.status_code)
    return out


def bench_history(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_project(folder)
        t0 = time.monotonic()
        tokens = seed_history(folder)
        print(f"history: {JOBS} jobs, {RUNS:,} runs seeded in {time.monotonic() - t0:.1f}s")
        web = WebProcess(config)
        try:
            ada, gus = sign_in(web.url, "ada"), sign_in(web.url, "gus")
            api_ada = requests.Session()
            api_ada.headers["Authorization"] = f"Bearer {tokens['ada']}"
            size = len(ada.get(web.url + "/jobs").content)
            store = RunStore(folder / "var" / "history.sqlite")

            def commit(i: int) -> None:  # as the scheduler does: a commit, so no view is served from the cache
                store.set_job_data("job-0000", bench=i)

            cases = [
                ("jobs page, admin (500 jobs), history changed before each view", ada, "/jobs", commit),
                ("jobs page, admin (500 jobs), history unchanged (shared rendering)", ada, "/jobs", None),
                ("GET /api/v1/jobs, admin (500 jobs)", api_ada, "/api/v1/jobs", None),
                ("jobs page, group member (50 jobs), history changed before each view", gus, "/jobs", commit),
                ("job page (400 runs of its own)", ada, "/jobs/job-0042", None),
                ("runs page (all jobs, newest 50)", ada, "/runs", None),
            ]
            for label, http, path, before in cases:
                print(f"  {label}: {figures(timed(http, web.url + path, n, before))}")
            store.close()
            print(f"  (the admin's jobs page is {size / 1024:.0f} KiB of HTML)")
        finally:
            web.stop()


def viewers_child(url: str, seconds: float, count: int) -> None:
    """In its own process: ``count`` viewers, each refreshing the jobs page every 5 s; prints latencies."""
    sessions = [sign_in(url, "ada") for _ in range(count)]
    print("ready", flush=True)  # the parent measures from here: viewers refreshing, not a burst of sign-ins
    out: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def viewer(http: requests.Session, offset: float) -> None:
        time.sleep(offset)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            http.get(url + "/jobs")
            with lock:
                out.append((time.perf_counter() - t0) * 1000)
            time.sleep(max(0.0, 5.0 - (time.perf_counter() - t0)))

    threads = [threading.Thread(target=viewer, args=(s, i * 5.0 / count)) for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(out))


def bench_viewers(minutes: float) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    from bench_scheduler import _Instant, run_for  # the same instant executor as the dispatch bench

    from opskit.engine.daemon import Scheduler

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_project(folder, every_minute=250)
        seed_history(folder)
        web = WebProcess(config)
        try:
            halves = {}
            for half in ("alone", "with 20 viewers"):
                lateness: list[float] = []
                slots: dict[datetime, list[float]] = {}

                child = None
                if half != "alone":
                    child = subprocess.Popen(
                        [sys.executable, __file__, "--viewers-child", web.url, str(122 + minutes * 60), "20"],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
                began = time.time()

                def on_dispatch(record, now, lateness=lateness, began=began, slots=slots) -> None:
                    # Only slots of this half: the first tick also runs the slots missed between the halves.
                    if record.trigger == "schedule" and record.scheduled_for.timestamp() >= began:
                        lateness.append((time.time() - record.scheduled_for.timestamp()) * 1000)
                        slots.setdefault(record.scheduled_for, []).append(lateness[-1])

                scheduler = Scheduler(config, executor=_Instant(), on_dispatch=on_dispatch)
                wait = 60 - datetime.now(UTC).second + 1
                if wait < 20:  # the scheduler's start-up (it requeues the first half's runs) must not meet a slot
                    wait += 60
                run_for(scheduler, wait + 60 * minutes - 2)
                pages = json.loads(child.communicate(timeout=120)[0]) if child else []
                halves[half] = (lateness, pages, slots)
            for half, (lateness, pages, slots) in halves.items():
                per_slot = " / ".join(f"{statistics.median(v):.0f}" for _, v in sorted(slots.items()))
                line = (
                    f"  scheduler {half}: {len(lateness)} dispatches, lateness median {statistics.median(lateness):.0f}"
                    f" ms (per slot {per_slot}), p99 {pct(lateness, 0.99):.0f} ms"
                )
                if pages:
                    line += f"; viewers: {len(pages)} page loads, {figures(pages)}"
                print(line)
        finally:
            web.stop()


def bench_run_now(trials: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        markers = folder / "markers"
        markers.mkdir()
        config = write_project(folder, probe=markers, scheduled=False)  # a free place: nothing else runs
        tokens = seed_history(folder)
        scheduler = subprocess.Popen(
            [sys.executable, str(REPO / "runner.py"), "--config", str(config), "schedule"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        web = WebProcess(config)
        try:
            with RunStore(folder / "var" / "history.sqlite") as store:
                while (store.scheduler_info() or {}).get("pid") != scheduler.pid:
                    time.sleep(0.1)
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {tokens['ada']}"
            times, picked = [], []
            for _ in range(trials + 1):  # the first warms the zygote; not counted
                time.sleep(random.uniform(0.5, 1.5))  # clicks land anywhere in the scheduler's loop
                t0 = time.time()
                resp = http.post(web.url + "/api/v1/jobs/probe/runs", json={})
                assert resp.status_code == 202, (resp.status_code, resp.text)
                status_url = web.url + resp.headers["Location"]
                while not (request := http.get(status_url).json())["run_id"]:
                    time.sleep(0.01)
                taken = datetime.fromisoformat(request["handled_at"]).timestamp()
                marker = markers / request["run_id"]
                while not marker.exists() or not marker.read_text():
                    time.sleep(0.005)
                first_line = float(marker.read_text().split()[1])
                times.append((first_line - t0) * 1000)
                picked.append((taken - t0) * 1000)
                run_url = web.url + f"/api/v1/runs/{request['run_id']}"
                while not http.get(run_url).json()["final"]:
                    time.sleep(0.05)
            times, picked = times[1:], picked[1:]
            median, took = statistics.median(times), statistics.median(picked)
            print(
                f"  run now -> first log line, {len(times)} runs with a free place: median {median:.0f} ms,"
                f" max {max(times):.0f} ms (the scheduler took the request after a median {took:.0f} ms)"
            )
        finally:
            web.stop()
            scheduler.terminate()
            scheduler.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0, help="each half of the viewers bench")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--skip", nargs="*", default=[], choices=["history", "viewers", "run-now"])
    parser.add_argument("--viewers-child", nargs=3, metavar=("URL", "SECONDS", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewers_child:
        url, seconds, count = args.viewers_child
        viewers_child(url, float(seconds), int(count))
        return
    if "history" not in args.skip:
        bench_history(args.requests)
    if "run-now" not in args.skip:
        print("run now:")
        bench_run_now(args.trials)
    if "viewers" not in args.skip:
        print(f"viewers ({args.minutes:g} min alone, then {args.minutes:g} min with 20 viewers):")
        bench_viewers(args.minutes)


if __name__ == "__main__":
    main()
