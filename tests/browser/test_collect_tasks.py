"""pull_api, sla_watch and scrape_queue_dashboard against the real console; export_cases end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import psutil
import pytest

from demo.fixtures import write_cases_csv
from opskit.errors import ConfigError, SourceUnavailable
from opskit.sources import api as api_client
from tasks.pull_api import pull_api
from tasks.scrape_queue_dashboard import FIELDS, scrape_queue_dashboard
from tasks.sla_watch import sla_watch
from tests.browser.conftest import (
    ALT_LAYOUT,
    PASSWORD_ENV,
    TOKEN_ENV,
    USER_ENV,
    WEEK,
    browser_processes,
    wait_for,
)
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # a console with generated data per module (seconds to set up)


class FakeSleep:
    """Stands in for time.sleep in the API client and moves the console's clock instead."""

    def __init__(self, clock=None):
        self.clock, self.waits = clock, []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.now += seconds


def test_pull_api_writes_exactly_the_export(console, make_ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(api_client, "_sleep", FakeSleep())
    ctx = make_ctx(console)
    result = pull_api(ctx, period=WEEK, page_size=100)
    expected = tmp_path / "expected.csv"
    rows = write_cases_csv(console.db_path, expected, start=WEEK.start, end=WEEK.end)
    [path] = result.files
    assert path.read_bytes() == expected.read_bytes()
    assert result.rows == rows and result.summary["pages"] == -(-rows // 100)


def test_pull_api_honours_retry_after_and_retries_server_errors(make_console, make_ctx, monkeypatch):
    clock = FakeClock()
    console = make_console(clock=clock, api_rate_per_second=1, api_burst=2, error_rate=0.3, error_seed=5)
    sleep = FakeSleep(clock)
    monkeypatch.setattr(api_client, "_sleep", sleep)
    result = pull_api(make_ctx(console), period=WEEK, page_size=50)
    statuses = [s for _, p, s in console.requests.log if p == "/api/v1/cases"]
    assert 429 in statuses and 500 in statuses
    # every 429 was followed by a wait of exactly its Retry-After (1 s at one request a second)
    assert sleep.waits.count(1.0) >= statuses.count(429)
    assert result.summary["pages"] == statuses.count(200) == -(-result.rows // 50)
    assert result.rows == write_cases_csv(
        console.db_path, make_ctx(console).folder / "x.csv", start=WEEK.start, end=WEEK.end
    )


def test_pull_api_never_leaves_a_partial_file(make_console, make_ctx, monkeypatch):
    console = make_console(error_rate=1.0)
    monkeypatch.setattr(api_client, "_sleep", FakeSleep())
    ctx = make_ctx(console)
    with pytest.raises(
        SourceUnavailable,
        match=r"^HTTP 500 from http://127\.0\.0\.1:\d+/api/v1/cases, "
        r"after 6 attempts$",
    ):
        pull_api(ctx, period=WEEK)
    assert list(ctx.folder.iterdir()) == []


def test_pull_api_wrong_token_is_a_config_error(console, make_ctx, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    with pytest.raises(ConfigError, match=r"refused the API token \(HTTP 401\)\. Check the source's"):
        pull_api(make_ctx(console), period=WEEK)


def test_sla_watch_alerts_only_on_changes(console, make_ctx):
    queues = json.loads(
        __import__("requests")
        .get(console.url + "/api/v1/queues", headers={"Authorization": f"Bearer {console.api_token}"})
        .text
    )
    busiest = max(queues["data"], key=lambda r: r["backlog"])
    first = sla_watch(
        make_ctx(console),
        max_backlog=10**6,
        max_oldest_hours=10**6,
        thresholds=(f"{busiest['queue_id']}:backlog={busiest['backlog'] - 1}",),
    )
    assert first.summary["breaches"] == [busiest["queue_id"]]
    [alert] = first.summary["alerts"]
    assert alert["from"] == "ok" and alert["to"] == "breach" and alert["queue"] == busiest["queue_id"]
    assert alert["reasons"] == [f"backlog {busiest['backlog']} > {busiest['backlog'] - 1}"]
    # As a status report: one change is one row to deliver; the breach is a check in breach, worst first.
    assert first.rows == 1 and first.summary["kind"] == "status"
    assert first.summary["kpis"][0] == {
        "label": "In breach now",
        "value": 1,
        "kind": "num",
        "change": None,
        "direction": "lower_is_better",
        "previous": 0,
        "change_kind": "num",
    }
    breached = [c for c in first.summary["checks"] if c["state"] == "breach"]
    assert breached == [
        {
            "where": busiest["name"],
            "metric": "Backlog (cases)",
            "value": busiest["backlog"],
            "limit": busiest["backlog"] - 1,
            "kind": "num",
            "direction": "lower_is_better",
            "state": "breach",
        }
    ]
    assert len(first.summary["checks"]) == 2 * len(queues["data"])  # backlog and oldest case, every queue
    assert first.summary["changes"][0]["from"] == "ok" and first.summary["changes"][0]["to"] == "breach"
    again = sla_watch(
        make_ctx(console),
        max_backlog=10**6,
        max_oldest_hours=10**6,
        thresholds=(f"{busiest['queue_id']}:backlog={busiest['backlog'] - 1}",),
    )
    assert again.summary["breaches"] == [busiest["queue_id"]] and again.summary["alerts"] == []
    assert again.rows == 0  # nothing changed: with gates empty: skip, no mail
    cleared = sla_watch(make_ctx(console), max_backlog=10**6, max_oldest_hours=10**6)
    assert [(a["queue"], a["from"], a["to"]) for a in cleared.summary["alerts"]] == [
        (busiest["queue_id"], "breach", "ok")
    ]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("q1", "threshold 'q1' is not QUEUE:backlog=N or QUEUE:oldest=HOURS"),
        ("q1:size=3", "threshold 'q1:size=3': 'size' is not backlog or oldest"),
        ("q1:oldest=soon", "threshold 'q1:oldest=soon': 'soon' is not a number"),
    ],
)
def test_sla_watch_bad_thresholds_are_named(console, make_ctx, item, message):
    from opskit.errors import UsageError

    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(")):
        sla_watch(make_ctx(console), thresholds=(item,))


@pytest.mark.browser
def test_scrape_queue_dashboard_appends_snapshots_as_text(console, make_ctx):
    from datetime import datetime

    from openpyxl import load_workbook

    from opskit.reports import human_headers

    ctx = make_ctx(console)
    first = scrape_queue_dashboard(ctx)
    second = scrape_queue_dashboard(make_ctx(console))
    path = ctx.data_dir / "queue_history.xlsx"
    ws = load_workbook(path)["history"]
    rows = list(ws.iter_rows(values_only=True))
    # headers in words, the snapshot time a real date-time in the job's timezone (UTC here)
    assert list(rows[0]) == list(human_headers(FIELDS, ctx.tz).values())
    assert rows[0][0] == "Snapshot at (UTC)" and rows[0][1] == "Queue ID"
    assert first.rows == 30 and len(rows) == 1 + 30
    assert rows[1][0] == datetime(2026, 11, 16) and ws["A2"].number_format == "yyyy-mm-dd hh:mm"
    assert isinstance(rows[1][7], int)
    # the dashboard did not change between the two runs: nothing is added twice
    assert second.rows == 0 and second.summary["added"] == 0
    assert ws.freeze_panes == "A2" and ws["A1"].font.b and ws["A1"].font.name == "Calibri"
    with zipfile.ZipFile(path) as z:
        assert b"<f>" not in z.read("xl/worksheets/sheet1.xml")
    assert browser_processes() == []


def _write_project_config(tmp_project, console, selectors: dict[str, str] | None = None) -> None:
    lines = "".join(f'                {k}: "{v}"\n' for k, v in (selectors or {}).items())
    tmp_project.write_config(
        f"""\
        timezone: Europe/Berlin
        defaults:
          timeout: 2m
        sources:
          console:
            url: {console.url}
            username_env: {USER_ENV}
            password_env: {PASSWORD_ENV}
            token_env: {TOKEN_ENV}
            browser:
              action_timeout: 10s  # only a failing step waits this long
              selectors:
{lines or "        {}"}
        """.replace("selectors:\n        {}", "selectors: {}")
    )


@pytest.mark.browser
def test_export_cases_end_to_end_through_the_runner(run_cli, tmp_project, console, credentials):
    _write_project_config(tmp_project, console)
    result = run_cli("run", "export_cases", "--param", "period=2026-W46", "--param", "publish=true", "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "succeeded", record["error"]
    published = tmp_project.root / "data" / "cases" / "2026-W46.csv"
    out = Path(record["result"]["files"][0])
    assert out.name == "cases_2026-11-09_2026-11-15_20261116T0000.csv"
    assert published.read_bytes() == (out if out.is_absolute() else tmp_project.root / out).read_bytes()
    assert record["result"]["summary"]["rows"] == record["result"]["rows"] > 500


@pytest.mark.browser
def test_alternative_layout_is_fixed_by_config_selectors(run_cli, tmp_project, make_console, credentials):
    console = make_console(alt_layout=True)
    _write_project_config(tmp_project, console)
    out = run_cli("run", "export_cases", "--param", "period=2026-W46", "--json")
    assert out.stdout, (out.exit_code, out.stderr[-3000:])
    failed = json.loads(out.stdout)
    assert failed["status"] == "failed"
    # the renamed sign-in form is found without selectors; the first renamed filter is named, with the
    # element the page has instead as a selector ready to paste
    assert "no element matches '#filter-date-from' at http://127.0.0.1:" in failed["error"]
    assert 'Closest on the page: testid=flt-from (input "From")' in failed["error"]
    _write_project_config(tmp_project, console, ALT_LAYOUT)
    fixed = json.loads(run_cli("run", "export_cases", "--param", "period=2026-W46", "--json").stdout)
    assert fixed["status"] == "succeeded", fixed["error"]
    assert fixed["result"]["rows"] > 500


@pytest.mark.browser
def test_sigterm_to_the_worker_closes_the_browser(tmp_project, console, credentials):
    _write_project_config(tmp_project, console)
    tmp_project.add_task(
        "hang_in_browser",
        '''
        from opskit import task

        @task
        def hang_in_browser(ctx):
            """Open the console and wait for an element that never comes."""
            with ctx.browser("console") as s:
                s.goto("/queues")
                print("READY", flush=True)
                s.page.wait_for_selector("#never-there", timeout=0)
        ''',
    )
    runner = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "runner.py"),
            "--config",
            str(tmp_project.config),
            "run",
            "hang_in_browser",
        ],
        cwd=tmp_project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        parent = psutil.Process(runner.pid)
        worker = wait_for(
            lambda: next((p for p in parent.children() if "opskit.engine.worker" in " ".join(p.cmdline())), None),
            what="the worker",
        )
        browsers = wait_for(
            lambda: (
                [p for p in worker.children(recursive=True) if "chrom" in p.name().lower()]
                if any("chrom" in p.name().lower() for p in worker.children(recursive=True))
                and (tmp_project.root / "var" / "browser" / "console.json").exists()
                else None
            ),
            what="a signed-in browser",
        )
        os.kill(worker.pid, signal.SIGTERM)  # the worker only, not its tree: the session must close
        worker.wait(timeout=20)
        assert not [p for p in browsers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        runner.kill() if runner.poll() is None else None
        _, err = runner.communicate(timeout=20)
    assert "terminated (SIGTERM)" in err


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now
