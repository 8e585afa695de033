"""The weekly ops review as a user gets it: the shipped config.yaml's job against the Moderation Console,
through a real browser, delivered to a real SMTP server. Slow (about 15 s)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from email import policy
from email.parser import BytesParser
from io import BytesIO

import pytest

from demo.generate import generate
from demo.server import ConsoleServer
from tests import smtp_fixtures
from tests.conftest import REPO

tls_cert, smtp_env, smtp = smtp_fixtures.tls_cert, smtp_fixtures.smtp_env, smtp_fixtures.smtp
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    *(pytest.mark.filterwarnings(spec) for spec in smtp_fixtures.AIOSMTPD_WARNINGS),
]


@pytest.fixture(scope="module")
def console_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("console") / "console.db"
    generate(db, seed=7, days=28, start=date(2026, 10, 19), scale=6000)  # the story is in 2026-W46
    return db


def test_weekly_ops_review_lands_in_the_inbox_with_matching_numbers(tmp_path, console_db, smtp, monkeypatch, capsys):
    from openpyxl import load_workbook

    from opskit.cli.main import main

    shutil.copytree(REPO / "tasks", tmp_path / "tasks")
    shipped = (REPO / "config.yaml").read_text()
    config_text, n = re.subn(r"(?m)^email:\n(?:  .*\n)+", smtp.config_yaml(), shipped)
    assert n == 1, "the shipped config has one email: section"
    (tmp_path / "config.yaml").write_text(config_text)

    with ConsoleServer(console_db, use_env=False) as console:
        monkeypatch.setenv("CONSOLE_URL", console.url)
        monkeypatch.setenv("CONSOLE_USER", console.username)
        monkeypatch.setenv("CONSOLE_PASSWORD", console.password)
        monkeypatch.setenv("CONSOLE_API_TOKEN", console.api_token)
        code = main(
            ["--config", str(tmp_path / "config.yaml"), "run", "weekly-ops-review", "--as-of", "2026-11-16T08:00"]
        )
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err

    (received,) = smtp.received
    assert received.rcpt_tos == ["ops-leads@example.com"]
    message = BytesParser(policy=policy.default).parsebytes(received.data)
    assert message["Subject"] == "Weekly ops review 2026-W46"
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attachments) >= {"efficiency_2026-W46.xlsx", "weekly_review_2026-W46.pdf"}
    assert attachments["weekly_review_2026-W46.pdf"][:5] == b"%PDF-"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()

    summary = load_workbook(BytesIO(attachments["efficiency_2026-W46.xlsx"]), data_only=True)["Summary"]
    assert summary.title == load_workbook(BytesIO(attachments["efficiency_2026-W46.xlsx"])).sheetnames[0]
    rows = {r[0]: r for r in summary.iter_rows(min_row=2, values_only=True) if r[0]}
    # The email's headline numbers are the workbook's Summary numbers.
    assert f"{rows['Completed'][1]:,}" in text and f"{rows['Incoming'][1]:,}" in text
    sla = rows["SLA attainment"]
    assert f"{sla[1] * 100:.1f}%" in text
    arrow = "▲" if sla[3] > 0 else "▼"
    assert f"{arrow} {abs(sla[3]):.1f} pp" in text  # the change, in points, in both places
    aht = round(rows["AHT (s)"][1])
    assert f"{aht // 60}m {aht % 60:02d}s" in text
    # The planted story is in the email: Lumen BPO drove the change.
    assert "Lumen BPO" in html
    # The trend chart is inline, by Content-ID.
    related = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert related and related[0]["Content-ID"] and f"cid:{related[0]['Content-ID'].strip('<>')}" in html
