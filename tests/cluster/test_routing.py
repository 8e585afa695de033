"""executor: in config.yaml, and which workers' queue a run goes to (no Redis needed here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opskit.config.model import load_config
from opskit.config.urls import shown_url
from opskit.engine.planning import plan_run
from opskit.errors import ConfigError
from opskit.tasks import discover
from tests.conftest import REPO, Project

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def _config(project: Project, executor: str, jobs: str = "", env: dict[str, str] | None = None) -> object:
    project.write_config(f"{executor}\njobs:\n  nightly:\n    task: kitchen_sink\n{jobs}")
    return load_config(project.config, environ=env or {})


def test_local_is_the_default_and_a_word(tmp_project: Project) -> None:
    for text in ("", "executor: local", "executor: {kind: local}"):
        assert _config(tmp_project, text).settings.executor.kind == "local"  # type: ignore[attr-defined]


def test_celery_broker_password_comes_from_the_environment_and_is_a_secret(tmp_project: Project) -> None:
    config = _config(
        tmp_project,
        "executor:\n  kind: celery\n  broker: redis://:${REDIS_PASSWORD}@10.0.0.5:6379/0\n  heartbeat: 1s",
        env={"REDIS_PASSWORD": "s3cret-pw"},
    )
    executor = config.settings.executor  # type: ignore[attr-defined]
    assert executor.celery
    assert executor.broker == "redis://:s3cret-pw@10.0.0.5:6379/0"
    assert "s3cret-pw" in config.secrets  # type: ignore[attr-defined]
    assert executor.shown_broker == "redis://***@10.0.0.5:6379/0"
    assert "s3cret-pw" not in shown_url("redis://user:s3cret-pw@h/0")


@pytest.mark.parametrize(
    ("executor", "expected"),
    [
        ("executor:\n  kind: celery\n  broker: http://x:1/0", "is not a Redis URL"),
        ("executor:\n  kind: celery\n  broker: redis://:pw@/0", "is not a Redis URL"),
        ("executor:\n  kind: celery", "missing required key 'broker'"),
        ("executor:\n  kind: celery\n  broker: redis://h:6379/0\n  brokr: x", "unknown key 'brokr'"),
    ],
)
def test_bad_executor_sections_are_one_readable_line(tmp_project: Project, executor: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_project, executor)
    assert expected in str(caught.value)
    assert "config.yaml:" in str(caught.value)  # it names the file and line
    assert ":pw@" not in str(caught.value)


def test_a_bad_queue_name_is_refused(tmp_project: Project) -> None:
    with pytest.raises(ConfigError, match="queue 'Browser Q'"):
        _config(tmp_project, "", jobs="    queue: Browser Q\n")


def test_runs_route_to_the_browser_queue_when_a_task_uses_the_browser(tmp_project: Project) -> None:
    registry = discover(REPO / "tasks")
    assert registry.get("export_cases").uses_browser
    assert registry.get("scrape_queue_dashboard").uses_browser
    assert not registry.get("efficiency_report").uses_browser
    config = load_config(REPO / "config.yaml", environ={"CONSOLE_PASSWORD": "x", "CONSOLE_API_TOKEN": "y"})
    review = plan_run(config, registry, "weekly-ops-review", scheduled_for=NOW)
    assert review.queue == "browser"  # one step exports through the browser
    plain = plan_run(config, registry, "efficiency_report", scheduled_for=NOW)
    assert plain.queue == "default"


def test_a_job_names_its_queue_and_a_task_says_it_uses_the_browser(tmp_project: Project) -> None:
    tmp_project.add_task(
        "shoots",
        '''
        from opskit import task

        @task(uses_browser=True)
        def shoots(ctx):
            """Says so itself."""
        ''',
    )
    config = _config(tmp_project, "", jobs="    queue: big-memory\n  shots:\n    task: shoots\n")
    registry = discover(Path(tmp_project.root / "tasks"))
    assert plan_run(config, registry, "nightly", scheduled_for=NOW).queue == "big-memory"  # type: ignore[arg-type]
    assert plan_run(config, registry, "shots", scheduled_for=NOW).queue == "browser"  # type: ignore[arg-type]
