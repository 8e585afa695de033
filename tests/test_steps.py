"""Jobs with steps: a chain of tasks in one run, each seeing the results of the earlier ones."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import history

CHAIN = """\
timezone: Europe/Berlin
jobs:
  chain:
    schedule: "0 8 * * MON"
    steps:
      - name: collect
        task: kitchen_sink
        params:
          period: last_week
          count: 2
      - name: report
        task: kitchen_sink
        params:
          period: last_week
      - task: echo_steps
"""


def test_steps_run_in_order_and_each_sees_the_earlier_results(run_cli, tmp_project):
    tmp_project.write_config(CHAIN)
    result = run_cli("run", "chain", "--as-of", "2026-11-16T08:00", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["task"] == "kitchen_sink > kitchen_sink > echo_steps"
    assert record["params"]["collect"]["count"] == 2 and record["params"]["report"]["count"] == 3
    seen = json.loads((Path(record["folder"]) / "steps.json").read_text())
    assert list(seen) == ["collect", "report"] and seen["collect"]["rows"] == 9
    summary = record["result"]["summary"]
    assert summary["period"] == "overridden?"  # the last step to give a key wins
    assert summary["seen"] == ["collect", "report"]
    assert record["result"]["rows"] == 9  # the last step with a row count (echo_steps has none)
    assert list(summary["steps"]) == ["collect", "report", "echo_steps"]
    assert len(record["result"]["files"]) == 3


def test_the_report_step_wins_the_summary(run_cli, tmp_project):
    tmp_project.write_config(CHAIN.replace("    steps:\n", "    report_step: report\n    steps:\n"))
    record = json.loads(run_cli("run", "chain", "--as-of", "2026-11-16T08:00", "--json").stdout)
    summary = record["result"]["summary"]
    assert summary["period"] == "2026-W46"  # from 'report', although echo_steps came later
    assert summary["seen"] == ["collect", "report"]  # keys the report step lacks still come in
    bad = tmp_project.write_config(CHAIN.replace("    steps:\n", "    report_step: reprt\n    steps:\n"))
    assert "report_step 'reprt' is not a step. Did you mean 'report'?" in run_cli("validate", config=bad).stderr


def test_params_from_the_command_line_go_to_every_step_that_has_them_or_to_one(run_cli, tmp_project):
    tmp_project.write_config(CHAIN)
    result = run_cli("run", "chain", "-p", "period=2026-W40", "-p", "report.count=11", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    params = json.loads(result.stdout)["params"]
    assert params["collect"]["period"] == params["report"]["period"] == "2026-W40"
    assert params["report"]["count"] == 11 and params["collect"]["count"] == 2
    bad = run_cli("run", "chain", "-p", "reprt.count=1")
    assert bad.exit_code == 2 and "job 'chain' has no step 'reprt'. Did you mean 'report'?" in bad.stderr
    none = run_cli("run", "chain", "-p", "colour=red")
    assert none.exit_code == 2 and "job 'chain': no step has a parameter 'colour'" in none.stderr


def test_a_failed_step_stops_the_chain_and_is_named(run_cli, tmp_project):
    tmp_project.write_config("""\
jobs:
  chain:
    steps:
      - {name: collect, task: kitchen_sink}
      - {name: transform, task: boom}
      - {task: echo_steps}
""")
    result = run_cli("run", "chain")
    assert result.exit_code == 1
    record = history(tmp_project).list(limit=1)[0]
    assert record.status == "failed"
    assert record.error == "step 'transform' (boom) failed: ValueError: the export had no header row"
    assert list(record.result["steps"]) == ["collect"]  # what finished is kept
    assert not (Path(record.folder) / "steps.json").exists()  # the last step never ran


def test_validate_checks_every_step(run_cli, tmp_project):
    tmp_project.write_config("""\
jobs:
  chain:
    steps:
      - task: kitchen_sink
        params:
          count: many
      - task: kitchen_snk
""")
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "config.yaml:6: job 'chain', step 'kitchen_sink', parameter 'count': 'many' is not valid" in result.stderr
    assert (
        "config.yaml:7: job 'chain', step 'kitchen_snk': unknown task 'kitchen_snk'. Did you mean 'kitchen_sink'?"
        in result.stderr
    )


def test_a_job_has_a_task_or_steps(run_cli, tmp_project):
    tmp_project.write_config("jobs:\n  x:\n    task: boom\n    steps: [{task: boom}]\n")
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "jobs.x: give the job either 'task' (one task) or 'steps' (a list of tasks), not both" in result.stderr
