"""The case scan: one streaming pass over case export CSVs into per-group totals for any windows.

``scan_cases`` reads the console's case export (CSV, the header of demo/README.md) once, with
``csv.reader`` and positional indexes, into per-group ``Totals`` for any number of time windows. The
finest grain kept is (queue, vendor, site); every cut (queue, vendor, site, market, channel, all) is
rolled up from it, so 1M rows cost one pass and a few hundred groups. Turnaround percentiles keep
every completed case's TAT in an ``array('d')`` (8 bytes a case).

Which window a case counts in follows DOMAIN.md: *incoming* by ``created_at``, everything measured
on completed cases (AHT, SLA, TAT, accuracy, escalations, appeals) by ``completed_at``. An export
filtered by created date therefore misses cases completed in the period but created before it;
reading the previous period's file as well (``paths`` takes several, de-duplicated by ``case_id``)
closes most of that gap.

The scan only counts; ``Totals.metrics`` turns the counts into metrics through
``opskit.reports.formulas``, the same formulas the row functions of ``opskit.reports.metrics`` use.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from opskit.errors import DataError
from opskit.period import Period
from opskit.reports import formulas

NEEDED = (
    "case_id",
    "queue_id",
    "created_at",
    "completed_at",
    "moderator_id",
    "handle_seconds",
    "qa_sampled",
    "qa_correct",
    "escalated",
    "appealed",
    "overturned",
    "queue_name",
    "channel",
    "market",
    "vendor",
    "site",
)
CUTS = ("queue", "vendor", "site", "market", "channel")
UNASSIGNED = "(unassigned)"
# Columns of the export that hold whole numbers (the rest is text or a time), for writers that keep types.
INTEGER_COLUMNS = frozenset(
    ("case_id", "handle_seconds", "qa_sampled", "qa_correct", "escalated", "appealed", "overturned")
)
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

Window = Period | tuple[datetime, datetime]


def utc_stamp(moment: datetime) -> str:
    """An aware datetime as the export's text form, so bounds compare as strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Totals:
    """Counts and sums of one group in one window; ``metrics()`` turns them into DOMAIN.md metrics."""

    incoming: int = 0
    completed: int = 0
    handle: float = 0.0
    within_sla: int = 0
    escalated: int = 0
    appealed: int = 0
    overturned: int = 0
    graded: int = 0
    correct: int = 0
    tat: array = field(default_factory=lambda: array("d"))

    def merge(self, other: Totals) -> None:
        """Add another group's totals to these (how cuts roll up from the finest grain)."""
        self.incoming += other.incoming
        self.completed += other.completed
        self.handle += other.handle
        self.within_sla += other.within_sla
        self.escalated += other.escalated
        self.appealed += other.appealed
        self.overturned += other.overturned
        self.graded += other.graded
        self.correct += other.correct
        self.tat.extend(other.tat)

    def metrics(self, *, sla: bool = True, productive_seconds: float | None = None) -> dict[str, Any]:
        """The DOMAIN.md metrics of these totals, by ``opskit.reports.formulas``; a ratio over zero is None.

        Args:
            sla: False when no queue list (SLA hours) was read: SLA attainment is then None, not 0.
            productive_seconds: The group's productive shift time, for UPH; None leaves UPH out.
        """
        tat = sorted(self.tat) if self.tat else []
        return {
            "incoming": self.incoming,
            "completed": self.completed,
            "aht": formulas.aht(self.handle, self.completed),
            "sla_attainment": formulas.sla_attainment(self.within_sla, self.completed) if sla else None,
            "accuracy": formulas.accuracy(self.correct, self.graded),
            "tat_p50": formulas.percentile_inc(tat, 0.5),
            "tat_p90": formulas.percentile_inc(tat, 0.9),
            "escalation_rate": formulas.escalation_rate(self.escalated, self.completed),
            "overturn_rate": formulas.overturn_rate(self.overturned, self.appealed),
            "uph": formulas.uph(self.completed, productive_seconds),
        }


@dataclass(slots=True)
class CaseScan:
    """What one pass over case exports found; ``cut`` rolls the fine groups up to one dimension."""

    windows: dict[str, dict[tuple[str, str, str], Totals]]
    daily: dict[date, Totals]
    queues: dict[str, tuple[str, str, str]]  # queue_id -> (name, channel, market)
    moderators: dict[str, tuple[str, str]]  # moderator_id -> (vendor, site)
    rows: int
    columns: list[str]
    newest: datetime | None

    def cut(self, window: str, dim: str) -> dict[str, Totals]:
        """Totals per key of ``dim`` (queue, vendor, site, market, channel, or all)."""
        out: dict[str, Totals] = {}
        for (queue_id, vendor, site), totals in self.windows[window].items():
            key = self.key(dim, queue_id, vendor, site)
            out.setdefault(key, Totals()).merge(totals)
        return out

    def key(self, dim: str, queue_id: str, vendor: str, site: str) -> str:
        """The group a (queue, vendor, site) belongs to in cut ``dim``; cases without a vendor are UNASSIGNED."""
        if dim == "all":
            return "all"
        if dim == "queue":
            return queue_id
        if dim == "vendor":
            return vendor or UNASSIGNED
        if dim == "site":
            return site or UNASSIGNED
        name, channel, market = self.queues.get(queue_id, ("", "", ""))
        if dim == "channel":
            return channel
        if dim == "market":
            return market
        raise ValueError(f"unknown cut {dim!r} (use {', '.join(CUTS)})")

    def overall(self, window: str) -> Totals:
        """The totals of every case in ``window``."""
        return self.cut(window, "all").get("all", Totals())

    def gate_facts(self) -> dict[str, Any]:
        """What delivery's quality gates check, for a task's summary: ``columns`` and ``newest`` (ISO time)."""
        return {"columns": self.columns, "newest": self.newest.isoformat() if self.newest else None}


def scan_cases(
    paths: Sequence[Path],
    *,
    windows: Mapping[str, Window],
    tz: tzinfo,
    sla_hours: Mapping[str, float] | None = None,
    trend: Window | None = None,
) -> CaseScan:
    """One streaming pass over case export CSVs.

    Args:
        paths: Export files; a ``case_id`` seen before (in an earlier file, or earlier in the same
            one) is skipped: each case counts once, its first row wins.
        windows: name -> a Period (its days in ``tz``) or [start, end) as aware datetimes, e.g.
            ``{"current": period, "previous": period.previous()}``.
        tz: Periods are cut in this zone, and the days of the daily trend are its calendar days.
        sla_hours: queue_id -> SLA hours; without it no case counts as within SLA.
        trend: The Period or [start, end) of the daily trend (``CaseScan.daily``); no trend when None.

    Raises:
        DataError: a file lacks a needed column or holds a timestamp in another format.
    """
    bounds = [(name, *map(utc_stamp, _bounds(w, tz))) for name, w in windows.items()]
    fine: dict[str, dict[tuple[str, str, str], Totals]] = {name: {} for name in windows}
    daily: dict[date, Totals] = {}
    t0, t1 = map(utc_stamp, _bounds(trend, tz)) if trend else ("", "")
    queues: dict[str, tuple[str, str, str]] = {}
    moderators: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    epochs: dict[str, float] = {}
    local_days: dict[str, date] = {}
    sla = sla_hours or {}
    within_sla = formulas.within_sla  # a local name: it runs once per completed case
    newest = ""
    rows = 0
    columns: list[str] = []

    def epoch(ts: str) -> float:
        day = epochs.get(ts[:10])
        if day is None:
            day = epochs[ts[:10]] = datetime.fromisoformat(ts[:10]).replace(tzinfo=UTC).timestamp()
        return day + int(ts[11:13]) * 3600 + int(ts[14:16]) * 60 + int(ts[17:19])

    def local_day(ts: str) -> date:
        day = local_days.get(ts[:16])
        if day is None:
            moment = datetime.fromisoformat(ts[:16]).replace(tzinfo=UTC)
            day = local_days[ts[:16]] = moment.astimezone(tz).date()
        return day

    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None) or []
            missing = [c for c in NEEDED if c not in header]
            if missing:
                raise DataError(
                    f"{path.name}: not a case export, missing column(s) {', '.join(missing)}",
                    hint="Export cases from the console as CSV",
                )
            columns = list(header)
            (
                i_id,
                i_queue,
                i_created,
                i_done,
                i_mod,
                i_handle,
                i_qs,
                i_qc,
                i_esc,
                i_app,
                i_ovt,
                i_qname,
                i_channel,
                i_market,
                i_vendor,
                i_site,
            ) = (header.index(c) for c in NEEDED)
            checked = False
            for row in reader:
                if not row:
                    continue
                if row[i_id] in seen:
                    continue
                seen.add(row[i_id])
                rows += 1
                created, done = row[i_created], row[i_done]
                # Times compare as text, so every one must have the export's exact form: a cheap
                # shape check on each row, the full pattern on the first.
                if (
                    not _stamp_shape(created)
                    or (done and not _stamp_shape(done))
                    or (not checked and not _STAMP.match(created))
                ):
                    bad = created if not _stamp_shape(created) or not checked else done
                    raise DataError(
                        f"{path.name}, line {reader.line_num}: {bad!r} is not a UTC ISO 8601 time "
                        "(YYYY-MM-DDTHH:MM:SSZ)"
                    )
                checked = True
                queue_id, vendor, site = row[i_queue], row[i_vendor], row[i_site]
                if queue_id not in queues:
                    queues[queue_id] = (row[i_qname], row[i_channel], row[i_market])
                if vendor and row[i_mod] not in moderators:
                    moderators[row[i_mod]] = (vendor, site)
                gkey = (queue_id, vendor, site)
                if created > newest:
                    newest = created
                for name, lo, hi in bounds:
                    if lo <= created < hi:
                        groups = fine[name]
                        totals = groups.get(gkey)
                        if totals is None:
                            totals = groups[gkey] = Totals()
                        totals.incoming += 1
                if t0 and t0 <= created < t1:
                    totals = daily.get(d := local_day(created))
                    if totals is None:
                        totals = daily[d] = Totals()
                    totals.incoming += 1
                if not done:
                    continue
                if done > newest:
                    newest = done
                tat = (epoch(done) - epoch(created)) / 3600
                try:
                    handle_s = float(row[i_handle] or 0)
                except ValueError:
                    raise DataError(
                        f"{path.name}, line {reader.line_num}: handle_seconds {row[i_handle]!r} is not a number"
                    ) from None
                limit = sla.get(queue_id)
                within = within_sla(tat, limit)
                for name, lo, hi in bounds:
                    if lo <= done < hi:
                        groups = fine[name]
                        totals = groups.get(gkey)
                        if totals is None:
                            totals = groups[gkey] = Totals()
                        totals.completed += 1
                        totals.handle += handle_s
                        totals.within_sla += within
                        totals.tat.append(tat)
                        if row[i_esc] == "1":
                            totals.escalated += 1
                        if row[i_app] == "1":
                            totals.appealed += 1
                            totals.overturned += row[i_ovt] == "1"
                        if row[i_qs] == "1" and row[i_qc] != "":  # graded: sampled, with a result
                            totals.graded += 1
                            totals.correct += row[i_qc] == "1"
                if t0 and t0 <= done < t1:
                    totals = daily.get(d := local_day(done))
                    if totals is None:
                        totals = daily[d] = Totals()
                    totals.completed += 1
                    totals.handle += handle_s
                    totals.within_sla += within
    return CaseScan(
        fine,
        daily,
        queues,
        moderators,
        rows,
        columns,
        datetime.fromisoformat(newest) if newest else None,
    )


def _bounds(window: Window, tz: tzinfo) -> tuple[datetime, datetime]:
    return window.bounds(tz) if isinstance(window, Period) else window


def _stamp_shape(ts: str) -> bool:
    return len(ts) == 20 and ts[10] == "T" and ts[19] == "Z"
