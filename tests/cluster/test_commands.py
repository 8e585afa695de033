"""``runner.py worker`` and ``status`` with Celery configured, without a Redis (usage errors, a broker down)."""

from __future__ import annotations

from tests.conftest import Project, free_port


def _celery(project: Project, password: str = "") -> None:
    auth = f":{password}@" if password else ""
    project.write_config(
        f"executor:\n  kind: celery\n  broker: redis://{auth}127.0.0.1:{free_port()}/0\n"
        "jobs:\n  nightly:\n    task: kitchen_sink\n"
    )


def test_a_worker_needs_celery_in_the_config(run_cli) -> None:
    result = run_cli("worker")
    assert result.exit_code == 2
    assert "runner.py worker needs Celery in config.yaml" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2


def test_bad_worker_options_are_usage_errors(run_cli, tmp_project: Project) -> None:
    _celery(tmp_project)
    bad_queue = run_cli("worker", "--queues", "Browser Queue")
    assert bad_queue.exit_code == 2 and "'Browser Queue' is not a queue name" in bad_queue.stderr
    bad_concurrency = run_cli("worker", "--concurrency", "0")
    assert bad_concurrency.exit_code == 2 and "--concurrency: 0" in bad_concurrency.stderr


def test_status_check_fails_when_no_worker_is_up_and_the_broker_is_down(run_cli, tmp_project: Project) -> None:
    _celery(tmp_project, password="hunter2-broker")
    result = run_cli("status", "--check")
    assert result.exit_code == 1
    assert "executor: celery, broker redis://***@127.0.0.1:" in result.stdout
    assert "workers: none (start one with runner.py worker)" in result.stdout
    assert "does not answer" in result.stdout
    assert "leader: none (no scheduler is running)" in result.stdout
    assert "hunter2-broker" not in result.stdout + result.stderr  # the password is never shown


def test_local_status_says_nothing_of_workers(run_cli) -> None:
    result = run_cli("status")
    assert result.exit_code == 0
    assert "executor:" not in result.stdout and "worker" not in result.stdout


def test_a_machine_without_chromium_takes_no_browser_runs(run_cli, tmp_project: Project, monkeypatch) -> None:
    _celery(tmp_project)
    monkeypatch.setenv("OPSKIT_CHROMIUM", str(tmp_project.root / "no-such-chrome"))
    result = run_cli("worker", "--queues", "default,browser")
    assert result.exit_code == 2
    assert "--queues browser: there is no Chromium on this machine" in result.stderr
