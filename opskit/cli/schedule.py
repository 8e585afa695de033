"""The scheduler's commands: schedule, next, pause, resume, status, backfill."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time as wallclock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from opskit.cli.values import MAX_BACKFILL_SLOTS, MAX_NEXT_COUNT, day
from opskit.config.model import Config, load_config
from opskit.engine import outbox_table  # noqa: F401 (the outbox of a history on PostgreSQL)
from opskit.engine.history import RunStatus, RunStore, Trigger
from opskit.engine.leader import Leader, current_leader
from opskit.engine.owners import this_process
from opskit.engine.planning import plan_run
from opskit.engine.scheduling import job_timetable
from opskit.errors import UsageError, did_you_mean
from opskit.redact import FollowingRedactor
from opskit.tasks import discover
from opskit.terminal import PrintableFormatter

STALE_AFTER = timedelta(minutes=2)
"""A heartbeat older than this means the scheduler is not running (it beats every 10 s)."""


def cmd_schedule(args: argparse.Namespace, config_path: Path) -> int:
    # Here, not at the top: the daemon brings the executors and delivery, which next/pause/status never use.
    from opskit.engine.daemon import Scheduler

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)-7s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Every line once, with its time: the plain handler ``main`` gave the opskit logger would print the
    # scheduler's lines a second time (they also reach the root's).
    opskit_log = logging.getLogger("opskit")
    for plain in list(opskit_log.handlers):
        opskit_log.removeHandler(plain)
    scheduler = Scheduler(config_path.resolve())
    # the config in force (reloads included): its secrets are redacted from every console line
    handler.addFilter(FollowingRedactor(lambda: getattr(getattr(scheduler, "config", None), "secrets", ())))
    clock, scale = _test_clock(os.environ.get("OPSKIT_TEST_CLOCK"))
    scheduler.time_scale = scale
    scheduler.run_forever(clock=clock)
    return 3 if scheduler.lost_leadership else 0  # 3: retryable, so a service manager restarts it as standby


def _test_clock(spec: str | None) -> tuple[Callable[[], datetime] | None, float]:
    """For the tests that run real schedulers (failover, outages): a clock that starts at a chosen time and
    runs ``factor`` times faster, shared by every process given the same ``OPSKIT_TEST_CLOCK``:
    ``<start ISO 8601>,<real epoch it maps to>,<factor>``. Unset (always, outside tests): the real clock."""
    if not spec:
        return None, 1.0
    try:
        start_text, anchor_text, factor_text = spec.split(",")
        start, anchor, factor = datetime.fromisoformat(start_text), float(anchor_text), float(factor_text)
    except ValueError:
        raise UsageError(f"OPSKIT_TEST_CLOCK '{spec}' is not <start ISO>,<epoch>,<factor>") from None
    return (lambda: start + timedelta(seconds=(wallclock.time() - anchor) * factor)), factor


def cmd_next(args: argparse.Namespace, config_path: Path) -> int:
    config = load_config(config_path)
    names = [args.job] if args.job else [n for n, j in config.jobs.items() if j.schedule]
    if args.job and args.job not in config.jobs:
        raise UsageError(f"unknown job '{args.job}'", hint=did_you_mean(args.job, config.jobs))
    now = datetime.now(UTC)
    count = min(args.count, MAX_NEXT_COUNT)
    if args.count > MAX_NEXT_COUNT:
        print(f"note: showing the first {MAX_NEXT_COUNT} slots per job (the most `next` lists)", file=sys.stderr)
    out: dict[str, Any] = {}
    for name in names:
        timetable = job_timetable(config, name)
        if timetable is None:
            print(f"{name}: manual only (no schedule)")
            continue
        job = config.jobs[name]
        slots = timetable.upcoming(now, count)
        out[name] = [{"at": s.at.isoformat(), "skipped": s.skipped, "dst": s.dst} for s in slots]
        if args.json:
            continue
        state = "" if job.enabled else "  [disabled]"
        print(f"{name}: {timetable.describe()}{state}")
        for slot in slots:
            note = ""
            if slot.skipped:
                note = f"  skipped: {slot.skipped}"
            if slot.dst == "gap":
                note += "  (DST gap: the nominal time does not exist that day; fires at the first valid minute)"
            elif slot.dst == "overlap":
                note += "  (DST overlap: this local hour happens twice; fires once)"
            print(f"  {slot.at:%a %Y-%m-%d %H:%M %Z}{note}")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def cmd_pause(args: argparse.Namespace, config_path: Path) -> int:
    return _set_paused(args.job, config_path, True)


def cmd_resume(args: argparse.Namespace, config_path: Path) -> int:
    return _set_paused(args.job, config_path, False)


def _set_paused(job: str, config_path: Path, paused: bool) -> int:
    config = load_config(config_path)
    if job not in config.jobs:
        raise UsageError(f"unknown job '{job}'", hint=did_you_mean(job, config.jobs))
    with RunStore(config.history_target) as store:
        store.set_paused(job, paused)
    if paused:
        print(f"{job}: paused: its slots are skipped (and recorded) until `runner.py resume {job}`")
    else:
        print(f"{job}: resumed")
    return 0


def cmd_status(args: argparse.Namespace, config_path: Path) -> int:
    from opskit.engine.recovery import settle_orphans  # on use: `runner.py list` stays light

    config = load_config(config_path)
    now = datetime.now(UTC)
    problems: list[str] = []
    with RunStore(config.history_target, owner=this_process()) as store:
        settle_orphans(config, store)  # the watchdog runs this: a run that died unwatched is alerted now
        info = store.scheduler_info()
        running = store.by_status(RunStatus.RUNNING)
        good = store.last_success_by_job()
        states = {name: store.job_state(name) for name in config.jobs}
        from opskit.cli.cluster import cluster_lines  # Redis only when the config names a broker

        cluster, cluster_problems = cluster_lines(config, store, now)
        leader = current_leader(store, now=now)
    if info is None:
        alive, line = False, "scheduler: never started on this history"
    elif info["stopped_at"] is not None:
        alive, line = False, f"scheduler: stopped at {_local(info['stopped_at'], config)}"
    else:
        age = now - info["heartbeat_at"]
        alive = age <= STALE_AFTER
        line = (
            f"scheduler: {'alive' if alive else 'NOT RESPONDING'} (pid {info['pid']} on {info['host']}, "
            f"last heartbeat {int(age.total_seconds())}s ago, up since {_local(info['started_at'], config)})"
        )
    if not alive:
        problems.append(line)
    print(line)
    print(f"leader: {_leader(leader, info, alive, config)}")
    for text in cluster:
        print(text)
    problems += cluster_problems
    print(f"running now: {', '.join(r.id for r in running) or 'nothing'}")
    mail, for_a_person = _mail_line(config)
    if mail:
        print(mail)
        if for_a_person:
            problems.append(mail)
    print(f"{'JOB':<24} {'NEXT RUN':<22} {'LAST GOOD RUN':<22} STATE")
    for name, job in config.jobs.items():
        timetable = job_timetable(config, name) if job.schedule else None
        nxt = _local(timetable.next_fire(now), config, job) if timetable and job.enabled else "-"
        last = good.get(name)
        last_text = _local(last.finished_at, config, job) if last and last.finished_at else "never"
        state = "paused" if states[name].get("paused") else ("enabled" if job.enabled else "disabled")
        if job.max_age is not None and job.enabled:
            if last is None or last.finished_at is None or now - last.finished_at > job.max_age:
                state += f"  STALE (no good run within max_age {job.max_age})"
                problems.append(f"{name}: no good run within max_age {job.max_age}")
        print(f"{name:<24} {nxt:<22} {last_text:<22} {state}")
    if args.check:
        for problem in problems:
            print(f"check failed: {problem}", file=sys.stderr)
        return 1 if problems else 0
    return 0


def _leader(leader: Leader | None, info: dict[str, Any] | None, alive: bool, config: Config) -> str:
    """The scheduler that leads: the leader's record (engine/leader.py), else the local lock's holder."""
    if leader is not None and leader.alive:
        return f"pid {leader.pid} on {leader.host} (leading since {_local(leader.since, config)})"
    if info is None or not alive:
        return "none (no scheduler is running)"
    return f"pid {info['pid']} on {info['host']}"


def _mail_line(config: Config) -> tuple[str, bool]:
    """What waits in the outbox ("" when nothing does), and whether a person must decide on some of it.

    Uncertain and failed mail is never sent again by itself, so it fails ``status --check``.
    """
    settings = config.email_settings()
    from opskit.delivery.outbox import OutboxStatus, outbox_exists, outbox_of  # on use: `list` stays light

    if not outbox_exists(settings):
        return "", False
    statuses = [e.status for e in outbox_of(settings).entries()]
    waiting = {s: statuses.count(s) for s in (OutboxStatus.PENDING, OutboxStatus.UNCERTAIN, OutboxStatus.FAILED)}
    counts = [f"{n} {status}" for status, n in waiting.items() if n]
    line = f"mail: {', '.join(counts)} in the outbox (runner.py outbox)" if counts else ""
    return line, bool(waiting[OutboxStatus.UNCERTAIN] or waiting[OutboxStatus.FAILED])


def cmd_backfill(args: argparse.Namespace, config_path: Path) -> int:
    # Here, not at the top: the executors and delivery, which next/pause/status never use.
    from opskit.engine.attempts import execute

    config = load_config(config_path)
    if args.job not in config.jobs:
        raise UsageError(f"unknown job '{args.job}'", hint=did_you_mean(args.job, config.jobs))
    timetable = job_timetable(config, args.job)
    if timetable is None:
        raise UsageError(
            f"job '{args.job}' has no schedule, so it has no slots to backfill",
            hint="Run it by hand with `runner.py run JOB --as-of DATETIME`",
        )
    tz = config.job_timezone(config.jobs[args.job])
    start = datetime.combine(_date(args.date_from, "--from"), time(), tzinfo=tz)
    end = datetime.combine(_date(args.date_to, "--to") + timedelta(days=1), time(), tzinfo=tz)
    if end <= start:
        raise UsageError("--to is before --from")
    every = timetable.fires_between(start - timedelta(microseconds=1), end - timedelta(microseconds=1))
    slots = list(itertools.islice(every, MAX_BACKFILL_SLOTS + 1))
    if len(slots) > MAX_BACKFILL_SLOTS:
        raise UsageError(
            f"{args.date_from} to {args.date_to} holds more than {MAX_BACKFILL_SLOTS:,} slots of job '{args.job}'",
            hint="Backfill a shorter range at a time",
        )
    if not slots:
        print(f"{args.job}: no slots between {args.date_from} and {args.date_to}")
        return 0
    if args.dry_run:
        print(f"{args.job}: {len(slots)} slot(s) would run, one after another:")
        for slot in slots:
            print(f"  {slot:%a %Y-%m-%d %H:%M %Z}")
        return 0

    registry = discover(config.tasks_dir)
    failed = 0
    with RunStore(config.history_target, owner=this_process()) as store:
        for slot in slots:  # one at a time: a job never overlaps itself
            if store.has_slot(args.job, slot, count_skipped=False) and not args.again:
                print(f"  {slot:%Y-%m-%d %H:%M}: already run for this slot (use --again to run it anyway)")
                continue
            plan = plan_run(config, registry, args.job, scheduled_for=slot)
            record = execute(plan, config, store, trigger=Trigger.BACKFILL)
            failed += record.status != "succeeded"
            print(
                f"  {slot:%Y-%m-%d %H:%M}: run {record.id} {record.status}"
                + (f": {record.error}" if record.error else "")
            )
    return 1 if failed else 0


def _date(text: str, option: str) -> date:
    return day(text, option)


def _local(at: datetime, config: Config, job: Any = None) -> str:
    return at.astimezone(config.job_timezone(job)).strftime("%Y-%m-%d %H:%M %Z")
