"""File-path parameters stay inside the project's data roots, whichever door the value came through.

``vendor_consolidation`` moves files (inbox, archive, quarantine): a hostile value there would archive a
folder of someone else's files. Each entry point is tried — ``runner.py run --param``, config.yaml's
``params:`` (``validate`` and ``run``), the web app's JSON API — with ``..`` escapes, absolute paths and a
symbolic link inside the data folder that points out of it. Each is refused with one line and exit 2 (422
from the API) before a run is recorded; paths inside the roots, and a configured extra root, still work.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO

CONFIG = """\
timezone: Europe/Berlin
defaults: {{timeout: 1m, retries: 0, retry_backoff: 0s}}
{paths}jobs:
  ingest:
    task: vendor_consolidation
    group: ops
    params: {{{params}}}
"""

HOSTILE = ["../outside", "inbox/../../outside", "/etc", "link-out/vendors", "link-out"]


@pytest.fixture
def project(tmp_project):
    root = tmp_project.root
    (root / "data" / "inbox" / "vendors").mkdir(parents=True)
    (root / "outside").mkdir()
    (root / "data" / "link-out").symlink_to(root / "outside")  # inside by name, outside in fact
    (root / "data" / "link-in").symlink_to(root / "data" / "inbox")
    (root / "elsewhere" / "drop").mkdir(parents=True)
    return tmp_project


def configure(project, params: str = "", paths: str = "") -> None:
    project.config.write_text(CONFIG.format(params=params, paths=paths))


def runs(project) -> int:
    from opskit.engine.history import RunStore

    path = project.root / "var" / "history.sqlite"
    if not path.exists():
        return 0
    with RunStore(path) as store:
        return len(store.list(limit=100))


def one_line_refusal(result, value: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"'{value}' is outside the data folders" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", HOSTILE)
def test_a_param_on_the_command_line_cannot_leave_the_data_folder(project, run_cli, value):
    configure(project)
    result = run_cli("run", "vendor_consolidation", "--param", f"archive={value}")
    one_line_refusal(result, value)
    assert "parameter 'archive'" in result.stderr
    assert runs(project) == 0
    assert list((project.root / "outside").iterdir()) == []


def test_the_symbolic_link_is_named_as_the_way_out(project, run_cli):
    configure(project)
    result = run_cli("run", "vendor_consolidation", "--param", "quarantine=link-out", "--dry-run")
    one_line_refusal(result, "link-out")
    assert "(through a symbolic link)" in result.stderr


@pytest.mark.parametrize("value", ["inbox/vendors", "link-in/vendors", "./inbox/../inbox/vendors", "{data}/inbox"])
def test_paths_inside_the_data_folder_are_accepted(project, run_cli, value):
    configure(project)
    value = value.format(data=project.root / "data")
    result = run_cli("run", "vendor_consolidation", "--param", f"inbox={value}", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"inbox = {value}" in result.stdout


def test_a_comma_separated_list_of_paths_is_checked_one_by_one(project, run_cli):
    configure(project)
    result = run_cli("run", "efficiency_report", "--param", "cases=cases/a.csv,../../etc/passwd", "--dry-run")
    one_line_refusal(result, "../../etc/passwd")
    assert "parameter 'cases'" in result.stderr


def test_config_params_are_refused_by_validate_and_run_with_their_line(project, run_cli):
    configure(project, params="inbox: /etc")
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "config.yaml:7: job 'ingest', parameter 'inbox': '/etc' is outside the data folders" in result.stderr
    result = run_cli("run", "ingest")
    one_line_refusal(result, "/etc")
    assert runs(project) == 0


def test_a_configured_data_root_admits_its_own_absolute_paths(project, run_cli):
    drop = project.root / "elsewhere" / "drop"
    configure(project, paths=f"paths:\n  data_roots: [data, {drop}]\n")
    ok = run_cli("run", "vendor_consolidation", "--param", f"inbox={drop}", "--dry-run")
    assert ok.exit_code == 0, ok.stderr
    refused = run_cli("run", "vendor_consolidation", "--param", f"inbox={project.root / 'elsewhere'}", "--dry-run")
    one_line_refusal(refused, str(project.root / "elsewhere"))
    assert f"paths must stay inside {project.root / 'data'}, {drop}" in refused.stderr


def test_an_ordinary_run_still_moves_its_files_inside_the_data_folder(project, run_cli):
    configure(project)
    (project.root / "data" / "inbox" / "vendors" / "x.txt").write_text("not a workbook")
    result = run_cli("run", "vendor_consolidation")
    assert result.exit_code == 0, result.stderr  # an ordinary run still works
    assert (project.root / "data" / "inbox" / "quarantine" / "x.txt").exists()


@pytest.mark.process
def test_a_web_run_request_cannot_leave_the_data_folder(tmp_path):
    from opskit.web.server import WebServer
    from tests.web.conftest import api, make_project

    project = make_project(tmp_path / "web", CONFIG.format(params="", paths=""))
    shutil.copy(REPO / "tasks" / "vendor_consolidation.py", project.root / "tasks")
    (project.root / "data").mkdir()
    (project.root / "data" / "link-out").symlink_to(tmp_path)  # the web's own check reads only the text
    with WebServer(project.config) as web:
        http = api(web, project, "rui")
        for value in ("../../etc", "/etc", "link-out", "link-out/x"):
            resp = http.post(
                web.url + "/api/v1/jobs/ingest/runs", json={"params": {"archive": value}, "dry_run": False}
            )
            assert resp.status_code == 422, resp.text
            assert "outside" in resp.json()["error"] and "parameter 'archive'" in resp.json()["error"]
        link = http.post(web.url + "/api/v1/jobs/ingest/runs", json={"params": {"archive": "link-out"}})
        assert "'link-out' is outside the data folders (through a symbolic link)" in link.json()["error"]
        resp = http.post(web.url + "/api/v1/jobs/ingest/runs", json={"params": {"archive": "a"}, "dry_run": True})
        assert resp.status_code == 200, resp.text
    with project.store() as store:
        assert store.list(limit=10) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\x00b", "a path cannot contain a NUL character"),
        ("loop/x", "'loop/x' cannot be resolved (a symbolic link loop)"),
        ("x" * 5000 + "/../../..", "is outside the data folders"),
    ],
)
def test_odd_values_are_one_line_refusals_not_tracebacks(project, run_cli, value, message):
    (project.root / "data" / "loop").symlink_to(project.root / "data" / "loop")  # a link to itself
    configure(project)
    result = run_cli("run", "vendor_consolidation", "--param", f"inbox={value}", "--dry-run")
    assert result.exit_code == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr[:300]


@pytest.mark.parametrize("value", ["", "x" * 300, "~/reports", "a,b"])
def test_harmless_odd_values_stay_inside(project, run_cli, value):
    configure(project)
    result = run_cli("run", "vendor_consolidation", "--param", f"inbox={value}", "--dry-run")
    assert result.exit_code == 0, result.stderr
