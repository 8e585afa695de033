"""The generator: deterministic, the right shape, hostile content, and the built-in story."""

from __future__ import annotations

import re
import sqlite3

import pytest

from demo import content
from demo.generate import STORY_CHANNEL, STORY_VENDOR, generate

TABLES = ("meta", "labels", "queues", "moderators", "cases", "shifts", "targets")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _dump(path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "small.db"
    summary = generate(path, seed=11, scale=1000)
    return path, summary


def test_same_seed_gives_identical_rows_and_another_seed_does_not(tmp_path, small):
    path, _ = small
    again = generate(tmp_path / "again.db", seed=11, scale=1000).db_path
    other = generate(tmp_path / "other.db", seed=12, scale=1000).db_path
    first, second, third = _dump(path), _dump(again), _dump(other)
    assert first == second
    assert first["cases"] != third["cases"]
    assert first["queues"] == third["queues"]  # the structure is fixed, the traffic is random


def test_small_data_set_has_the_documented_shape(small):
    path, summary = small
    conn = sqlite3.connect(path)
    n_queues = conn.execute("SELECT count(*) FROM queues").fetchone()[0]
    channels = {c for (c,) in conn.execute("SELECT DISTINCT channel FROM queues")}
    markets = {m for (m,) in conn.execute("SELECT DISTINCT market FROM queues")}
    vendors = {v for (v,) in conn.execute("SELECT DISTINCT vendor FROM moderators")}
    sites = conn.execute("SELECT count(DISTINCT site) FROM moderators").fetchone()[0]
    done, sampled, open_ = conn.execute(
        "SELECT sum(completed_at IS NOT NULL), sum(qa_sampled), sum(completed_at IS NULL) FROM cases"
    ).fetchone()
    assert 20 <= n_queues <= 40
    assert channels == {"search", "comment", "messaging", "account"}
    assert {"ID", "BR", "DE", "US", "CN", "TW", "HK"} <= markets
    assert "in-house" in vendors and 3 <= len(vendors - {"in-house"}) <= 5
    assert sites >= 6
    assert 900 <= summary.cases <= 1100
    assert 0.03 <= sampled / done <= 0.07
    assert open_ > 0 and open_ == summary.open_cases
    # open cases carry no outcome; sampled-but-unreviewed cases have an empty qa_correct
    assert (
        conn.execute(
            "SELECT count(*) FROM cases WHERE completed_at IS NULL AND (decision IS NOT NULL"
            " OR handle_seconds IS NOT NULL OR qa_sampled = 1)"
        ).fetchone()[0]
        == 0
    )
    assert conn.execute("SELECT count(*) FROM cases WHERE qa_sampled = 0 AND qa_correct IS NOT NULL").fetchone()[0] == 0
    conn.close()


def test_times_are_utc_text_and_in_order(sql):
    rows = sql.execute("SELECT created_at, assigned_at, completed_at FROM cases").fetchall()
    for created, assigned, completed in rows:
        assert TS.match(created)
        assert assigned is None or (TS.match(assigned) and assigned >= created)
        assert completed is None or (assigned is not None and completed >= assigned)
    meta = dict(sql.execute("SELECT key, value FROM meta"))
    assert (meta["start"], meta["end"]) == ("2026-10-19", "2026-11-16")
    assert max(r[2] for r in rows if r[2]) < "2026-11-16T00:00:00Z"


def test_shifts_add_up_and_targets_have_directions(sql):
    bad = sql.execute(
        "SELECT count(*) FROM shifts WHERE scheduled_seconds != productive_seconds"
        " + training_seconds + meeting_seconds + wellness_seconds + absence_seconds"
    ).fetchone()
    assert bad[0] == 0
    assert sql.execute("SELECT count(*) FROM shifts WHERE absence_seconds > 0").fetchone()[0] > 0
    directions = dict(sql.execute("SELECT metric, direction FROM targets GROUP BY metric"))
    assert directions == {
        "aht": "lower_is_better",
        "sla_attainment": "higher_is_better",
        "accuracy": "higher_is_better",
        "uph": "higher_is_better",
    }
    periods = [p for (p,) in sql.execute("SELECT DISTINCT period FROM targets ORDER BY 1")]
    assert periods == ["2026-W43", "2026-W44", "2026-W45", "2026-W46"]


def test_some_weekly_aht_targets_are_met_and_some_missed(sql):
    rows = sql.execute("""
        SELECT t.value / (sum(c.handle_seconds) * 1.0 / count(*)) FROM targets t
        JOIN cases c ON c.queue_id = t.key AND c.completed_at >= '2026-11-02'
          AND c.completed_at < '2026-11-09'
        WHERE t.period = '2026-W45' AND t.level = 'queue' AND t.metric = 'aht' GROUP BY
        t.key""").fetchall()
    attainment = [r[0] for r in rows]
    assert any(a >= 1 for a in attainment) and any(a < 1 for a in attainment)


def test_hostile_content_is_stored_verbatim(sql):
    texts = {t for (t,) in sql.execute("SELECT DISTINCT content_text FROM cases")}
    names = {u for (u,) in sql.execute("SELECT DISTINCT username FROM cases")}
    assert set(content.HOSTILE_TEXTS) <= texts
    assert set(content.HOSTILE_USERNAMES) <= names
    assert max(len(t) for t in texts) > 5000


def _weekly(sql, segment: str) -> dict[str, dict[str, tuple[int, float]]]:
    rows = sql.execute(f"""
        SELECT CASE WHEN c.completed_at < '2026-11-09' THEN 'W45' ELSE 'W46' END, {segment},
               count(*), avg(c.handle_seconds)
        FROM cases c JOIN queues q ON q.queue_id = c.queue_id
        JOIN moderators m ON m.moderator_id = c.moderator_id
        WHERE c.completed_at >= '2026-11-02' AND c.completed_at < '2026-11-16' GROUP BY 1,
        2""").fetchall()
    out: dict[str, dict[str, tuple[int, float]]] = {"W45": {}, "W46": {}}
    for week, key, n, aht in rows:
        out[week][key] = (n, aht)
    return out


def _attribution(weeks) -> dict[str, tuple[float, float]]:
    """Per segment: (mix effect, rate effect), as DOMAIN.md defines them."""
    n0 = sum(n for n, _ in weeks["W45"].values())
    n1 = sum(n for n, _ in weeks["W46"].values())
    out = {}
    for key in set(weeks["W45"]) | set(weeks["W46"]):
        c0, m0 = weeks["W45"].get(key, (0, None))
        c1, m1 = weeks["W46"].get(key, (0, None))
        m0 = m1 if m0 is None else m0
        m1 = m0 if m1 is None else m1
        out[key] = ((c1 / n1 - c0 / n0) * m0, c0 / n0 * (m1 - m0))
    return out


def test_story_vendor_aht_rises_by_the_documented_amount(sql):
    weeks = _weekly(sql, "m.vendor")
    rise = weeks["W46"][STORY_VENDOR][1] / weeks["W45"][STORY_VENDOR][1] - 1
    assert 0.35 <= rise <= 0.58  # README: about +45%
    effects = _attribution(weeks)
    rates = {k: rate for k, (_, rate) in effects.items()}
    assert max(rates, key=lambda k: abs(rates[k])) == STORY_VENDOR


def test_story_volume_moves_to_the_slower_channel(sql):
    weeks = _weekly(sql, "q.channel")
    share = {w: weeks[w][STORY_CHANNEL][0] / sum(n for n, _ in weeks[w].values()) for w in weeks}
    assert share["W46"] - share["W45"] >= 0.02  # README: about 10% -> 14%
    assert weeks["W45"][STORY_CHANNEL][1] == max(aht for _, aht in weeks["W45"].values())
    effects = _attribution(weeks)
    mixes = {k: mix for k, (mix, _) in effects.items()}
    assert sum(mixes.values()) > 0
    assert max(mixes, key=lambda k: abs(mixes[k])) == STORY_CHANNEL


def test_command_line_writes_a_database(tmp_path, capsys):
    from demo.generate import main

    assert main(["--db", str(tmp_path / "c.db"), "--seed", "3", "--scale", "300"]) == 0
    assert "cases" in capsys.readouterr().out
    assert sqlite3.connect(tmp_path / "c.db").execute("SELECT count(*) FROM cases").fetchone()[0] > 200
