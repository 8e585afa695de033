"""The JSON API with bearer tokens: the same roles and groups as the pages, parameters validated by the
--param code, runs through the scheduler's queue, artifacts downloadable."""

from __future__ import annotations

import io

import openpyxl
import pytest
import requests

from tests.conftest import wait_for
from tests.web.conftest import api


def test_no_token_or_a_bad_one_is_401_with_a_readable_error(web, project):
    resp = requests.get(web.url + "/api/v1/jobs")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="opskit"'
    assert resp.json() == {"error": "send an API token: Authorization: Bearer <token> (runner.py users token NAME)"}
    bad = requests.get(web.url + "/api/v1/jobs", headers={"Authorization": "Bearer opskit_nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "the token is unknown, revoked, or its user is disabled"
    cookie_only = requests.Session()
    cookie_only.cookies.set("opskit_session", "x")
    assert cookie_only.get(web.url + "/api/v1/jobs").status_code == 401  # the API takes tokens only


def test_jobs_list_only_the_callers_groups_and_another_groups_job_is_404(web, project):
    names = [j["name"] for j in api(web, project, "vic").get(web.url + "/api/v1/jobs").json()["jobs"]]
    assert sorted(names) == ["broken", "chain", "daily-report"]
    assert api(web, project, "vic").get(web.url + "/api/v1/jobs/other-team").status_code == 404
    assert api(web, project, "fin").get(web.url + "/api/v1/jobs/daily-report/runs").status_code == 404
    every = [j["name"] for j in api(web, project, "ada").get(web.url + "/api/v1/jobs").json()["jobs"]]
    assert "other-team" in every
    job = api(web, project, "vic").get(web.url + "/api/v1/jobs/daily-report").json()
    assert job["groups"] == ["ops"] and len(job["next_slots"]) == 10
    assert job["steps"][0]["params"][0] == {"name": "period", "type": "Period", "help": "The days to report."}


def test_a_viewer_may_not_start_a_run(web, project):
    resp = api(web, project, "vic").post(web.url + "/api/v1/jobs/daily-report/runs", json={})
    assert resp.status_code == 403
    assert resp.json()["error"] == "This needs the runner role; you are a viewer. Ask an admin (runner.py users set)."


def test_a_bad_parameter_is_422_with_the_param_message(web, project):
    rui = api(web, project, "rui")
    resp = rui.post(web.url + "/api/v1/jobs/daily-report/runs", json={"params": {"period": "last_fortnight"}})
    assert resp.status_code == 422
    assert resp.json()["error"].startswith(
        "job 'daily-report', parameter 'period': 'last_fortnight' is not a period (use yesterday, today"
    )
    unknown = rui.post(web.url + "/api/v1/jobs/daily-report/runs", json={"params": {"perod": "x"}})
    assert unknown.json()["error"] == "job 'daily-report': unknown parameter 'perod'. Did you mean 'period'?"
    path = rui.post(web.url + "/api/v1/jobs/daily-report/runs", json={"params": {"label": "../../secrets"}})
    assert path.status_code == 422 and "points outside the project's folders" in path.json()["error"]
    not_json = rui.post(web.url + "/api/v1/jobs/daily-report/runs", data="period=x")
    assert not_json.status_code == 400


def test_dry_run_resolves_the_period_and_says_what_would_be_sent(web, project):
    resp = api(web, project, "rui").post(
        web.url + "/api/v1/jobs/daily-report/runs", json={"params": {"period": "2026-W46"}, "dry_run": True}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["steps"][0]["periods"]["period"] == {"start": "2026-11-09", "end": "2026-11-15"}
    assert body["email"]["to"] == ["leads@example.com"] and body["email"]["attach"] == ["*.xlsx"]
    with project.store() as store:
        assert store.run_requests() == [] or all(r.job != "daily-report" for r in store.run_requests())


def test_a_revoked_token_stops_working(web, project):
    from opskit.web.security import digest, new_token

    token = new_token()
    with project.store() as store:
        token_id = store.add_token("vic", digest(token))
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(web.url + "/api/v1/jobs", headers=headers).status_code == 200
    with project.store() as store:
        assert store.revoke_token(token_id)
    assert requests.get(web.url + "/api/v1/jobs", headers=headers).status_code == 401


@pytest.mark.slow
@pytest.mark.process
def test_a_run_started_by_the_api_goes_through_the_scheduler_and_its_workbook_downloads(web, project, scheduler):
    rui = api(web, project, "rui")
    resp = rui.post(
        web.url + "/api/v1/jobs/daily-report/runs", json={"params": {"period": "2026-11-02..2026-11-04", "lines": 2}}
    )
    assert resp.status_code == 202 and resp.json()["scheduler_running"] is True
    status_url = web.url + resp.headers["Location"]
    request = wait_for(lambda: (r := rui.get(status_url).json())["run_id"] and r, timeout=30, what="the run")
    run_url = web.url + request["links"]["run"]
    run = wait_for(lambda: (r := rui.get(run_url).json())["final"] and r, timeout=60, what="the run to end")
    assert run["status"] == "succeeded" and run["trigger"] == "web" and run["requested_by"] == "rui"
    assert run["params"]["period"] == "2026-11-02..2026-11-04" and run["params"]["lines"] == 2
    artifacts = rui.get(web.url + run["links"]["artifacts"]).json()["artifacts"]
    workbook = next(a for a in artifacts if a["name"].endswith(".xlsx"))
    data = rui.get(web.url + workbook["url"])
    assert data.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(data.content)).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
    ]
    listed = rui.get(web.url + "/api/v1/jobs/daily-report/runs").json()["runs"]
    assert listed[0]["id"] == run["id"] and "folder" not in listed[0]
    assert api(web, project, "fin").get(run_url).status_code == 404  # another group's run is invisible
    with project.store() as store:
        actions = [(e.action, e.user) for e in store.audit_entries(limit=5)]
    assert ("download", "rui") in actions and ("run", "rui") in actions
