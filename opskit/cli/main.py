"""The command line: ``python runner.py <command>``. Thin: it parses, calls into opskit, and prints.

Every expected failure is an ``OpskitError`` caught in exactly one place, ``main``, and printed as one line
``error: ...`` with the error's exit code: 0 succeeded, 1 the task failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.cli.db import add_db_parser, db_command
from opskit.cli.scaffold import scaffold_task
from opskit.cli.users_args import add_users_parser
from opskit.cli.values import MAX_NEXT_COUNT, clip_words, moment, short, whole_number
from opskit.config.file import default_config_path, read_config_file
from opskit.engine.owners import this_process
from opskit.errors import OpskitError, UsageError
from opskit.redact import Redactor
from opskit.tasks import MISSING, discover
from opskit.terminal import PrintableFormatter, printable, printable_output

if TYPE_CHECKING:
    from opskit.config.model import Config

EXAMPLES = {
    "list": "python runner.py list",
    "run": (
        "python runner.py run weekly-ops-review\n"
        "  python runner.py run efficiency_report --param period=last_week --param queues=Q1,Q2\n"
        "  python runner.py run daily-efficiency --as-of 2026-11-16T08:30 --dry-run"
    ),
    "history": "python runner.py history --job weekly-ops-review --status failed --limit 5",
    "show": "python runner.py show 20261116T073000Z-weekly-ops-review-3f9a",
    "logs": "python runner.py logs 3f9a",
    "validate": "python runner.py validate --config config.yaml",
    "console": "python runner.py console --port 8765",
    "outbox": "python runner.py outbox --send",
    "db": "PGPASSWORD=... python runner.py db copy --to postgresql://opskit@db.internal/opskit",
    "schedule": "python runner.py schedule",
    "new": "python runner.py new backlog_snapshot --kind browser",
    "inspect": "python runner.py inspect console /cases   # > selectors to paste under sources.console.browser",
    "next": "python runner.py next weekly-ops-review --count 10",
    "pause": "python runner.py pause sla-watch",
    "resume": "python runner.py resume sla-watch",
    "status": "python runner.py status --check   # exit 1 when the scheduler is down or a job is stale",
    "backfill": "python runner.py backfill daily-efficiency --from 2026-11-02 --to 2026-11-06 --dry-run",
    "web": "python runner.py web --host 127.0.0.1 --port 8080",
    "worker": "python runner.py worker --queues default,browser --concurrency 4   # with executor: celery",
    "users": (
        "python runner.py users add alice --role runner --groups ops-leads   # password from stdin\n"
        "  python runner.py users token alice --label 'BI refresh'\n"
        "  python runner.py users set alice --role viewer\n"
        "  python runner.py users"
    ),
}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (tests swap it), not the one at creation."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2, one line) instead of printing usage and exiting."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(clip_words(message), hint=f"See `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="runner.py",
        description="opskit: run report tasks by hand or on a timetable.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  " + "\n  ".join(v.splitlines()[0] for v in EXAMPLES.values()),
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: config.yaml beside runner.py, or $OPSKIT_CONFIG)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_,
            description=help_,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=f"example:\n  {EXAMPLES[name]}",
        )

    command("list", "List every task (with its parameters) and every job in the config.")
    run = command("run", "Run a job from the config, or a task, once, now.")
    run.add_argument("name", help="a job in config.yaml, or a task name")
    run.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a parameter (repeatable); overrides the job's value",
    )
    run.add_argument("--dry-run", action="store_true", help="validate and show what would run, run nothing")
    run.add_argument("--json", action="store_true", help="print the run record as JSON on stdout")
    run.add_argument(
        "--as-of",
        metavar="DATETIME",
        help="run as if scheduled at this time (ISO, job's timezone); periods resolve against it",
    )
    run.add_argument("--headed", action="store_true", help="show the browser window (needs a display)")
    run.add_argument(
        "--slowmo", type=whole_number(0, 60_000), default=0, metavar="MS", help="slow browser actions down by MS"
    )
    history = command("history", "Show recent runs, newest first.")
    history.add_argument("--job", help="only this job")
    history.add_argument("--status", help="only this status (succeeded, failed, timed_out, ...)")
    history.add_argument("--limit", type=whole_number(1, 100_000), default=20, help="how many runs (default 20)")
    history.add_argument("--json", action="store_true", help="print JSON")
    show = command("show", "Show everything recorded about one run.")
    show.add_argument("run_id", help="a run id, or a unique part of one")
    show.add_argument("--json", action="store_true", help="print JSON")
    logs = command("logs", "Print the log of one run.")
    logs.add_argument("run_id", help="a run id, or a unique part of one")
    command("validate", "Check the config: every job's task, parameters, schedule and env variables.")
    new = command("new", "Scaffold a new task: tasks/NAME.py, its email template, and a test that runs it.")
    new.add_argument("name", help="the task's name: lowercase letters, digits and _")
    new.add_argument("--force", action="store_true", help="overwrite files that already exist")
    new.add_argument(
        "--kind",
        choices=("report", "browser", "api", "excel"),
        default="report",
        help="report (default): a workbook and a KPI email; browser: sign in, fill a form from a workbook, read "
        "a table; api: a JSON API's pages to CSV; excel: every workbook in an inbox merged",
    )
    inspect = command("inspect", "Open a page of a source headless and print a ready-to-paste selectors: block.")
    inspect.add_argument("source", help="a source in config.yaml")
    inspect.add_argument("path", nargs="?", default="/", help="the page, relative to its url (default /; #/route)")
    inspect.add_argument("--no-login", action="store_true", help="look at the page without signing in")
    inspect.add_argument("--all", action="store_true", help="also list hidden elements")
    command("schedule", "Run the scheduler in the foreground: jobs fire on their timetables (Ctrl-C stops).")
    nxt = command("next", "Show the next fire times of a job (or all), with skipped slots and DST notes.")
    nxt.add_argument("job", nargs="?", help="a job in config.yaml (default: every scheduled job)")
    nxt.add_argument(
        "--count",
        type=whole_number(1),
        default=5,
        help=f"how many slots (default 5; at most {MAX_NEXT_COUNT}, more is cut with a note)",
    )
    nxt.add_argument("--json", action="store_true", help="print JSON")
    pause = command("pause", "Pause a job: the scheduler skips (and records) its slots until resumed.")
    pause.add_argument("job")
    resume = command("resume", "Resume a paused job.")
    resume.add_argument("job")
    status = command("status", "Is the scheduler alive? What runs now, what runs next, each job's last good run.")
    status.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the heartbeat is stale, a job has no good run within its max_age, or mail in the"
        " outbox failed or is uncertain",
    )
    backfill = command("backfill", "Run a job once per slot in a date range, each for its own slot.")
    backfill.add_argument("job")
    backfill.add_argument("--from", dest="date_from", required=True, metavar="DATE", help="first day (YYYY-MM-DD)")
    backfill.add_argument("--to", dest="date_to", required=True, metavar="DATE", help="last day (YYYY-MM-DD)")
    backfill.add_argument("--dry-run", action="store_true", help="list the slots, run nothing")
    backfill.add_argument("--again", action="store_true", help="also run slots that already ran")
    outbox = command("outbox", "List the mail in the outbox; send pending mail; re-send one message.")
    outbox.add_argument("--status", help="only messages with this status (pending, sent, failed, uncertain)")
    outbox.add_argument("--send", action="store_true", help="send every pending message now")
    outbox.add_argument("--resend", metavar="ID", help="queue this message again (e.g. one marked uncertain)")
    outbox.add_argument(
        "--dismiss", metavar="ID", help="close an uncertain or failed message for good (it arrived, or is not wanted)"
    )
    outbox.add_argument("--json", action="store_true", help="print JSON")
    web = command("web", "Serve the web app: jobs, runs, run now, logs, artifacts, outbox, JSON API.")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=whole_number(0, 65535), default=8080, help="port (default 8080)")
    web.add_argument(
        "--threads", type=whole_number(1, 1000), default=None, help="server threads (default: web.threads, 16)"
    )
    users = command("users", "Manage who may sign in to the web app: users, roles, groups, API tokens.")

    add_users_parser(users, _Parser)
    db = command("db", "The run history's database: upgrade its schema, copy it into PostgreSQL.")
    add_db_parser(db, _Parser)
    worker = command("worker", "Run a Celery worker that takes the scheduler's runs from its queues.")
    from opskit.cli.cluster import add_worker_parser  # where the worker's options live (it imports only errors)

    add_worker_parser(worker)
    console = command("console", "Start the Moderation Console (the demo source) on 127.0.0.1.")
    console.add_argument("--port", type=whole_number(0, 65535), default=8765, help="port on 127.0.0.1 (default 8765)")
    console.add_argument("--data-dir", type=Path, default=None, help="folder for its database (default data/)")
    console.add_argument(
        "--scale", type=whole_number(1, 10_000_000), default=None, help="cases to generate when there is no database"
    )
    console.add_argument("--regenerate", action="store_true", help="write a fresh data set first")
    return parser


def main(argv: list[str] | None = None) -> int:
    handler = _StderrHandler()
    handler.setFormatter(PrintableFormatter("%(message)s"))
    opskit_log = logging.getLogger("opskit")
    if not opskit_log.handlers:
        opskit_log.addHandler(handler)
        opskit_log.setLevel(logging.INFO)
    try:
        with printable_output():  # nothing a command prints drives the terminal (opskit/terminal.py)
            return dispatch(argv)
    except OpskitError as exc:
        print(printable(f"error: {clip_words(str(exc))}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def dispatch(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    _check_text(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    config_path = args.config or default_config_path()
    handler = globals().get(f"cmd_{args.command}")
    if handler is None:
        from opskit.cli import schedule as cli_schedule  # on use: `runner.py list` stays light

        handler = getattr(cli_schedule, f"cmd_{args.command}")
    return int(handler(args, config_path))


def _load(config_path: Path) -> Config:
    from opskit.config.model import load_config  # on use: `runner.py list` stays light

    return load_config(config_path)


def _store(config: Config) -> Any:
    """The run history, this command answering for the runs it creates; orphans it notices are settled first.

    A run whose process and owner both died is marked abandoned and alerted now, and a run whose owner died
    before delivering it is delivered (engine/recovery.py): whoever notices first, once.
    """
    from opskit.engine.history import RunStore  # on use: `runner.py list` stays light
    from opskit.engine.recovery import settle_orphans  # on use: `runner.py list` stays light

    store = RunStore(config.history_target, owner=this_process(), redactor=Redactor(config.secrets))
    try:
        settle_orphans(config, store)
    except BaseException:
        store.close()
        raise
    return store


def cmd_list(args: argparse.Namespace, config_path: Path) -> int:
    """Fast by design: reads config.yaml without validating it (that is `validate`'s job)."""

    raw = read_config_file(config_path, interpolate=False)
    registry = discover(raw.path_setting("tasks"))
    print("Tasks")
    for spec in registry:
        print(f"  {spec.name:<24} {spec.description}")
        for p in spec.params:
            default = "required" if p.default is MISSING else f"default {_show_default(p.default)}"
            print(f"      --param {p.name}=<{p.type_label}>  ({default})" + (f"  {p.help}" if p.help else ""))
    for name, error in sorted(registry.broken.items()):
        print(f"  {name:<24} BROKEN: {error}")
    print("\nJobs")
    jobs = raw.data.get("jobs") or {}
    if not isinstance(jobs, dict) or not jobs:
        print("  (none in config)")
        return 0
    target = raw.data.get("history")
    history: Path | str = raw.path_setting("var") / "history.sqlite"
    if isinstance(target, str) and target:
        history = target if "://" in target else raw.path.resolve().parent / target
    last = {}
    if isinstance(history, str) or history.exists():  # read only: settling orphans is for the other commands
        from opskit.engine.history import RunStore  # on use: `runner.py list` stays light

        with RunStore(history) as store:
            last = store.last_by_job()
    for name, job in jobs.items():
        job = job if isinstance(job, dict) else {}
        state = "enabled" if job.get("enabled", True) else "disabled"
        run = last.get(name)
        last_text = f"last: {run.status} {run.queued_at:%Y-%m-%d %H:%M} UTC" if run else "last: never run"
        schedule = str(job.get("schedule") or "(manual only)")
        steps = job.get("steps")
        task = (
            " > ".join(str(s.get("task")) for s in steps if isinstance(s, dict))
            if isinstance(steps, list)
            else str(job.get("task"))
        )
        print(f"  {name:<24} task {task:<22} {schedule:<20} {state:<9} {last_text}")
    return 0


def cmd_run(args: argparse.Namespace, config_path: Path) -> int:
    # Imported here, not at the top: every command loads this module, and `list` must stay free of pydantic.
    from opskit.engine.attempts import execute
    from opskit.engine.planning import plan_run  # on use: `runner.py list` stays light

    config = _load(config_path)
    registry = discover(config.tasks_dir)
    overrides = _parse_params(args.param)
    job = config.jobs.get(args.name)
    scheduled_for = _parse_as_of(args.as_of, config.job_timezone(job)) if args.as_of else None
    plan = plan_run(config, registry, args.name, overrides=overrides, scheduled_for=scheduled_for)
    if args.dry_run:
        summary: dict[str, Any] = {
            "would_run": plan.name,
            "task": plan.task_label,
            "params": plan.params_json(),
            "scheduled_for": plan.scheduled_for.astimezone(plan.tz).isoformat(timespec="minutes"),
            "timezone": str(plan.tz),
            "timeout_s": plan.timeout.total_seconds(),
            "retries": plan.retries,
            "runs_folder": str(config.runs_dir),
        }
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"dry run: would run {'job' if plan.job else 'task'} '{plan.name}' (task {plan.task_label})")
            print(f"  scheduled for {summary['scheduled_for']} ({plan.tz})")
            for step in plan.steps:
                if plan.chained:
                    print(f"  step {step.name} ({step.spec.name}):")
                indent = "    " if plan.chained else "  "
                for key, value in (
                    plan.params_json().get(step.name, {}).items() if plan.chained else summary["params"].items()
                ):
                    print(f"{indent}{key} = {value}")
            print(f"  timeout {plan.timeout}, retries {plan.retries}; nothing was run")
        return 0
    options = {"headed": args.headed, "slowmo": args.slowmo}
    with _store(config) as store:
        record = execute(plan, config, store, options=options)
    if args.json:
        print(json.dumps(record.to_json(), indent=2))
    else:
        _print_outcome(record)
    return 0 if record.status == "succeeded" else 1


def _print_outcome(record: Any) -> None:
    """What a run did, for the terminal: its error and file names are ``printable`` (they came from outside)."""
    duration = f" in {record.duration_s:.1f}s" if record.duration_s is not None else ""
    if record.status != "succeeded":
        print(printable(f"run {record.id} {record.status}{duration}: {record.error}"))
        print(f"  log: {Path(record.folder) / 'run.log'}")
    else:
        print(f"run {record.id} succeeded{duration}")
    _print_delivery(record.delivery)
    files = (record.result or {}).get("files") or []
    if files:
        print("  files:")
        for f in files:
            print(printable(f"    {f}"))


def _print_delivery(delivery: dict[str, Any] | None) -> None:
    """One line on what happened after the run: the report sent, held back by gates, or an alert."""
    if not delivery:
        return
    if delivery.get("blocked"):
        checks = (delivery.get("gates") or {}).get("checks") or []
        failed = "; ".join(str(c.get("message")) for c in checks if not c.get("ok"))
        print(f"  delivery: BLOCKED by the quality gates: {failed or 'see runner.py show'}")
    else:
        print(f"  delivery: {delivery.get('action', '-')}")
    for email in delivery.get("emails") or []:
        error = f" ({email['error']})" if email.get("error") else ""
        print(
            f"  email {email.get('kind', '')}: {email.get('status')} to {email.get('recipients')} "
            f"recipient(s), outbox id {email.get('outbox_id')}{error}"
        )


def cmd_history(args: argparse.Namespace, config_path: Path) -> int:
    config = _load(config_path)
    with _store(config) as store:
        records = store.list(job=args.job, status=args.status, limit=args.limit)
    clean = _cleaner(config)
    if args.json:
        print(clean(json.dumps([r.to_json() for r in records], indent=2)))
        return 0
    if not records:
        print("no runs recorded" + (" for these filters" if args.job or args.status else ""))
        return 0
    width = max([9, *(len(r.trigger) + len(r.requested_by or "") + 4 for r in records if r.requested_by)])
    workers = any(r.worker for r in records)  # runs on Celery workers: which one ran each
    ran_on = f"{'WORKER':<28} " if workers else ""
    print(f"{'RUN ID':<44} {'STATUS':<10} {'TRIGGER':<{width}} {'SCHEDULED FOR':<17} {'DURATION':>8}  {ran_on}ERROR")
    for r in records:
        tz = config.job_timezone(config.jobs.get(r.job or ""))
        duration = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        error = (r.error or "")[:60]
        trigger = f"{r.trigger} by {r.requested_by}" if r.requested_by else r.trigger  # started from the web
        where = f"{r.worker or (r.host or '') + ' (local)':<28} " if workers else ""
        print(
            clean(
                f"{r.id:<44} {r.status:<10} {trigger:<{width}} {r.scheduled_for.astimezone(tz):%Y-%m-%d %H:%M}  "
                f"{duration:>8}  {where}{error}"
            )
        )
    return 0


def cmd_show(args: argparse.Namespace, config_path: Path) -> int:
    config = _load(config_path)
    with _store(config) as store:
        record = store.get(args.run_id)
    clean = _cleaner(config)
    if args.json:
        print(clean(json.dumps(record.to_json(), indent=2)))
        return 0
    tz = config.job_timezone(config.jobs.get(record.job or ""))
    for key, value in record.to_json().items():
        if key in ("scheduled_for", "queued_at", "started_at", "finished_at") and value:
            value = datetime.fromisoformat(value).astimezone(tz).isoformat(timespec="seconds")
        if isinstance(value, dict | list):
            value = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + " " * 16)
        print(clean(f"{key:<15} {value if value is not None else '-'}"))
    return 0


def cmd_logs(args: argparse.Namespace, config_path: Path) -> int:
    config = _load(config_path)
    with _store(config) as store:
        record = store.get(args.run_id)
    log_path = Path(record.folder) / "run.log"
    if not log_path.exists():
        raise UsageError(
            f"run {record.id} has no log file at {log_path}",
            hint="Its run folder may have been pruned by the retention setting",
        )
    text = log_path.read_bytes().decode("utf-8", errors="replace")  # a bare CR is removed, not a line break
    sys.stdout.write(_cleaner(config)(text))
    return 0


def _cleaner(config: Config) -> Any:
    """What ``history``, ``show`` and ``logs`` print passes through this: the config's secrets (every form)
    redacted once more. (Terminal control characters go from everything a command prints: ``main``.)"""
    return Redactor(config.secrets).redact


def cmd_validate(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.engine.checks import validate_all  # on use: `runner.py list` stays light

    problems, summary = validate_all(config_path)
    for problem in problems:
        print(printable(f"error: {problem}"), file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {config_path}", file=sys.stderr)
        return 2
    print(f"{config_path}: OK ({summary})")
    return 0


def cmd_db(args: argparse.Namespace, config_path: Path) -> int:
    return db_command(_load(config_path), args)


def cmd_outbox(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.cli.outbox import outbox_command  # deferred: `list` must not load delivery

    return outbox_command(_load(config_path), args)


def cmd_web(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.cli.web import cmd_web as web  # deferred: Flask and waitress load only for this command

    return web(args, config_path)


def cmd_users(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.cli.web import cmd_users as users  # on use: `runner.py list` stays light

    return users(args, config_path)


def cmd_new(args: argparse.Namespace, config_path: Path) -> int:

    return scaffold_task(args.name, config_path=config_path, force=args.force, kind=args.kind)


def cmd_inspect(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.cli.inspect import inspect_command  # deferred: `list` must not load Playwright

    return inspect_command(_load(config_path), args)


def cmd_worker(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.cli.cluster import cmd_worker as worker  # Celery's side only for this command

    return worker(args, config_path)


def cmd_console(args: argparse.Namespace, config_path: Path) -> int:
    try:
        from demo.server import main as console_main
    except ImportError as exc:
        raise UsageError(f"the Moderation Console is not available: {exc}") from None
    argv = ["--port", str(args.port)]
    if args.data_dir:
        argv += ["--data-dir", str(args.data_dir)]
    if args.scale:
        argv += ["--scale", str(args.scale)]
    if args.regenerate:
        argv.append("--regenerate")
    return int(console_main(argv) or 0)


def _check_text(argv: list[str]) -> None:
    """Refuse arguments that are not UTF-8 text (Python hands their bytes over as lone surrogates).

    Names, parameters and dates are text: an undecodable byte is a typing accident or a hostile caller, and
    it would fail later where it cannot be explained (the history database, a file name, an email).
    """
    for i, arg in enumerate(argv, start=1):
        bad = next((c for c in arg if "\udc80" <= c <= "\udcff"), None)
        if bad is not None:
            raise UsageError(
                f"argument {i} ({short(arg)}) is not UTF-8 text: byte 0x{ord(bad) - 0xDC00:02x}",
                hint="Type it again in a UTF-8 terminal",
            )


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param '{pair}' is not KEY=VALUE", hint="e.g. --param period=last_week")
        params[key.strip()] = value
    return params


def _parse_as_of(text: str, tz: Any) -> datetime:
    return moment(text, "--as-of", tz)


def _show_default(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(map(str, value)) or "(empty)"
    return repr(value) if isinstance(value, str) else str(value)
