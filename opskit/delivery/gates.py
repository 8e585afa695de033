"""Quality gates: checks on a job's result before its report is delivered.

A job declares what a sane result looks like (row counts, the change against the last good run, required
columns, freshness). ``evaluate_gates`` turns the result's facts into a verdict the run history can store:

- ``send``   every check passed;
- ``warn``   a check failed and the job says ``on_fail: warn``: send, with a visible banner;
- ``fail``   a check failed and the job says ``on_fail: fail``: do not send, alert the owner;
- ``notice`` the result is empty and ``empty: notice``: send the short "no data for this period" email;
- ``skip``   the result is empty and ``empty: skip``: send nothing.

An empty result is judged by ``empty`` alone: the other checks say nothing useful about zero rows.
The settings (``Gates``, a job's ``gates:``) are config.yaml's, in ``opskit.config.gates``; ``judge`` applies
them to a finished run, reading the facts from its result and the last good run from the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from opskit.errors import TaskError

if TYPE_CHECKING:
    from opskit.config.gates import Gates
    from opskit.config.model import JobConfig
    from opskit.engine.history import RunRecord, RunStore

Action = Literal["send", "warn", "fail", "notice", "skip"]
SUCCEEDED = "succeeded"  # RunStatus.SUCCEEDED: a StrEnum, compared as the string it is


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One check and its outcome."""

    name: str
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """What to do with a result, and why; ``to_dict`` is what the run history stores."""

    action: Action
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def deliver(self) -> bool:
        return self.action in ("send", "warn", "notice")

    @property
    def failures(self) -> list[str]:
        """One line per failed check: the warning banner's lines, or the alert's cause."""
        return [c.message for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "checks": [asdict(c) for c in self.checks]}


def evaluate_gates(
    gates: Gates,
    result_facts: Mapping[str, Any],
    previous_facts: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> GateVerdict:
    """Judge a result by its facts: ``rows`` (int), ``columns`` (names), ``newest`` (aware datetime or None).

    Args:
        gates: The job's gates.
        result_facts: This run's facts.
        previous_facts: The last good run's facts (its ``rows``), or None when there is none yet.
        now: When the job runs (its scheduled time); needed when ``max_age`` is set.
    """
    rows = result_facts.get("rows")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise TaskError(f"gates: result facts need 'rows' as a count, got {rows!r}")
    if rows == 0:
        check = GateCheck("empty", gates.empty != "fail", "the result has no rows")
        return GateVerdict(gates.empty if gates.empty != "fail" else "fail", [check])

    checks: list[GateCheck] = []
    if gates.min_rows is not None or gates.max_rows is not None:
        lo = gates.min_rows if gates.min_rows is not None else 0
        hi = gates.max_rows
        ok = rows >= lo and (hi is None or rows <= hi)
        expected = f"{lo:,}..{hi:,}" if hi is not None else f"at least {lo:,}"
        checks.append(GateCheck("row_count", ok, f"{rows:,} rows (expected {expected})"))
    prev = (previous_facts or {}).get("rows")
    if isinstance(prev, int) and prev > 0:
        change = (rows - prev) / prev
        if gates.max_drop is not None:
            ok = change >= -gates.max_drop
            checks.append(
                GateCheck(
                    "row_drop",
                    ok,
                    f"{rows:,} rows, {abs(change):.0%} "
                    f"{'below' if change < 0 else 'above'} the last good run's {prev:,} "
                    f"(at most {gates.max_drop:.0%} fewer allowed)",
                )
            )
        if gates.max_rise is not None:
            ok = change <= gates.max_rise
            checks.append(
                GateCheck(
                    "row_rise",
                    ok,
                    f"{rows:,} rows, {change:+.0%} against the last good "
                    f"run's {prev:,} (at most {gates.max_rise:.0%} more allowed)",
                )
            )
    if gates.required_columns:
        present = set(result_facts.get("columns") or [])
        missing = [c for c in gates.required_columns if c not in present]
        checks.append(
            GateCheck(
                "columns",
                not missing,
                f"missing column(s): {', '.join(missing)}" if missing else "all required columns present",
            )
        )
    if gates.max_age is not None:
        checks.append(_freshness(gates.max_age, result_facts.get("newest"), now))

    if all(c.ok for c in checks):
        return GateVerdict("send", checks)
    return GateVerdict(gates.on_fail, checks)


def _freshness(max_age: timedelta, newest: Any, now: datetime | None) -> GateCheck:
    if now is None or now.tzinfo is None:
        raise TaskError("gates: max_age needs `now` as an aware datetime")
    if isinstance(newest, str):
        newest = datetime.fromisoformat(newest)
    if newest is None:
        return GateCheck("freshness", False, "no timestamp in the data to check freshness against")
    if newest.tzinfo is None:
        raise TaskError(f"gates: newest timestamp {newest.isoformat()} has no timezone")
    age = now - newest
    hours = age.total_seconds() / 3600
    limit = max_age.total_seconds() / 3600
    return GateCheck("freshness", age <= max_age, f"newest data is {hours:.1f}h old (at most {limit:g}h allowed)")


def judge(store: RunStore, job_name: str, job: JobConfig, record: RunRecord) -> GateVerdict | None:
    """The job's gates applied to the run's facts, or None when the job has no gates.

    Facts that cannot be checked (no ``rows`` from the task, a ``newest`` that is not a datetime)
    fail the gates: a report nobody could check is not sent as if it had passed.
    """
    if job.gates is None:
        return None
    result = record.result or {}
    summary = result.get("summary") or {}
    facts = {"rows": result.get("rows"), "columns": summary.get("columns"), "newest": summary.get("newest")}
    try:
        return evaluate_gates(job.gates, facts, previous_facts(store, job_name, record), now=record.scheduled_for)
    except (TaskError, ValueError, TypeError) as exc:
        check = GateCheck("facts", False, f"the result cannot be checked: {exc}")
        return GateVerdict("fail", [check])


def previous_facts(store: RunStore, job_name: str, record: RunRecord) -> dict[str, Any] | None:
    """The last good run's facts: the newest earlier run of the job that succeeded, had rows, and
    whose report was not held back by a gate."""
    for run in store.list(job=job_name, status=SUCCEEDED, limit=50):
        if run.id == record.id or run.queued_at > record.queued_at:
            continue
        if ((run.delivery or {}).get("gates") or {}).get("action") == "fail":
            continue
        rows = (run.result or {}).get("rows")
        if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0:
            return {"rows": rows}
    return None
