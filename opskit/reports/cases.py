"""Case exports in, DOMAIN.md metrics out: the loaders the report tasks share.

``scan_cases`` streams the console's case export (CSV, the header of demo/README.md) once, with
``csv.reader`` and positional indexes, into per-group totals for any number of time windows. The
finest grain kept is (queue, vendor, site); every cut (queue, vendor, site, market, channel, all) is
rolled up from it, so 1M rows cost one pass and a few hundred groups. Turnaround percentiles keep
every completed case's TAT in an ``array('d')`` (8 bytes a case).

Which window a case counts in follows DOMAIN.md: *incoming* by ``created_at``, everything measured
on completed cases (AHT, SLA, TAT, accuracy, escalations, appeals) by ``completed_at``. An export
filtered by created date therefore misses cases completed in the period but created before it;
reading the previous period's file as well (``paths`` takes several, de-duplicated by ``case_id``)
closes most of that gap.

Also here: the small side inputs (queue SLA hours, targets, shifts) and writers that produce them
from a console database, for fixtures, demos and benchmarks.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from opskit.errors import DataError
from opskit.reports import formulas
from opskit.reports.formulas import HIGHER, LOWER, ratio

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
# DOMAIN.md "vendor daily report" fields and the spellings vendors use for them
VENDOR_ALIASES: dict[str, list[str]] = {
    "date": ["date", "report_date", "Work Date", "Day"],
    "vendor": ["vendor", "BPO", "partner"],
    "site": ["site", "location", "Centre", "center"],
    "moderator_id": ["moderator_id", "Agent ID", "moderator", "Employee #", "Agent"],
    "queue_id": ["queue_id", "Queue", "Queue Name", "Queue ID"],
    "handled": ["handled", "Ticket Count", "cases_handled", "Volume", "Handled"],
    "handle_seconds": [
        "handle_seconds",
        "Total Handle Time (h:mm:ss)",
        "handle_time_sec",
        "Handle Secs",
    ],
    "aht_seconds": ["AHT (h:mm:ss)", "AHT", "aht_seconds"],
    "productive_seconds": [
        "productive_seconds",
        "Logged-in Productive (sec)",
        "prod_time_sec",
        "Productive Secs",
    ],
    "productive_hours": ["Productive Hours", "productive_hours"],
    "qa_sampled": ["qa_sampled", "QA Audited", "qa_checked", "Audits", "QA Sampled"],
    "qa_correct": ["qa_correct", "QA Passed", "qa_passed", "Audits OK", "QA Correct"],
}
VENDOR_TYPES = {
    "date": "date",
    "handled": "int",
    "handle_seconds": "seconds",
    "aht_seconds": "seconds",
    "productive_seconds": "float",
    "productive_hours": "float",
    "qa_sampled": "int",
    "qa_correct": "int",
    "moderator_id": "str",
    "queue_id": "str",
    "site": "str",
    "vendor": "str",
}
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# metric -> (label, email kind, direction); the order is the Summary sheet's
METRICS: dict[str, tuple[str, str, str]] = {
    "incoming": ("Incoming", "num", HIGHER),
    "completed": ("Completed", "num", HIGHER),
    "aht": ("AHT (s)", "duration", LOWER),
    "sla_attainment": ("SLA attainment", "pct", HIGHER),
    "accuracy": ("Accuracy", "pct", HIGHER),
    "tat_p50": ("TAT p50 (h)", "rate", LOWER),
    "tat_p90": ("TAT p90 (h)", "rate", LOWER),
    "escalation_rate": ("Escalation rate", "pct", LOWER),
    "overturn_rate": ("Overturn rate", "pct", LOWER),
    "uph": ("UPH", "rate", HIGHER),
}


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
        """The DOMAIN.md metrics of these totals, by ``opskit.reports.formulas``; a ratio over zero is None."""
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
        return self.cut(window, "all").get("all", Totals())


def scan_cases(
    paths: Sequence[Path],
    *,
    windows: Mapping[str, tuple[datetime, datetime]],
    tz: tzinfo,
    sla_hours: Mapping[str, float] | None = None,
    trend: tuple[datetime, datetime] | None = None,
) -> CaseScan:
    """One streaming pass over case export CSVs.

    Args:
        paths: Export files; with more than one, a ``case_id`` seen before is skipped.
        windows: name -> [start, end) as aware datetimes (e.g. "current", "previous").
        tz: Days of the daily trend are calendar days in this zone.
        sla_hours: queue_id -> SLA hours; without it no case counts as within SLA.
        trend: [start, end) of the daily trend; no trend when None.

    Raises:
        DataError: a file lacks a needed column or holds a timestamp in another format.
    """
    bounds = [(name, utc_stamp(a), utc_stamp(b)) for name, (a, b) in windows.items()]
    fine: dict[str, dict[tuple[str, str, str], Totals]] = {name: {} for name in windows}
    daily: dict[date, Totals] = {}
    t0, t1 = (utc_stamp(trend[0]), utc_stamp(trend[1])) if trend else ("", "")
    queues: dict[str, tuple[str, str, str]] = {}
    moderators: dict[str, tuple[str, str]] = {}
    seen: set[str] | None = set() if len(paths) > 1 else None
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
                if seen is not None:
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


def step_exports(steps: Mapping[str, Any]) -> list[Path]:
    """Case exports (``cases*.csv``) that earlier steps of the same run produced, in step order.

    This is how a chain hands data on: ``export_cases`` downloads, ``efficiency_report`` reads it.
    """
    found: list[Path] = []
    for result in steps.values():
        for f in getattr(result, "files", []):
            path = Path(f)
            if path.suffix.lower() == ".csv" and path.name.startswith("cases") and path.is_file():
                found.append(path)
    return found


def _stamp_shape(ts: str) -> bool:
    return len(ts) == 20 and ts[10] == "T" and ts[19] == "Z"


def existing(paths: Iterable[Path]) -> list[Path]:
    """The paths that exist, in order, without repeats."""
    out: list[Path] = []
    for p in paths:
        if p.is_file() and p not in out:
            out.append(p)
    return out


# --------------------------------------------------------------------------- side inputs


def _rows(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    """A small CSV or workbook as dicts with the required columns (read_table for workbooks)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from opskit.excel import read_table

        return list(read_table(path, required=required).rows)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}")
        return list(reader)


def read_queues(path: Path) -> dict[str, float]:
    """queue_id -> sla_hours, from a CSV or workbook with those two columns."""
    out = {}
    for r in _rows(path, ("queue_id", "sla_hours")):
        if r["queue_id"] not in (None, "") and r["sla_hours"] not in (None, ""):
            out[str(r["queue_id"])] = float(r["sla_hours"])
    return out


@dataclass(frozen=True, slots=True)
class Target:
    period: str
    level: str
    key: str
    metric: str
    value: float
    direction: str


def read_targets(path: Path) -> list[Target]:
    """Targets (DOMAIN.md: period, level, key, metric, value, direction) from a CSV or workbook."""
    out = []
    for n, r in enumerate(_rows(path, ("level", "key", "metric", "value")), start=2):
        direction = str(r.get("direction") or HIGHER)
        if direction not in (HIGHER, LOWER):
            raise DataError(f"{path.name}, row {n}: direction {direction!r} is not {HIGHER} or {LOWER}")
        try:
            value = float(r["value"])
        except (TypeError, ValueError):
            raise DataError(f"{path.name}, row {n}: value {r['value']!r} is not a number") from None
        out.append(
            Target(
                str(r.get("period") or ""),
                str(r["level"]),
                str(r["key"]),
                str(r["metric"]),
                value,
                direction,
            )
        )
    return out


def targets_for(targets: Iterable[Target], label: str, last_day: date) -> dict[tuple[str, str, str], Target]:
    """(level, key, metric) -> target for a period: rows for its label, else for the ISO week of its
    last day, else rows without a period (standing targets). Level ``global`` becomes ``all``."""
    iso = last_day.isocalendar()
    rank = {label: 0, f"{iso.year}-W{iso.week:02d}": 1, "": 2}
    best: dict[tuple[str, str, str], tuple[int, Target]] = {}
    for t in targets:
        r = rank.get(t.period)
        if r is None:
            continue
        level = "all" if t.level == "global" else t.level
        key = (level, "all" if level == "all" else t.key, t.metric)
        if key not in best or r < best[key][0]:
            best[key] = (r, t)
    return {k: t for k, (_, t) in best.items()}


def read_shifts(path: Path, first: date, last: date) -> dict[str, float]:
    """moderator_id -> productive seconds on shift days first..last (shift dates are UTC days)."""
    out: dict[str, float] = {}
    for r in _rows(path, ("moderator_id", "date", "productive_seconds")):
        day = r["date"] if isinstance(r["date"], date) else date.fromisoformat(str(r["date"])[:10])
        if first <= day <= last:
            out[str(r["moderator_id"])] = out.get(str(r["moderator_id"]), 0.0) + float(r["productive_seconds"] or 0)
    return out


# --------------------------------------------------------------------------- fixtures from a console DB


def _export(db_path: Path | str, out: Path | str, sql: str, params: Sequence[Any] = ()) -> int:
    import sqlite3

    conn = sqlite3.connect(str(db_path))
    try:
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        with open(out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            n = 0
            for row in cursor:
                writer.writerow(row)
                n += 1
        return n
    finally:
        conn.close()


def write_queues_csv(db_path: Path | str, out: Path | str) -> int:
    """The console's queues (queue_id, name, channel, market, sla_hours, priority) as CSV."""
    return _export(
        db_path,
        out,
        "SELECT queue_id, name, channel, market, policy_area, sla_hours, priority FROM queues ORDER BY queue_id",
    )


def write_targets_csv(db_path: Path | str, out: Path | str) -> int:
    """The console's targets table as CSV (global key is 'all')."""
    return _export(
        db_path,
        out,
        "SELECT period, level, key, metric, value, direction FROM targets ORDER BY period, level, key, metric",
    )


def write_shifts_csv(db_path: Path | str, out: Path | str, *, start: date, end: date) -> int:
    """Shift rows with the moderator's vendor and site, for UTC days start..end inclusive."""
    return _export(
        db_path,
        out,
        "SELECT s.*, m.vendor, m.site FROM shifts s JOIN moderators m "
        "USING (moderator_id) WHERE s.date BETWEEN ? AND ? ORDER BY s.date, moderator_id",
        (start.isoformat(), end.isoformat()),
    )


def write_staffing_workbook(
    db_path: Path | str, out: Path | str, *, first_week: date, weeks: int = 4, factor: float = 1.0
) -> int:
    """A vendor staffing plan (week, vendor, queue_id, fte) for ``weeks`` weeks from ``first_week``.

    Supply per vendor and queue is the vendor's moderators split over queues by last week's handle
    time in the data, times ``factor``: enough to make some queues short and others over.
    """
    import sqlite3

    from openpyxl import Workbook

    conn = sqlite3.connect(str(db_path))
    try:
        last = conn.execute("SELECT max(completed_at) FROM cases").fetchone()[0]
        since = (datetime.fromisoformat(last[:10]) - timedelta(days=7)).strftime("%Y-%m-%d")
        shares = conn.execute(
            "SELECT m.vendor, c.queue_id, sum(c.handle_seconds) * 1.0 / sum(sum(c.handle_seconds)) "
            "OVER (PARTITION BY m.vendor), count(DISTINCT m.moderator_id) FROM cases c "
            "JOIN moderators m USING (moderator_id) WHERE c.completed_at >= ? GROUP BY 1, 2",
            (since,),
        ).fetchall()
        heads = dict(conn.execute("SELECT vendor, count(*) FROM moderators GROUP BY vendor"))
    finally:
        conn.close()
    wb = Workbook()
    ws = wb.active
    ws.title = "Staffing"
    ws.append(["week", "vendor", "queue_id", "fte"])
    n = 0
    for w in range(weeks):
        iso = (first_week + timedelta(weeks=w)).isocalendar()
        for vendor, queue_id, share, _ in sorted(shares):
            ws.append(
                [
                    f"{iso.year}-W{iso.week:02d}",
                    vendor,
                    queue_id,
                    round(heads[vendor] * share * factor, 2),
                ]
            )
            n += 1
    wb.save(out)
    return n


# --------------------------------------------------------------------------- report pieces


def email_change(metric: str, value: float | None, previous: float | None) -> float | None:
    """The email's change: percentage points (as a ratio) for pct metrics, relative for others."""
    if METRICS[metric][1] == "pct":
        return formulas.point_change(value, previous)
    return formulas.change(value, previous)


def cut_rows(
    scan: CaseScan,
    window: str,
    dim: str,
    *,
    targets: Mapping[tuple[str, str, str], Target],
    sla: bool,
    productive: Mapping[str, float] | None,
    min_cases: int = 0,
) -> list[dict[str, Any]]:
    """One row per group of ``dim``: its metrics, and ``<metric>_target`` where a target exists.

    UPH is filled for vendor and site (and all) only: shifts belong to moderators, not queues.
    """
    level = "all" if dim == "all" else dim
    rows = []
    for key, totals in sorted(scan.cut(window, dim).items()):
        if totals.completed < min_cases:
            continue
        prod = productive.get(key) if productive is not None and dim in ("vendor", "site", "all") else None
        row: dict[str, Any] = {"key": key, **totals.metrics(sla=sla, productive_seconds=prod)}
        if dim == "queue":
            name, channel, market = scan.queues.get(key, ("", "", ""))
            row.update(name=name, channel=channel, market=market)
        for metric in METRICS:
            t = targets.get((level, key, metric))
            row[f"{metric}_target"] = t.value if t else None
        rows.append(row)
    return rows


def productive_by(scan: CaseScan, shifts: Mapping[str, float]) -> dict[str, float]:
    """Productive seconds per vendor, per site and in all, from per-moderator shift totals."""
    out: dict[str, float] = {}
    for moderator, seconds in shifts.items():
        vendor, site = scan.moderators.get(moderator, (UNASSIGNED, UNASSIGNED))
        for key in (vendor, site, "all"):
            out[key] = out.get(key, 0.0) + seconds
    return out


def misses(
    rows: Iterable[Mapping[str, Any]], dim: str, targets: Mapping[tuple[str, str, str], Target]
) -> list[dict[str, Any]]:
    """Every metric of every row that misses its target: where, metric, actual, target, attainment."""
    out = []
    level = "all" if dim == "all" else dim
    for row in rows:
        for metric, (label, kind, _) in METRICS.items():
            t = targets.get((level, row["key"], metric))
            actual = row.get(metric)
            if t is None or actual is None:
                continue
            attainment = formulas.target_attainment(actual, t.value, t.direction)
            if attainment is not None and attainment < 1:
                where = (
                    "Overall"
                    if dim == "all"
                    else row.get("name") or row["key"]
                    if dim == "queue"
                    else f"{dim.capitalize()} {row['key']}"
                )
                out.append(
                    {
                        "where": where,
                        "metric": label,
                        "actual": actual,
                        "target": t.value,
                        "kind": kind,
                        "attainment": attainment,
                        "cut": dim,
                        "key": row["key"],
                        "metric_key": metric,
                    }
                )
    out.sort(key=lambda m: m["attainment"])
    return out


# --------------------------------------------------------------------------- attribution pieces

# metric -> (label, volume field, value field, more means)
ATTRIBUTABLE = {
    "aht": ("AHT", "completed", "aht", ("handling cases more slowly", "handling cases faster")),
    "sla_attainment": (
        "SLA attainment",
        "completed",
        "sla_attainment",
        ("meeting SLA more often", "meeting SLA less often"),
    ),
    "accuracy": (
        "Accuracy",
        "graded",
        "accuracy",
        ("deciding more accurately", "deciding less accurately"),
    ),
}


def segments(
    scan: CaseScan, window: str, dim: str, metric: str, *, sla: bool = True
) -> dict[str, tuple[float, float | None]]:
    """segment -> (volume, metric) for ``opskit.reports.attribution.attribute``."""
    _, volume, value, _ = ATTRIBUTABLE[metric]
    return {key: (getattr(t, volume), t.metrics(sla=sla)[value]) for key, t in scan.cut(window, dim).items()}


def show(metric: str, value: float | None, *, signed: bool = False) -> str:
    """A metric value or effect in words: "121.8 s", "93.4%", "+10.9 s", "-1.2 pp"."""
    if value is None:
        return "n/a"
    if metric == "aht":
        return f"{value:+.1f} s" if signed else f"{value:.1f} s"
    return f"{value * 100:+.1f} pp" if signed else f"{value * 100:.1f}%"


def drivers(attr: Any, metric: str, dim: str, *, top: int = 3) -> list[dict[str, Any]]:
    """The largest single effects (a segment's mix or rate), for the email and the narrative.

    Each: label (plain words), share (of the total change), note, segment, effect, value.
    """
    label, _, _, (up, down) = ATTRIBUTABLE[metric]
    items = []
    for s in attr.segments:
        for effect in ("rate", "mix"):
            value = getattr(s, effect)
            if not value:
                continue
            if effect == "rate":
                text = f"{s.segment} {up if value > 0 else down}"
                note = f"{label} {show(metric, s.metric0)} → {show(metric, s.metric1)}"
            else:
                more = s.weight1 > s.weight0
                text = f"volume moving {'to' if more else 'away from'} {s.segment}"
                note = (
                    f"share {s.weight0:.1%} → {s.weight1:.1%}; {label} "
                    f"{show(metric, s.metric0 if s.metric0 is not None else s.metric1)}"
                )
            items.append(
                {
                    "label": text,
                    "share": ratio(value, attr.total),
                    "note": note,
                    "segment": str(s.segment),
                    "effect": effect,
                    "value": value,
                }
            )
    items.sort(key=lambda d: abs(d["value"]), reverse=True)
    return items[:top]


def narrative(attr: Any, metric: str, dim: str, baseline: str, current: str) -> str:
    """Plain-words Markdown: what changed, by how much, and the top drivers."""
    label = ATTRIBUTABLE[metric][0]
    verb = "rose" if attr.total > 0 else "fell" if attr.total < 0 else "did not change"
    rel = ratio(attr.total, abs(attr.baseline))
    size = (
        f" {abs(rel):.0%}"
        if rel is not None and metric == "aht"
        else (f" {show(metric, attr.total, signed=True).lstrip('+-')}" if metric != "aht" else "")
    )
    lines = [
        f"# {label} by {dim}: {baseline} → {current}",
        "",
        f"{label} {verb}{size} ({show(metric, attr.baseline)} → {show(metric, attr.current)}) "
        f"from {baseline} to {current}. Rate effects (segments themselves) add "
        f"{show(metric, attr.rate, signed=True)}, mix (volume moving between {dim}s) "
        f"{show(metric, attr.mix, signed=True)}, interaction "
        f"{show(metric, attr.interaction, signed=True)}.",
    ]
    top = drivers(attr, metric, dim)
    words = []
    for d in top:
        words.append(f"{d['label']} ({d['effect']} effect {show(metric, d['value'], signed=True)}; {d['note']})")
    if words:
        lines += ["", f"The largest driver is {words[0]}."]
        if len(words) > 1:
            lines += ["", "Next: " + "; ".join(words[1:]) + "."]
    lines += [
        "",
        "| Segment | Mix | Rate | Interaction | Total | Share of change |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in attr.segments:
        share = "n/a" if s.share is None else f"{s.share:.1%}"
        name = str(s.segment).replace("|", "\\|")
        lines.append(
            f"| {name} | {show(metric, s.mix, signed=True)} | "
            f"{show(metric, s.rate, signed=True)} | {show(metric, s.interaction, signed=True)}"
            f" | {show(metric, s.total, signed=True)} | {share} |"
        )
    return "\n".join(lines) + "\n"
