"""A Celery worker follows config.yaml as the scheduler does: a valid change is taken before the next run,
an invalid one keeps the config it runs."""

from __future__ import annotations

import os

from opskit.config.model import load_config
from opskit.engine.cluster.runs import WorkerState

BASE = "timezone: UTC\njobs:\n  a:\n    task: kitchen_sink\n"


def _write(path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))  # a distinct modification time, whatever the file system's resolution


def test_a_worker_takes_a_changed_config_before_its_next_run_and_keeps_its_own_when_invalid(tmp_project):
    path = tmp_project.config
    _write(path, BASE, 1_000_000)
    state = WorkerState(config=load_config(path), name="w@here")
    state.refresh_config()  # the first look notes the file's time
    assert list(state.config.jobs) == ["a"]
    _write(path, BASE + "  b:\n    task: kitchen_sink\n    timezone: Asia/Tokyo\n", 1_000_010)
    state.refresh_config()
    assert list(state.config.jobs) == ["a", "b"] and str(state.config.jobs["b"].timezone) == "Asia/Tokyo"
    _write(path, BASE + "  c: {task: kitchen_sink, no_such_key: 1}\n", 1_000_020)
    state.refresh_config()
    assert list(state.config.jobs) == ["a", "b"]  # the invalid file changed nothing
