"""Screenshots of the web app's pages for the README and docs/web.md.

    .venv/bin/python scripts/screenshots_web.py        # after `make demo`

It never touches your history: it copies the demo's history (SQLite's online backup) into a temporary
folder, adds four weeks of made-up runs of the other sample jobs so the pages have something to show,
serves the web app on that copy (the demo run's folder and email stay where `make demo` put them), signs
in with a throwaway admin, and saves one PNG per page at 1280 px, and the jobs page on a phone.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "docs" / "img"
PASSWORD = "screenshots-only-password"


def copy_project(folder: Path) -> Path:
    """config.yaml with var/ in ``folder``: run folders and the outbox stay the repository's."""
    history = REPO / "var" / "history.sqlite"
    if not history.exists():
        sys.exit("error: no var/history.sqlite: run `make demo` first")
    (folder / "var").mkdir()
    source, target = sqlite3.connect(history), sqlite3.connect(folder / "var" / "history.sqlite")
    source.backup(target)
    source.close()
    target.close()
    text = (REPO / "config.yaml").read_text()
    for old, new in (
        ("  var: var ", f"  var: {folder / 'var'}\n  runs: {REPO / 'var' / 'runs'}\n  tasks: {REPO / 'tasks'}\n  #"),
        ("  data: data ", f"  data: {REPO / 'data'}  #"),
        ("  outbox_dir: outbox", f"  outbox_dir: {REPO / 'outbox'}"),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    config = folder / "config.yaml"
    config.write_text(text)
    return config


def add_history(config_path: Path) -> None:
    """Four weeks of runs of every other job: mostly good, a few failures, one running now."""
    from opskit.config.model import load_config
    from opskit.engine.history import RunStatus, RunStore
    from opskit.engine.scheduling import job_timetable
    from opskit.web.security import hash_password

    rnd = random.Random(7)
    config = load_config(config_path, environ={"CONSOLE_USER": "x", "CONSOLE_PASSWORD": "x", "CONSOLE_API_TOKEN": "x"})
    now = datetime.now(UTC)
    with RunStore(config.history_path) as store:
        for name in config.jobs:
            if name == "weekly-ops-review":
                continue
            timetable = job_timetable(config, name)
            slots = list(timetable.fires_between(now - timedelta(days=28), now))[-40:] if timetable else []
            for slot in slots:
                record = store.create(
                    job=name,
                    task=config.jobs[name].task_label,
                    params={},
                    trigger="schedule",
                    scheduled_for=slot,
                    folder_root=config.runs_dir,
                    now=slot,
                )
                started = slot + timedelta(seconds=rnd.uniform(0.01, 0.2))
                store.mark_running(record.id, pid=1, now=started)
                failed = rnd.random() < 0.06
                took = timedelta(seconds=rnd.uniform(4, 40))
                store.finish(
                    record.id,
                    RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
                    now=started + took,
                    error="source 'console' did not answer: 503 Service Unavailable" if failed else None,
                    result=None if failed else {"rows": rnd.randint(900, 1400), "files": [], "summary": {}},
                )
        store.set_paused("capacity-plan", True)
        store.add_user("lead", role="admin", groups=(), password_hash=hash_password(PASSWORD))


def main() -> int:
    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options
    from opskit.web.server import WebServer

    with tempfile.TemporaryDirectory() as tmp:
        config = copy_project(Path(tmp))
        add_history(config)
        with WebServer(config) as web, sync_playwright() as pw:
            browser = pw.chromium.launch(**launch_options(pw))
            page = browser.new_page(viewport={"width": 1280, "height": 860}, base_url=web.url)
            page.goto("/login")
            page.fill("input[name=username]", "lead")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/jobs")
            shots = {
                "web-jobs.png": "/jobs",
                "web-job.png": "/jobs/daily-efficiency",
                "web-health.png": "/health",
                "web-outbox.png": "/outbox",
            }
            for name, path in shots.items():
                page.goto(path)
                page.screenshot(path=str(OUT / name), full_page=name != "web-job.png")
            page.goto("/jobs/daily-efficiency/run")
            page.select_option("select[name='p.efficiency.period']", "__range__")
            page.fill("input[name='p.efficiency.period.from']", "2026-11-09")
            page.fill("input[name='p.efficiency.period.to']", "2026-11-15")
            page.click("#preview-button")
            page.wait_for_selector("#dry-run")
            page.screenshot(path=str(OUT / "web-run-now.png"), full_page=True)
            page.goto("/runs?job=weekly-ops-review")
            page.click("table a.mono >> nth=0")
            page.wait_for_selector("#log[data-ended]", state="attached")
            page.frame_locator("iframe.email-frame").first.locator("table").first.wait_for()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / "web-run.png"), full_page=True)
            page.locator("section.email").first.scroll_into_view_if_needed()
            page.locator("section.email").first.screenshot(path=str(OUT / "web-email.png"))
            phone = browser.new_page(
                viewport={"width": 390, "height": 844}, base_url=web.url, storage_state=page.context.storage_state()
            )
            phone.goto("/jobs")
            phone.screenshot(path=str(OUT / "web-phone.png"), full_page=False)
            browser.close()
    for name in ("web-jobs", "web-job", "web-run-now", "web-run", "web-email", "web-outbox", "web-health", "web-phone"):
        print(OUT / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
