"""Case exports: CSV streamed row by row, XLSX written with openpyxl's write-only mode, and the
background jobs that prepare large exports.

CSV: UTF-8 without a byte-order mark, comma separated, ``\\r\\n`` line ends, fields quoted where
needed (Python's ``csv`` defaults), empty for NULL, values exactly as stored.

XLSX: one sheet ``cases``, the same header and values. Strings that start with ``=``, ``+``, ``-``,
``@``, tab or CR are written as string cells (``t="inlineStr"``), never formulas; a carriage return
inside text is written as Excel's ``_x000D_`` escape, because XML parsers turn a bare CR into LF.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from demo.db import EXPORT_COLUMNS, CaseFilter, connect, select_cases

log = logging.getLogger(__name__)
_CR = "\r"
_RISKY = ("=", "+", "-", "@", "\t", "\r")


def csv_chunks(rows: Iterable[tuple], *, batch: int = 2000) -> Iterator[str]:
    """The header and rows as CSV text, a few thousand rows at a time (for streaming responses)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_COLUMNS)
    for i, row in enumerate(rows, 1):
        writer.writerow(row)
        if i % batch == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_csv(rows: Iterable[tuple], path: Path) -> int:
    """Write rows to ``path``; returns the number of data rows."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_xlsx(rows: Iterable[tuple], path: Path | BinaryIO) -> int:
    """Write rows to an XLSX file; strings always as text, never formulas. Returns the row count."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    ws.freeze_panes = "A2"
    ws.append(list(EXPORT_COLUMNS))
    count = 0
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str) and (value.startswith(_RISKY) or _CR in value):
                # XML parsers turn a bare CR into LF; Excel's own escape keeps it.
                cell = WriteOnlyCell(ws, value=value.replace(_CR, "_x000D_"))
                cell.data_type = "s"  # openpyxl would otherwise make '=...' a formula
                cells.append(cell)
            else:
                cells.append(value)  # plain strings, numbers and None bind as themselves
        ws.append(cells)
        count += 1
    wb.save(path)
    return count


def export_filename(flt: CaseFilter, fmt: str, now: datetime, data_start: date, data_end: date) -> str:
    """``cases_<from>_<to>_<now>.<fmt>``, e.g. ``cases_2026-11-09_2026-11-15_20261116T0000.csv``."""
    date_from = flt.date_from or data_start
    date_to = flt.date_to or data_end
    return f"cases_{date_from}_{date_to}_{now:%Y%m%dT%H%M}.{fmt}"


@dataclass(slots=True)
class ExportJob:
    """A background export: ``status`` is ``running``, ``done`` or ``failed``."""

    job_id: str
    filename: str
    path: Path
    status: str = "running"
    rows: int = 0
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class ExportJobs:
    """Prepares large exports in background threads, one file per job in ``folder``."""

    def __init__(self, db_path: Path, folder: Path):
        self.db_path, self.folder = db_path, folder
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()

    def start(self, flt: CaseFilter, fmt: str, filename: str) -> ExportJob:
        self.folder.mkdir(parents=True, exist_ok=True)
        job_id = uuid.uuid4().hex
        job = ExportJob(job_id, filename, self.folder / f"{job_id}.{fmt}")
        with self._lock:
            self._jobs[job_id] = job
        threading.Thread(target=self._run, args=(job, flt, fmt), name=f"export-{job_id[:8]}", daemon=True).start()
        return job

    def get(self, job_id: str) -> ExportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> ExportJob:
        """Block until the job finishes (for tests and the shutdown path)."""
        job = self._jobs[job_id]
        if not job.done.wait(timeout):
            raise TimeoutError(f"export {job_id} still running after {timeout}s")
        return job

    def wait_all(self, timeout: float | None = None) -> None:
        for job in list(self._jobs.values()):
            job.done.wait(timeout)

    def _run(self, job: ExportJob, flt: CaseFilter, fmt: str) -> None:
        tmp = job.path.with_name(job.path.name + ".part")
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(self.db_path)
            rows = select_cases(conn, flt)
            job.rows = write_csv(rows, tmp) if fmt == "csv" else write_xlsx(rows, tmp)
            os.replace(tmp, job.path)
            job.status = "done"
            log.info("export %s: %d rows", job.job_id, job.rows)
        except Exception as exc:  # recorded on the job and shown on its status page
            log.exception("export %s failed", job.job_id)
            job.status, job.error = "failed", str(exc)
        finally:
            if conn is not None:
                conn.close()
            job.done.set()
