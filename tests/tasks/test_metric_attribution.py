"""metric_attribution finds the console's planted week-46 story, and its numbers add up."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from opskit import DataError, Period
from tests.tasks.conftest import BERLIN


def week(label: str, tz=UTC) -> Period:
    return Period.parse(label, tz=tz, scheduled_for=datetime(2026, 11, 16, tzinfo=UTC))


def run(make_ctx, run_task, console, tz=UTC, **params):
    ctx = make_ctx("metric_attribution", console.data_dir, tz=tz)
    return run_task("metric_attribution", ctx=ctx, current=week("2026-W46", tz), cases=str(console.all_cases), **params)


def test_by_vendor_lumen_is_the_top_rate_driver(console, tmp_path, make_ctx, run_task):
    result = run(make_ctx, run_task, console, by="vendor")
    a = result.summary["attribution"]
    # the README's figures for scale 6,000 (UTC weeks): 122.0 -> 141.4 s, Lumen rate +10.4 s
    assert a["baseline"] == pytest.approx(122.0, abs=0.05) and a["current"] == pytest.approx(141.4, abs=0.05)
    assert a["top_rate"] == "Lumen BPO" and a["top_rate_effect"] == pytest.approx(10.4, abs=0.05)
    assert a["mix"] + a["rate"] + a["interaction"] == pytest.approx(a["total"])
    lumen = console.sql(
        "SELECT avg(handle_seconds) FROM cases JOIN moderators USING (moderator_id)"
        " WHERE vendor = 'Lumen BPO' AND completed_at >= '2026-11-09'"
        " AND completed_at < '2026-11-16'"
    )[0][0]
    wb = load_workbook(result.files[0])
    assert wb.sheetnames == ["Summary", "Drivers", "Segments"]
    seg = wb["Segments"]
    header = [c.value for c in seg[1]]
    rows = [dict(zip(header, r, strict=True)) for r in seg.iter_rows(min_row=2, values_only=True)]
    totals = [abs(r["Total effect"]) for r in rows]
    assert totals == sorted(totals, reverse=True)  # largest contribution first
    assert next(r for r in rows if r["Vendor"] == "Lumen BPO")["AHT 2026-W46"] == pytest.approx(lumen)
    assert sum(r["Total share of change"] for r in rows) == pytest.approx(1.0)
    # one definition of a driver's share (its effect / the total change) in the email and the workbook
    emailed = result.summary["drivers"]
    lumen_rate = next(d for d in emailed if d["label"] == "Lumen BPO handling cases more slowly")
    assert next(r for r in rows if r["Vendor"] == "Lumen BPO")["Rate share of change"] == pytest.approx(
        lumen_rate["share"]
    )
    listed = [r for r in wb["Drivers"].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], pytest.approx(r[4])) for r in listed[: len(emailed)]] == [(d["label"], d["share"]) for d in emailed]
    assert listed[-1][0] == "Each share is of " + result.summary["drivers_share_of"] + "."
    assert result.summary["drivers_share_of"].startswith("the AHT change from 2026-W45 to 2026-W46 (+19.4 s)")
    assert seg.freeze_panes == "A2" and seg["D2"].number_format == "0.0%"
    assert any(r.type == "dataBar" for cf in seg.conditional_formatting for r in cf.rules)
    text = Path(result.files[1]).read_text()
    assert text.startswith("# AHT by vendor: 2026-W45 → 2026-W46")
    assert "AHT rose 16% (122.0 s → 141.4 s)" in text
    assert "Lumen BPO handling cases more slowly (rate effect +10.4 s; AHT" in text
    assert "| Lumen BPO |" in text


def test_by_channel_account_is_the_top_mix_driver(console, tmp_path, make_ctx, run_task):
    result = run(make_ctx, run_task, console, tz=BERLIN, by="channel")
    a = result.summary["attribution"]
    assert a["top_mix"] == "account" and a["top_mix_effect"] > 8
    drivers = result.summary["drivers"]
    assert drivers[0]["label"] == "volume moving to account"
    assert drivers[0]["share"] == pytest.approx(a["top_mix_effect"] / a["total"])
    assert set(drivers[0]) == {"label", "share", "note"} and len(drivers) == 3
    assert result.summary["narrative"].startswith("AHT rose 1")
    json.dumps(result.summary)


def test_sla_and_accuracy_attributions_add_up(console, tmp_path, make_ctx, run_task):
    for metric in ("sla_attainment", "accuracy"):
        a = run(make_ctx, run_task, console, metric=metric, by="queue").summary["attribution"]
        assert -1 <= a["total"] <= 1
        assert a["mix"] + a["rate"] + a["interaction"] == pytest.approx(a["total"])


def test_explicit_baseline_and_missing_data(console, tmp_path, make_ctx, run_task):
    ctx = make_ctx("metric_attribution", console.data_dir, tz=UTC)
    result = run_task(
        "metric_attribution", ctx=ctx, current=week("2026-W46"), baseline=week("2026-W44"), cases=str(console.all_cases)
    )
    assert result.summary["baseline"] == "2026-W44"
    with pytest.raises(DataError, match="no AHT in 2026-W40"):
        run_task("metric_attribution", ctx=ctx, current=week("2026-W41"), cases=str(console.all_cases))
    with pytest.raises(DataError, match="no case export for 2026-W30 and 2026-W29"):
        run_task("metric_attribution", ctx=ctx, current=week("2026-W30"))


def test_runs_through_the_cli(run_cli, tmp_project, console):
    tmp_project.write_config(
        textwrap.dedent(f"""\
        timezone: UTC
        paths:
          data: {console.data_dir}
    """)
    )
    result = run_cli("run", "metric_attribution", "-p", "by=channel", "--as-of", "2026-11-16T08:00", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    # default files: cases/2026-W46.csv and cases/2026-W45.csv (exported by created day)
    assert record["result"]["summary"]["attribution"]["top_mix"] == "account"
    assert [Path(f).suffix for f in record["result"]["files"]] == [".xlsx", ".md"]
