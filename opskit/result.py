"""What a task returns (``Result``), and how the results of a job's steps become the run's one result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Result:
    """What a task produced: files, a row count, and a short summary that is stored with the run."""

    files: list[Path] = field(default_factory=list)
    rows: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"files": [str(f) for f in self.files], "rows": self.rows, "summary": self.summary}


def merge_results(results: dict[str, Result], report_step: str | None = None) -> dict[str, Any]:
    """One result for a chain: every step's files, and the row count and summary keys of the LAST step
    that gives them. Later steps build on earlier ones and are closer to what people read: the report's
    period ("2026-W46") wins over the export's two weeks, the attribution's drivers over a report's."""
    files = [str(f) for r in results.values() for f in r.files]
    report = results.get(report_step or "")
    rows = (
        report.rows
        if report is not None and report.rows is not None
        else next((r.rows for r in reversed(results.values()) if r.rows is not None), None)
    )
    summary = merged_summary(results.values(), report=report)
    summary["steps"] = {label: {"rows": r.rows, "files": [str(f) for f in r.files]} for label, r in results.items()}
    return {"files": files, "rows": rows, "summary": summary}


def merged_summary(results: Iterable[Result], *, report: Result | None = None) -> dict[str, Any]:
    """Summaries merged key by key; the last result with a non-empty value for a key wins, except that
    the job's ``report_step`` (when it names one) wins every key it gives."""
    summary: dict[str, Any] = {}
    for r in results:
        for key, value in r.summary.items():
            if value not in (None, [], {}, "") or key not in summary:
                summary[key] = value
    if report is not None:
        summary.update({k: v for k, v in report.summary.items() if v not in (None, [], {}, "")})
    return summary


def as_result(outcome: Any) -> Result:
    if isinstance(outcome, Result):
        return outcome
    if outcome is None:
        return Result()
    if isinstance(outcome, dict):
        return Result(summary=outcome)
    return Result(summary={"value": str(outcome)})
