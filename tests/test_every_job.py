"""Every job the shipped config.yaml defines, run as a user runs it (``runner.py run JOB``) against the
Moderation Console, and each email's claims — its headline line, counts, misses and problems — checked
against the workbook it attaches and against the data. Slow (about a minute: two browser exports)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from io import BytesIO

import pytest
import requests
import yaml
from openpyxl import load_workbook

from demo.fixtures import write_cases_csv, write_staffing_workbook, write_vendor_workbooks
from demo.generate import generate
from demo.server import ConsoleServer
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.browser]

RUNS = {  # job -> the scheduled time it runs as (the console's data ends on Sunday 2026-11-15)
    "weekly-ops-review": "2026-11-16T08:00",
    "daily-efficiency": "2026-11-13T08:30",
    "sla-watch": "2026-11-16T08:15",
    "vendor-consolidation": "2026-11-16T07:00",
    "capacity-plan": "2026-11-16T09:00",
    "source-check": "2026-11-16T09:00",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The shipped config.yaml and tasks in a folder of their own, with the data the jobs read."""
    root = tmp_path_factory.mktemp("project")
    db = generate(root / "console.db", seed=7, days=28, start=date(2026, 10, 19), scale=6000).db_path
    shutil.copytree(REPO / "tasks", root / "tasks")
    shutil.copy(REPO / "config.yaml", root / "config.yaml")
    data = root / "data"
    (data / "cases").mkdir(parents=True)
    write_vendor_workbooks(db, data / "inbox" / "vendors", date_from="2026-11-13", date_to="2026-11-13")
    write_staffing_workbook(db, data / "staffing.xlsx", first_week=date(2026, 11, 16), weeks=8)
    for week, (start, end) in {
        "2026-W43": ("2026-10-19", "2026-10-25"),
        "2026-W44": ("2026-10-26", "2026-11-01"),
        "2026-W45": ("2026-11-02", "2026-11-08"),
        "2026-W46": ("2026-11-09", "2026-11-15"),
    }.items():  # what export_cases with publish: true leaves for the capacity plan
        write_cases_csv(db, data / "cases" / f"{week}.csv", start=start, end=end, date_by="completed")
    return root, db


@pytest.fixture(scope="module")
def emails(project):
    """Run every job of config.yaml once; the messages each left in the outbox, by job."""
    from opskit.cli.main import main
    from opskit.config.model import load_config
    from opskit.delivery.outbox import Outbox

    root, db = project
    config = root / "config.yaml"
    jobs = list(yaml.safe_load(config.read_text())["jobs"])
    assert sorted(jobs) == sorted(RUNS), "a job was added to config.yaml: give it a run time and checks here"
    env = pytest.MonkeyPatch()
    with ConsoleServer(db, use_env=False) as console:
        env.setenv("CONSOLE_URL", console.url)
        env.setenv("CONSOLE_USER", console.username)
        env.setenv("CONSOLE_PASSWORD", console.password)
        env.setenv("CONSOLE_API_TOKEN", console.api_token)
        codes = {job: main(["--config", str(config), "run", job, "--as-of", RUNS[job]]) for job in jobs}
        queues = requests.get(
            console.url + "/api/v1/queues", headers={"Authorization": f"Bearer {console.api_token}"}, timeout=10
        ).json()["data"]
        outbox_dir = load_config(config, environ=dict(os.environ)).outbox_dir
    env.undo()
    assert codes == dict.fromkeys(jobs, 0)
    outbox = Outbox(outbox_dir)
    by_job: dict[str, list[EmailMessage]] = {}
    for entry in outbox.entries():
        by_job.setdefault(entry.job, []).append(
            BytesParser(policy=policy.default).parsebytes(outbox.read_bytes(entry.id))
        )
    return by_job, queues


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def workbook(message: EmailMessage, prefix: str):
    (data,) = [p.get_content() for p in message.iter_attachments() if p.get_filename().startswith(prefix)]
    return load_workbook(BytesIO(data), data_only=True)


def rows(ws) -> list[dict]:
    header = [c.value for c in ws[1]]
    return [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True) if any(r)]


def missed_lines(text: str) -> list[str]:
    block = text.split("MISSED TARGETS", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines() if line.startswith("  - ")]


def verdict_count(text: str, words: str) -> int:
    match = re.search(rf"(\d+) {words}", text.split("\n\n", 2)[1])
    return int(match.group(1)) if match else 0


def test_every_job_ran_and_mailed_what_it_should(emails):
    by_job, _ = emails
    assert {job: len(m) for job, m in by_job.items()} == {
        "weekly-ops-review": 1,
        "daily-efficiency": 1,
        "sla-watch": 1,
        "vendor-consolidation": 1,
        "capacity-plan": 1,
    }  # source-check mails only on failure, and the console answered


@pytest.mark.parametrize("job", ["weekly-ops-review", "daily-efficiency"])
def test_comparison_emails_say_what_their_workbook_says(emails, job):
    (message,) = emails[0][job]
    text = text_of(message)
    wb = workbook(message, "efficiency_")
    summary = {r["Metric"]: r for r in rows(wb["Summary"])}
    assert f"{summary['Completed']['This period']:,}" in text and f"{summary['Incoming']['This period']:,}" in text
    for label in ("Completed", "Incoming"):  # workload: a change, never better or worse
        line = next(line for line in text.splitlines() if line.strip().startswith(label))
        assert "better" not in line and "worse" not in line
    exceptions = rows(wb["Exceptions"])
    # the headline's count is the workbook's, and the email lists the worst first, as the workbook does
    assert verdict_count(text, "targets? missed") == len(exceptions)
    listed = missed_lines(text)
    assert len(listed) == min(10, len(exceptions))
    shown = [float(re.search(r"\(([\d.]+)% attainment\)", line).group(1)) for line in listed]
    assert shown == sorted(shown)
    assert [round(r["Attainment"] * 100, 1) for r in exceptions[: len(listed)]] == shown
    if len(exceptions) > 10:
        assert f"...and {len(exceptions) - 10} more in the attached workbook." in text
    if "Drivers" in wb.sheetnames:
        drivers = [r for r in rows(wb["Drivers"]) if r["Share"] is not None]
        for d in drivers:
            assert f"{d['Driver']}: {d['Share'] * 100:.1f}%" in text
        share_of = text.split("Each share is of ", 1)[1].split("\n", 1)[0].rstrip(".")
        assert any(r["Driver"] == f"Each share is of {share_of}." for r in rows(wb["Drivers"]))


def test_the_sla_watch_says_which_queues_are_in_breach_worst_first(emails):
    by_job, queues = emails
    (message,) = by_job["sla-watch"]
    text = text_of(message)
    over = []  # recomputed from the console's API with the shipped limits (500 cases, 24 hours)
    for q in queues:
        oldest = q.get("oldest_age_hours") or 0
        if q["backlog"] > 500:
            over.append((500 / q["backlog"], q["name"], "Backlog (cases)"))
        if oldest > 24:
            over.append((24 / oldest, q["name"], "Oldest case"))
    in_breach = {name for _, name, _ in over}
    assert f"{len(in_breach)} in breach now" in text.split("\n\n", 2)[1] or not in_breach
    block = text.split("IN BREACH NOW", 1)[1].split("\n\n", 1)[0]
    listed = [line[4:].split(":")[0] for line in block.splitlines() if line.startswith("  - ")]
    expected = [f"{name} / {metric}" for _, name, metric in sorted(over, key=lambda o: o[0])]
    assert listed == expected[:10]
    assert "Every target" not in text and "Headline KPIs".upper() not in text
    for line in block.splitlines():  # hours with one decimal, never "25" for 25.35 h
        if "Oldest case" in line:
            assert re.search(r": \d+\.\d h, limit 24\.0 h$", line), line


def test_the_vendor_email_puts_problems_first_and_matches_its_master(emails):
    (message,) = emails[0]["vendor-consolidation"]
    text = text_of(message)
    assert "target" not in text.lower()  # an ingestion report makes no claim about targets
    wb = workbook(message, "vendor_master_")
    files = rows(wb["Files"])
    quarantined = [f for f in files if f["Status"] == "quarantined"]
    assert quarantined, "the demo inbox holds one broken workbook"
    problems = text.split("WHAT TO FIX", 1)[1].split("\n\n", 1)[0]
    for f in quarantined:
        assert f"! {f['File']}: " in problems
    assert text.index("WHAT TO FIX") < text.index("FILES")
    merged = sum(f["Rows"] for f in files if f["Status"] == "archived")
    assert len(rows(wb["Master"])) == merged
    assert re.search(rf"Rows merged\s+{merged:,}\n", text)


def test_the_capacity_plan_shows_its_horizon_and_the_worst_shortfall_first(emails):
    (message,) = emails[0]["capacity-plan"]
    text = text_of(message)
    assert text.splitlines()[3].startswith("Weeks 2026-W47 to 2026-W52 (16 Nov – 27 Dec 2026): ")
    wb = workbook(message, "capacity_plan_")
    short = rows(wb["Shortfalls"])
    assert verdict_count(text, "queue-weeks? short") == len(short)
    coverage = sorted(r["Supply FTE"] / r["Required FTE"] for r in short)
    block = text.split("SHORTFALLS", 1)[1].split("\n\n", 1)[0]
    listed = [line for line in block.splitlines() if line.startswith("  - ")]
    first = re.search(r"\((\d+)% covered\)", listed[0]).group(1)
    assert int(first) == round(coverage[0] * 100)
    assert [r["Covered"] for r in short] == sorted(r["Covered"] for r in short)  # the workbook, worst first too
    weeks = {r["Week"]: r for r in rows(wb["By week"])}
    assert len(weeks) == 6 and f"{weeks['2026-W47']['Required FTE']:,.1f}" in text
