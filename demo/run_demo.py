"""`make demo`: the weekly ops review, end to end, against the local Moderation Console.

Generates four weeks of synthetic operations data ending last Sunday (so "last week" is the week of the
planted story), starts the console in the background, runs the ``weekly-ops-review`` job once exactly
as the scheduler would (export through the browser, reports, PDF, email to the outbox), stops the
console, and prints where to look. Nothing is left running.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from demo.fixtures import write_staffing_workbook, write_vendor_workbooks
from demo.generate import generate
from demo.server import ConsoleServer
from opskit.cli.main import main as runner
from opskit.config.model import load_config
from opskit.engine.history import RunStore

REPO = Path(__file__).resolve().parent.parent
DEMO_SCALE = 50_000
DEMO_SEED = 7


def demo_start(today: date) -> date:
    """The Monday four weeks before this week's: the data then ends last Sunday."""
    return today - timedelta(days=today.weekday() + 28)


def prepare_data(data_dir: Path, today: date) -> Path:
    """The console's database (regenerated when it does not end last Sunday), and the files other jobs read."""
    start = demo_start(today)
    db_path = data_dir / "console.db"
    stamp = data_dir / "console.db.start"
    if not db_path.exists() or not stamp.exists() or stamp.read_text().strip() != start.isoformat():
        print(f"generating {DEMO_SCALE:,} cases, {start} to {start + timedelta(days=27)} ...", flush=True)
        summary = generate(db_path, seed=DEMO_SEED, days=28, start=start, scale=DEMO_SCALE)
        stamp.write_text(start.isoformat())
        print(f"  {summary.cases:,} cases in {summary.seconds:.1f}s")
    inbox = data_dir / "inbox" / "vendors"
    if not inbox.exists() or not any(inbox.iterdir()):
        inbox.mkdir(parents=True, exist_ok=True)
        last_day = start + timedelta(days=27)
        write_vendor_workbooks(db_path, inbox, date_from=last_day, date_to=last_day)
    staffing = data_dir / "staffing.xlsx"
    if not staffing.exists():
        write_staffing_workbook(db_path, staffing, first_week=today - timedelta(days=today.weekday()), weeks=8)
    return db_path


def main() -> int:
    os.chdir(REPO)
    started = time.monotonic()
    data_dir = REPO / "data"
    db_path = prepare_data(data_dir, date.today())
    with ConsoleServer(db_path, use_env=False) as console:
        os.environ.update(
            CONSOLE_URL=console.url,
            CONSOLE_USER=console.username,
            CONSOLE_PASSWORD=console.password,
            CONSOLE_API_TOKEN=console.api_token,
        )
        print(f"Moderation Console running at {console.url} (stopped when the demo ends)\n", flush=True)
        code = runner(["run", "weekly-ops-review"])
    print()
    _where_to_look(code)
    _web_app()
    print(f"\nmake demo took {time.monotonic() - started:.0f}s; nothing is left running.")
    return code


def _where_to_look(code: int) -> None:
    config = load_config(REPO / "config.yaml", environ={**os.environ})
    with RunStore(config.history_path) as store:
        record = store.list(job="weekly-ops-review", limit=1)[0]
    folder = Path(record.folder)
    files = [Path(f) for f in (record.result or {}).get("files", [])]
    emails = sorted(config.outbox_dir.rglob("*.eml"), key=lambda p: p.stat().st_mtime)
    print("Where to look:")
    print(f"  the run:       .venv/bin/python runner.py show {record.id}")
    print("  the history:   .venv/bin/python runner.py history")
    if emails:
        print(f"  the email:     {emails[-1].relative_to(REPO)}  (open it in any mail client)")
    for f in files:
        if f.suffix in (".xlsx", ".pdf"):
            print(f"  {('the workbook:' if f.suffix == '.xlsx' else 'the PDF:'):<14} {f.relative_to(REPO)}")
    print(f"  the run log:   {(folder / 'run.log').relative_to(REPO)}")
    if code != 0:
        print(f"\nThe run did not succeed: {record.error}", file=sys.stderr)


def _web_app() -> None:
    """How to open the web app on the demo's history; the first time, a demo admin to sign in with."""
    import secrets

    from opskit.config.model import load_config
    from opskit.engine.history import RunStore
    from opskit.web.security import hash_password

    config = load_config(REPO / "config.yaml", environ={**os.environ})
    password = None
    with RunStore(config.history_path) as store:
        if not store.list_users():
            password = secrets.token_urlsafe(12)
            store.add_user("demo", role="admin", groups=(), password_hash=hash_password(password))
            store.audit("user_added", user=None, target="demo", detail={"role": "admin", "by": "make demo"})
    print("\nThe web app, on this history:")
    print("  .venv/bin/python runner.py web              then open http://127.0.0.1:8080")
    if password:
        print(f"  sign in as demo / {password}   (an admin made for the demo; `runner.py users` manages users)")
    else:
        print("  sign in with a user of `runner.py users` (add one: runner.py users add NAME --role admin)")
    print("  runs started there wait for the scheduler: .venv/bin/python runner.py schedule")


if __name__ == "__main__":
    sys.exit(main())
