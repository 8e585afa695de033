"""The outbox's state in the history: any node sends what another composed, one node at a time, once.

The claim rules run on both databases (SQLite's conditional UPDATE, PostgreSQL's FOR UPDATE SKIP LOCKED);
the node that composed a message and died is played by an outbox folder nobody can read any more.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from opskit.delivery.compose import deliver
from opskit.delivery.mail import build_message
from opskit.delivery.outbox import Outbox, OutboxStatus, outbox_of
from opskit.delivery.smtp import send_pending
from opskit.engine.outbox_table import LEASE, HistoryIndex, claimant
from tests import smtp_fixtures
from tests.conftest import REPO, wait_for

tls_cert, smtp_env, smtp = smtp_fixtures.tls_cert, smtp_fixtures.smtp_env, smtp_fixtures.smtp
pytestmark = [pytest.mark.filterwarnings(spec) for spec in smtp_fixtures.AIOSMTPD_WARNINGS]

NOW = datetime(2026, 11, 16, 7, 2, tzinfo=UTC)
DEAD_HERE = f"{socket.gethostname()}:999999999:1.0"  # a process of this machine that no longer exists
ALIVE_ELSEWHERE = "other-node:4242:1.0"  # judged by its lease only


def message(n: int = 1):
    return build_message(
        sender="Ops Reports <reports@example.com>",
        to=["lead@example.com"],
        subject=f"Report {n}",
        text=f"body {n}\n",
        html=f"<p>body {n}</p>",
        now=NOW,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request, tmp_path) -> str:
    """The history both nodes share: a SQLite file (one machine) or PostgreSQL."""
    return str(tmp_path / "history.sqlite") if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_a_message_is_claimed_by_one_sender_at_a_time_and_a_dead_claim_is_taken_over(history, tmp_path):
    entry = Outbox(tmp_path / "a", history=history).add(message(), job="daily", run_id="r1")
    index = HistoryIndex(history)
    assert index.claim(entry.id, "node-a:1:1.0")
    assert not index.claim(entry.id, "node-b:2:2.0")  # held: the second sender skips it
    index.release(entry.id, "node-a:1:1.0")
    assert index.claim(entry.id, "node-b:2:2.0")
    index.release(entry.id, "node-b:2:2.0")
    # a holder on another machine is trusted until its lease runs out
    assert index.claim(entry.id, ALIVE_ELSEWHERE, now=NOW)
    assert not index.claim(entry.id, "node-b:2:2.0", now=NOW + LEASE - timedelta(seconds=1))
    assert index.claim(entry.id, "node-b:2:2.0", now=NOW + LEASE + timedelta(seconds=1))
    index.release(entry.id, "node-b:2:2.0")
    # a holder on this machine whose process is gone is replaced at once
    assert index.claim(entry.id, DEAD_HERE)
    assert index.claim(entry.id, claimant())
    index.release(entry.id, claimant())


def test_mail_composed_by_a_node_that_died_is_sent_by_another_once(history, tmp_path, smtp):
    node_a = smtp.settings(tmp_path / "node-a")
    node_a._shared_history = history
    saved = deliver(node_a, message(1), send=False)
    assert saved.status == OutboxStatus.PENDING
    shutil.rmtree(tmp_path / "node-a")  # node A is gone, its disk with it
    node_b = smtp.settings(tmp_path / "node-b")
    node_b._shared_history = history
    report = send_pending(node_b)
    assert report.sent == [saved.id] and report.ok
    assert [r.message["Subject"] for r in smtp.received] == ["Report 1"]
    assert send_pending(node_b).sent == [] and len(smtp.received) == 1  # never twice
    assert [e.status for e in outbox_of(node_b).entries()] == [OutboxStatus.SENT]


def test_a_sender_that_died_before_the_data_is_retried_after_it_uncertain(history, tmp_path, smtp):
    settings = smtp.settings(tmp_path / "outbox")
    settings._shared_history = history
    outbox = outbox_of(settings)
    before = outbox.add(message(1))
    after = outbox.add(message(2))
    index = HistoryIndex(history)
    for entry, phase in ((before, "envelope"), (after, "data")):  # the dead sender's last records
        assert index.claim(entry.id, DEAD_HERE)
        outbox.set_state(entry.id, OutboxStatus.SENDING, phase=phase)
    report = send_pending(settings)
    assert report.sent == [before.id] and report.uncertain == [after.id]
    assert [r.message["Subject"] for r in smtp.received] == ["Report 1"]  # the uncertain one is not resent
    assert outbox.get(after.id).status == OutboxStatus.UNCERTAIN
    outbox.dismiss(after.id)  # today's semantics hold: a person decides
    assert outbox.get(after.id).status == OutboxStatus.DISMISSED


SENDER = """
import sys
import time
from pathlib import Path
from opskit.config.email import EmailSettings
from opskit.delivery.smtp import send_pending
from opskit.engine import outbox_table  # noqa: F401
settings = EmailSettings.model_validate_json(Path(sys.argv[1]).read_text())
settings._shared_history = sys.argv[2]
Path(sys.argv[3]).touch()
while not Path(sys.argv[4]).exists():  # start together
    time.sleep(0.005)
report = send_pending(settings)
print(len(report.sent))
"""


def test_two_nodes_flushing_at_once_send_each_message_once(pg_url, tmp_path, smtp):
    """Two machines share a history only on PostgreSQL (SQLite's conditional UPDATE is the test above's)."""
    history = pg_url
    settings = smtp.settings(tmp_path / "node-a")
    settings._shared_history = history
    outbox = outbox_of(settings)
    ids = [outbox.add(message(n)).id for n in range(12)]
    (tmp_path / "settings.json").write_text(smtp.settings(tmp_path / "node-b").model_dump_json())
    go = tmp_path / "go"
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SENDER,
                str(tmp_path / "settings.json"),
                history,
                str(tmp_path / f"ready{i}"),
                str(go),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    wait_for(lambda: all((tmp_path / f"ready{i}").exists() for i in range(2)), what="both nodes to be ready")
    go.touch()
    outputs = [node.communicate(timeout=60) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert sum(int(out) for out, _ in outputs) == len(ids)  # between them, every message, each once
    subjects = sorted(r.message["Subject"] for r in smtp.received)
    assert subjects == sorted(f"Report {n}" for n in range(12))
    assert {e.status for e in outbox.entries()} == {OutboxStatus.SENT}


def test_two_threads_of_one_process_never_hold_one_message(history, tmp_path):
    """Two web requests sending the outbox at once run in one process: each thread is its own claimant."""
    import threading

    entry = Outbox(tmp_path / "a", history=history).add(message(), job="daily", run_id="r1")
    index = HistoryIndex(history)
    mine = claimant()
    assert index.claim(entry.id, mine)
    answers: list[bool] = []
    other = threading.Thread(target=lambda: answers.append(index.claim(entry.id, claimant())))
    other.start()
    other.join(10)
    assert answers == [False]  # held by the first thread, which is alive
    assert index.claim(entry.id, mine)  # the holder itself may renew
    index.release(entry.id, mine)
