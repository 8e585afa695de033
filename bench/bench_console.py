"""Benchmark the console on a large data set: dashboard, search, ~100,000-row exports, API paging.

.venv/bin/python bench/bench_console.py                 # 1M cases, generated once into bench/out/
.venv/bin/python bench/bench_console.py --scale 200000
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.generate import generate  # noqa: E402
from demo.server import ConsoleServer  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"{label:<48} {time.perf_counter() - started:7.2f}s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args(argv)
    db = args.db or ROOT / "bench" / "out" / f"console_{args.scale}.db"
    if not db.exists():
        _timed(f"generate {args.scale:,} cases", lambda: generate(db, scale=args.scale))
    conn = sqlite3.connect(db)
    # the export range: the last days of the data, as many as make about 100,000 cases
    per_day = conn.execute(
        "SELECT substr(created_at, 1, 10), count(*) FROM cases GROUP BY 1 ORDER BY 1 DESC"
    ).fetchall()
    conn.close()
    n_week, first = 0, per_day[0][0]
    for day, n in per_day:
        if n_week >= 100_000:
            break
        n_week, first = n_week + n, day
    week = {"date_from": first, "date_to": per_day[0][0]}
    print(f"export range {first}..{per_day[0][0]}: {n_week:,} cases")
    with ConsoleServer(db, use_env=False, api_rate_per_second=0, export_sync_limit=n_week + 1) as server:
        http = requests.Session()
        token = CSRF.search(http.get(server.url + "/login").text).group(1)
        _timed(
            "sign in + dashboard (cold)",
            lambda: http.post(
                server.url + "/login",
                data={
                    "csrf_token": token,
                    "username": server.username,
                    "password": server.password,
                },
            ),
        )
        _timed("dashboard (cached)", lambda: http.get(server.url + "/queues"))
        page = _timed(
            "case search, export range, page 1 + total",
            lambda: http.get(server.url + "/cases", params=week),
        )
        _timed(
            "case search, vendor filter",
            lambda: http.get(server.url + "/cases", params={**week, "vendor": "Lumen BPO"}),
        )
        token = CSRF.search(page.text).group(1)
        csv_resp = _timed(
            f"CSV export, {n_week:,} rows (streamed)",
            lambda: http.post(server.url + "/export", data={"csrf_token": token, "format": "csv", **week}),
        )
        print(f"  {len(csv_resp.content) / 2**20:.1f} MiB")
        xlsx_resp = _timed(
            f"XLSX export, {n_week:,} rows",
            lambda: http.post(server.url + "/export", data={"csrf_token": token, "format": "xlsx", **week}),
        )
        print(f"  {len(xlsx_resp.content) / 2**20:.1f} MiB")
        headers = {"Authorization": f"Bearer {server.api_token}"}

        def page_api():
            cursor, rows = None, 0
            while rows < 50_000:
                params = {**week, "limit": 5000, **({"cursor": cursor} if cursor else {})}
                body = requests.get(server.url + "/api/v1/cases", params=params, headers=headers).json()
                rows += len(body["data"])
                cursor = body["next_cursor"]
                if not cursor:
                    break
            return rows

        rows = _timed("API: 50,000 cases in pages of 5,000", page_api)
        print(f"  {rows:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
