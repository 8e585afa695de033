"""Benchmark the browser layer: a 100,000-case export end to end against its requests floor, saved
sign-in vs a fresh one, scraping the paginated case table, and pull_api.

.venv/bin/python bench/bench_browser.py                  # generates bench/out/browser_100k.db once
.venv/bin/python bench/bench_browser.py --repeat 3

Each measurement runs in a child process; the parent samples the RSS of the child's whole process tree
(driver and Chromium included) every 50 ms and reports the peak next to the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
USER, PASSWORD, TOKEN = "analyst", "moderate-all-the-things", "demo-api-token-7f3a"


# --- children -------------------------------------------------------------------------------------
def _ctx(url: str, work: Path, run: str):
    from zoneinfo import ZoneInfo

    from opskit.config.model import SourceConfig
    from opskit.context import RunContext

    os.environ.update(BENCH_USER=USER, BENCH_PASSWORD=PASSWORD, BENCH_TOKEN=TOKEN)
    folder = work / "var" / "runs" / run
    folder.mkdir(parents=True, exist_ok=True)
    src = SourceConfig(
        url=url,
        username_env="BENCH_USER",
        password_env="BENCH_PASSWORD",
        token_env="BENCH_TOKEN",
        browser={"download_timeout": "10m"},
    )
    return RunContext(
        run_id=run,
        job=None,
        task="bench",
        params={},
        tz=ZoneInfo("UTC"),
        scheduled_for=datetime(2026, 11, 16, tzinfo=UTC),
        folder=folder,
        data_dir=work / "data",
        sources={"console": src},
        state_dir=work / "var" / "state",
    )


def child_export(url: str, work: Path, run: str, start: str, end: str) -> dict:
    from opskit.period import Period
    from tasks.export_cases import export_cases

    result = export_cases(_ctx(url, work, run), period=Period(date.fromisoformat(start), date.fromisoformat(end)))
    return {"rows": result.rows, "bytes": result.files[0].stat().st_size}


def child_floor(url: str, work: Path, run: str, start: str, end: str) -> dict:
    """The same export with plain requests and the browser's saved session cookie."""
    import requests

    state = json.loads((work / "var" / "browser" / "console.json").read_text())
    http = requests.Session()
    for c in state["cookies"]:
        http.cookies.set(c["name"], c["value"], domain=c["domain"], path=c["path"])
    page = http.get(f"{url}/cases", params={"date_from": start, "date_to": end})
    token = CSRF.search(page.text).group(1)
    resp = http.post(
        f"{url}/export", data={"csrf_token": token, "date_from": start, "date_to": end, "format": "csv"}, stream=True
    )
    while "/exports/" in resp.url and 'data-status="running"' in resp.text:
        time.sleep(0.25)  # the floor polls 4x a second; the console's page refreshes once a second
        resp = http.get(resp.url)
    if "/exports/" in resp.url:
        link = re.search(r'href="(/exports/\w+/download)"', resp.text).group(1)
        resp = http.get(url + link, stream=True)
    out = work / f"floor_{run}.csv"
    size = 0
    with open(out, "wb") as fh:
        for chunk in resp.iter_content(1 << 20):
            fh.write(chunk)
            size += len(chunk)
    return {"bytes": size}


def child_scrape(url: str, work: Path, run: str, pages: str) -> dict:
    from opskit.browser.session import browser_session

    ctx = _ctx(url, work, run)
    out = {}
    with browser_session(ctx, "console") as s:
        for n in (int(p) for p in pages.split(",")):
            s.goto("/cases?per_page=50")
            started = time.perf_counter()
            rows = 0
            for i in range(n):
                rows += len(s.table("case_table")[1])
                if i < n - 1:
                    s.click("page_next")
            out[str(n)] = {"seconds": time.perf_counter() - started, "rows": rows}
    return out


def child_pull(url: str, work: Path, run: str, start: str, end: str, page_size: str) -> dict:
    from opskit.period import Period
    from tasks.pull_api import pull_api

    started = time.perf_counter()
    result = pull_api(
        _ctx(url, work, run),
        period=Period(date.fromisoformat(start), date.fromisoformat(end)),
        page_size=int(page_size),
    )
    return {"rows": result.rows, "seconds": time.perf_counter() - started}


# --- parent ---------------------------------------------------------------------------------------
def measure(*args: str) -> dict:
    """Run a child; wall time, peak summed RSS of its process tree, and what it printed."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)
    wall = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"child {args[0]} failed ({proc.returncode})")
    return {"wall": wall, "peak_mb": peak / 2**20, **json.loads(out.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args(argv)
    if args.child:
        kind, url, work, run, *rest = args.child
        fn = globals()[f"child_{kind}"]
        print(json.dumps(fn(url, Path(work), run, *rest)))
        return 0

    from demo.generate import generate

    # demo.server serves <data-dir>/console.db
    db = ROOT / "bench" / "out" / f"browser_{args.scale // 1000}k" / "console.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {args.scale:,} cases into {db} ...", flush=True)
        generate(db, seed=7, days=28, start="2026-10-19", scale=args.scale)
    env = dict(os.environ, CONSOLE_RATE_LIMIT="0")
    for name in ("CONSOLE_ALT_LAYOUT", "CONSOLE_ERROR_RATE", "CONSOLE_LATENCY_MS", "CONSOLE_OTP"):
        env.pop(name, None)
    server = subprocess.Popen(
        [sys.executable, "-m", "demo.server", "--data-dir", str(db.parent), "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return _run(server, db, args)


def _run(server: subprocess.Popen, db: Path, args: argparse.Namespace) -> int:
    import sqlite3

    try:
        line = server.stdout.readline() if server.stdout else ""
        url = re.search(r"(http://[\d.]+:\d+)", line).group(1)
        conn = sqlite3.connect(db)
        start, end = conn.execute(
            "SELECT min(substr(created_at,1,10)), max(substr(created_at,1,10)) FROM cases"
        ).fetchone()
        total = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        conn.close()
        print(f"console {url}, {total:,} cases {start}..{end}; median of {args.repeat}\n")
        with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
            work = Path(tmp)
            rows = []
            for i in range(args.repeat):
                state = work / "var" / "browser" / "console.json"
                state.unlink(missing_ok=True)
                fresh = measure("export", url, str(work), f"fresh{i}", start, end)
                saved = measure("export", url, str(work), f"saved{i}", start, end)
                floor = measure("floor", url, str(work), f"floor{i}", start, end)
                rows.append((fresh, saved, floor))
            med = {
                k: {f: statistics.median(r[j][f] for r in rows) for f in ("wall", "peak_mb")}
                for j, k in enumerate(("fresh sign-in", "saved sign-in", "requests floor"))
            }
            n = rows[0][0]["rows"]
            print(f"export of {n:,} cases, start -> file on disk ({rows[0][0]['bytes'] / 2**20:.0f} MiB)")
            for k, v in med.items():
                print(f"  {k:<16} {v['wall']:6.2f} s   peak RSS of tree {v['peak_mb']:7.0f} MiB")
            ratio = med["saved sign-in"]["wall"] / med["requests floor"]["wall"]
            print(
                f"  browser (saved sign-in) / floor: {ratio:.2f}x;  fresh - saved sign-in: "
                f"{med['fresh sign-in']['wall'] - med['saved sign-in']['wall']:+.2f} s\n"
            )
            scrape = measure("scrape", url, str(work), "scrape", "10,50,100")
            print("scraping the case table (50 rows a page)")
            for pages, v in scrape.items():
                if pages.isdigit():
                    print(f"  {pages:>4} pages  {v['seconds']:6.2f} s  {int(pages) / v['seconds']:6.1f} pages/s")
            print()
            print("pull_api, same period")
            for size in ("1000", "5000"):
                pull = measure("pull", url, str(work), f"pull{size}", start, end, size)
                print(
                    f"  page_size {size:>5}  {pull['rows']:,} rows in {pull['seconds']:.2f} s: "
                    f"{pull['rows'] / pull['seconds']:,.0f} rows/s  (process {pull['wall']:.2f} s, "
                    f"peak {pull['peak_mb']:.0f} MiB)"
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
