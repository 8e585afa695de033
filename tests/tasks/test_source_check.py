"""source_check against real local HTTP servers: one up, one failing, one not listening."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import free_port


def config_with_sources(project, sources: dict[str, str]) -> None:
    lines = ["sources:"] + [f"  {name}:\n    url: {url}" for name, url in sources.items()]
    lines += ["jobs:", "  check:", "    task: source_check"]
    project.write_config("\n".join(lines) + "\n")


def test_all_sources_up(run_cli, tmp_project, http_server):
    config_with_sources(tmp_project, {"console": http_server(), "api": http_server({"/": 302})})
    result = run_cli("run", "check", "--json")
    assert result.exit_code == 0, result.stdout
    record = json.loads(result.stdout)
    summary = record["result"]["summary"]
    assert summary["console"].startswith("HTTP 200 in ") and summary["api"].startswith("HTTP 302 in ")
    checks = json.loads((Path(record["folder"]) / "source_check.json").read_text())
    assert [c["source"] for c in checks] == ["api", "console"]
    assert all(c["problem"] is None and c["latency_ms"] >= 0 for c in checks)


def test_a_source_that_is_down_fails_the_run_with_a_readable_summary(run_cli, tmp_project, http_server):
    closed = f"http://127.0.0.1:{free_port()}/"
    config_with_sources(tmp_project, {"console": http_server(), "vendor": http_server({"/": 503}), "wiki": closed})
    result = run_cli("run", "check")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert "failed" in first
    assert "2 of 3 source(s) failed: vendor: HTTP 503 from http://127.0.0.1:" in first
    assert f"wiki: cannot reach {closed} (connection refused)" in first


def test_only_the_named_sources_are_checked(run_cli, tmp_project, http_server):
    config_with_sources(tmp_project, {"console": http_server(), "wiki": f"http://127.0.0.1:{free_port()}/"})
    result = run_cli("run", "check", "--param", "sources=console", "--json")
    assert result.exit_code == 0
    assert list(json.loads(result.stdout)["result"]["summary"]) == ["console"]
