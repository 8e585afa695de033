"""`make demo-cluster`: the weekly ops review through Celery workers, on this machine.

Starts Redis (a throwaway ``redis-server`` on a free port), PostgreSQL for the history (a throwaway cluster
from Debian's binaries, as the tests start it; the SQLite file when PostgreSQL is not installed, and it
says so), two workers (``runner.py worker``: one on the
``default`` queue, one on ``default,browser``, the only one allowed to open a Chromium), and the scheduler
(``runner.py schedule``), all on a copy of config.yaml with ``executor: {kind: celery}`` in
``var/demo-cluster/``. It then asks the scheduler for the weekly ops review (a browser job) and the
capacity plan (a plain one), as "Run now" in the web app does, waits for both, prints which worker ran each
step and where the email is, and stops everything it started, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from demo.redis_server import LocalRedis, RedisMissing
from demo.run_demo import prepare_data
from demo.server import ConsoleServer

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "var" / "demo-cluster"
JOBS = ("weekly-ops-review", "vendor-consolidation")
RUN_TIMEOUT_S = 300.0


def cluster_config(broker: str, history: str | None) -> Path:
    """config.yaml as it is, its runs on Celery workers, its state under var/demo-cluster, no timetables
    (nothing fires by itself during the demo: the two jobs run because the demo asks for them)."""
    text = (REPO / "config.yaml").read_text()
    text = re.sub(r"(?m)^  var: var\b", f"  var: {DEMO / 'var'}", text)
    text = re.sub(r"(?m)^  data: data\b", f"  data: {REPO / 'data'}\n  tasks: {REPO / 'tasks'}", text)
    text = re.sub(r"(?m)^  outbox_dir: outbox\b", f"  outbox_dir: {DEMO / 'outbox'}", text)
    text = re.sub(r"(?m)^    schedule: .*\n", "", text)
    text = re.sub(r"(?m)^  shutdown_grace: \S+", "  shutdown_grace: 5s", text)
    text = re.sub(r"(?m)^    calendar:\n(      .*\n)*", "", text)
    executor = f"executor:\n  kind: celery\n  broker: {broker}\n  heartbeat: 1s\n  worker_lost_after: 10s\n\n"
    if history:  # the password from the environment, as config.yaml always takes secrets
        executor += f"history: {history}\n\n"
    path = DEMO / "config.yaml"
    path.write_text(executor + text)
    return path


class Started:
    """The processes the demo started, stopped in reverse order when it ends (however it ends)."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def runner(self, name: str, config: Path, *argv: str) -> subprocess.Popen[bytes]:
        log = (DEMO / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "runner.py"), "--config", str(config), *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C is the demo's: it stops them in order
            cwd=REPO,
        )
        self.procs.append((name, proc))
        return proc

    def stop(self, *, now: bool = False) -> None:
        """SIGTERM: the scheduler's stop, Celery's warm shutdown (runs in hand finish). ``now`` (after Ctrl-C):
        the workers first, with Celery's cold shutdown (SIGQUIT), their runs dying with them."""
        if now:
            for name, proc in self.procs:
                if name.startswith("worker") and proc.poll() is None:
                    proc.send_signal(signal.SIGQUIT)
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop within 30 s: killed", file=sys.stderr)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main() -> int:
    os.chdir(REPO)
    started_at = time.monotonic()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    db_path = prepare_data(REPO / "data", date.today())
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir(parents=True)
    started = Started()
    redis = LocalRedis(DEMO / "redis")
    try:
        redis.start()
    except RedisMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    interrupted = False
    postgres = None
    try:
        postgres, history = _postgres()
        with ConsoleServer(db_path, use_env=False) as console:
            try:
                os.environ.update(
                    CONSOLE_URL=console.url,
                    CONSOLE_USER=console.username,
                    CONSOLE_PASSWORD=console.password,
                    CONSOLE_API_TOKEN=console.api_token,
                )
                config = cluster_config(redis.url, history)
                print(f"Redis on {redis.url}; Moderation Console on {console.url}")
                if postgres is not None:
                    print(f"history: PostgreSQL on 127.0.0.1:{postgres.port} (database {DATABASE})")
                else:
                    print("history: SQLite (var/demo-cluster/var/history.sqlite): PostgreSQL is not installed")
                plain = started.runner("worker-default", config, "worker", "--queues", "default", "--concurrency", "2")
                browser = started.runner("worker-browser", config, "worker", "--queues", "default,browser")
                started.runner("scheduler", config, "schedule")
                code = _run_jobs(config, {plain.pid: "default", browser.pid: "default,browser"})
                _status(config)
            except KeyboardInterrupt:
                interrupted, code = True, 130
                print("\ninterrupted: stopping what the demo started", file=sys.stderr)
            finally:  # before the console stops: a run still going must not hang on it
                started.stop(now=interrupted)
    finally:
        started.stop(now=True)  # a second Ctrl-C during the stop: nothing is left behind either
        redis.stop()
        if postgres is not None:
            postgres.stop("immediate")
            shutil.rmtree(postgres.folder, ignore_errors=True)
    print(f"\nmake demo-cluster took {time.monotonic() - started_at:.0f}s; nothing it started is left running.")
    return code


DATABASE = "opskit_demo"


def _postgres() -> tuple[Any, str | None]:
    """A throwaway PostgreSQL with the demo's database, and the history URL; (None, None) without PostgreSQL.

    The same server the cluster tests start (demo/postgres_server.py): initdb and pg_ctl as the ``postgres``
    user when we are root, 127.0.0.1 only, a password; its password reaches the config through the
    environment (``${OPSKIT_DEMO_DB_PASSWORD}``).
    """
    import tempfile

    from demo.postgres_server import PASSWORD, USER, PostgresServer, postgres_bin

    binaries = postgres_bin()
    if binaries is None:
        return None, None
    import pwd

    from demo.redis_server import free_port

    run_as = pwd.getpwnam("postgres").pw_name if os.geteuid() == 0 else None
    server = PostgresServer(
        bin=binaries, folder=Path(tempfile.mkdtemp(prefix="opskit-demo-pg-")), port=free_port(), run_as=run_as
    )
    try:
        server.init()
        server.start()
        server.sql(f"CREATE DATABASE {DATABASE}")
    except BaseException:
        server.stop("immediate")
        shutil.rmtree(server.folder, ignore_errors=True)
        raise
    os.environ["OPSKIT_DEMO_DB_PASSWORD"] = PASSWORD
    return server, f"postgresql://{USER}:${{OPSKIT_DEMO_DB_PASSWORD}}@127.0.0.1:{server.port}/{DATABASE}"


def _run_jobs(config_path: Path, queues_of: dict[int, str]) -> int:
    from opskit.config.model import load_config
    from opskit.engine.history import RunStore

    config = load_config(config_path, environ={**os.environ})
    with RunStore(config.history_target) as store:
        _wait(lambda: sum(w.pid in queues_of for w in store.workers()) == 2, 60, "the two workers")
        _wait(lambda: store.scheduler_info() is not None, 60, "the scheduler")
        print(f"2 workers and the scheduler are up; asking the scheduler for {' and '.join(JOBS)}\n", flush=True)
        requests = [
            store.add_run_request(job, overrides={}, trigger="web", requested_by="make demo-cluster") for job in JOBS
        ]
        _wait(lambda: all(store.get_run_request(r.id).run_id for r in requests), 30, "the scheduler to take them")
        run_ids = [store.get_run_request(r.id).run_id or "" for r in requests]
        _wait(lambda: all(store.get(i).status not in ("queued", "running") for i in run_ids), RUN_TIMEOUT_S, "the runs")
        _wait(lambda: all(store.get(i).delivery for i in run_ids), 60, "their delivery")
        records = [store.get(i) for i in run_ids]
        workers = {w.name: w for w in store.workers(include_stopped=True)}
    code = 0
    for record in records:
        worker = workers.get(record.worker or "")
        where = f"{record.worker} (queues {','.join(worker.queues)})" if worker else "?"
        print(f"{record.job}: {record.status} in {record.duration_s or 0:.1f}s on worker {where}")
        for label in config.jobs[record.job or ""].step_list if record.job else []:
            print(f"  step {label.label:<11} {label.task:<20} ran on {record.worker}")
        if record.status != "succeeded":
            print(f"  error: {record.error}", file=sys.stderr)
            code = 1
    emails = sorted(config.outbox_dir.rglob("*.eml"), key=lambda p: p.stat().st_mtime)
    print("\nWhere to look:")
    for email in emails:
        print(f"  the email:   {email.relative_to(REPO)}")
    if "://" in str(config.history_target):  # the throwaway PostgreSQL stops with the demo
        print("  the history: on the demo's PostgreSQL, which stops with the demo (docs/deploy.md keeps one)")
    else:
        print(f"  the history: .venv/bin/python runner.py --config {config_path.relative_to(REPO)} history")
    return code


def _status(config_path: Path) -> None:
    print("\nrunner.py status, while the cluster is up:")
    out = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--config", str(config_path), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for line in out.stdout.splitlines():
        if line.startswith(("scheduler:", "leader:", "executor:", "worker ", "queued in")):
            print(f"  {line}")


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {seconds:.0f}s (logs in var/demo-cluster/)")
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
