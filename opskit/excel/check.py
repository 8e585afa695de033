"""Know what a file is before parsing it, and refuse the unusable ones with one clear message.

Vendors send .xls files named .xlsx, password-protected workbooks, LibreOffice .ods files, HTML pages
that a web tool called "Excel", truncated e-mail attachments and, now and then, hostile files. The
checks here run on the raw bytes and the zip directory, so they are cheap and never hang:

- the first bytes tell a zip (xlsx/xlsm/ods), an OLE container (.xls or an encrypted OOXML package),
  HTML, PDF or text apart;
- every zip member is decompressed once in 1 MiB chunks, which makes zipfile verify its CRC-32 (calamine
  does not), with a cap on the total uncompressed size against zip bombs;
- every XML part goes through expat, which refuses a DOCTYPE before a single entity is declared (so a
  "billion laughs" part never expands) and finds malformed XML that calamine would silently skip.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from opskit.excel.errors import WorkbookError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
MAX_UNCOMPRESSED = 4 * 1024**3  # a 1M-row, 12-column sheet is ~0.2 GiB of XML
MAX_RATIO = 1000  # real sheets compress ~10-30x; a bomb compresses ~1000x and more
CHUNK = 1 << 20
FULL_PARSE = 8 << 20  # larger parts (big sheets): expat checks the prolog, calamine the rest
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
_DATE1904_RE = re.compile(rb"date1904\s*=\s*[\"'](1|true)[\"']", re.I)


@dataclass(frozen=True, slots=True)
class FileKind:
    """What a file turned out to be: ``xlsx`` (any OOXML workbook, incl. .xlsm) or ``csv``."""

    kind: str
    date1904: bool = False
    error_cells: bool = False  # some sheet holds #N/A-style error cells (t="e")


class _Doctype(Exception):
    pass


class _TooWide(Exception):
    """A sheet's used range spans more cells than a reader can hold (a stray cell far out)."""

    def __init__(self, rows: int, columns: int, last: str):
        super().__init__(last)
        self.rows, self.columns, self.last = rows, columns, last


MAX_RANGE_CELLS = 50_000_000
"""calamine holds a sheet's whole used range in memory, about 32 bytes a cell, and aborts the process when
it cannot: 20,000 rows and one note in column XFD is 10 GiB. A range larger than this is refused."""
# The row of a cell that holds something (not "<c .../>"): a row tag alone (a height set on row 1,048,576)
# takes no room in a reader.
_CONTENT_ROW = re.compile(rb"<c\b[^>]*?\br=\"[A-Z]{1,3}(\d+)\"[^>]*(?<!/)>")
# A cell past column Z that holds something (a row's r= is digits only; an empty styled cell, "<c .../>",
# as Gnumeric writes for the whole grid, takes no room in a reader).
_WIDE_CELL = re.compile(rb" r=\"([A-Z]{2,3})\d+\"[^>]*(?<!/)>")


def _refuse(path: Path, message: str, kind: str, hint: str | None = None) -> WorkbookError:
    return WorkbookError(message, where=path.name, hint=hint, kind=kind)


def inspect_file(path: str | os.PathLike[str]) -> FileKind:
    """Identify a workbook or CSV file and verify a zip container; raise WorkbookError if unusable.

    Raises:
        WorkbookError: with ``kind`` naming the reason, and the file name in the message.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        raise _refuse(path, "file not found", "missing") from None
    except IsADirectoryError:
        raise _refuse(path, "is a folder, not a file", "not_workbook") from None
    except OSError as exc:
        raise _refuse(path, f"cannot be opened ({exc.strerror})", "unreadable") from None
    if not head:
        raise _refuse(path, "is empty (0 bytes)", "not_workbook", "ask for the file again")
    if head.startswith(OLE_MAGIC):
        raise _ole(path)
    if head.startswith(ZIP_MAGICS):
        date1904, errors = _check_zip(path)
        return FileKind("xlsx", date1904=date1904, error_cells=errors)
    lower = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lower.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        raise _refuse(
            path,
            "is an HTML page saved with an Excel name (a web tool's 'Excel' export)",
            "not_workbook",
            "open it in Excel and save it as .xlsx, or export CSV instead",
        )
    if lower.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        raise _refuse(
            path,
            "is an Excel 2003 XML spreadsheet",
            "not_workbook",
            "open it in Excel and save it as .xlsx",
        )
    if head.startswith(b"%PDF"):
        raise _refuse(path, "is a PDF document, not a workbook", "not_workbook")
    if path.suffix.lower() in TEXT_SUFFIXES:
        return FileKind("csv")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _refuse(path, "is not an Excel workbook (.xlsx) or a CSV file", "not_workbook")
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls", ".ods"}:
        raise _refuse(
            path,
            f"is a text file, not an Excel workbook, despite its {path.suffix} name",
            "not_workbook",
            "if it is CSV, rename it to .csv",
        )
    return FileKind("csv")


def _ole(path: Path) -> WorkbookError:
    # The OLE directory names its streams in UTF-16LE. An encrypted OOXML package keeps the real
    # workbook in "EncryptedPackage" next to "EncryptionInfo"; a legacy workbook has "Workbook"/"Book".
    with open(path, "rb") as handle:
        data = handle.read(32 * 1024 * 1024)
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        return _refuse(
            path,
            "is password-protected (encrypted)",
            "encrypted",
            "ask the sender for an unprotected copy, or open it in Excel, remove the "
            "password (File > Info > Protect Workbook) and save",
        )
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        return _refuse(
            path,
            "is an .xls (Excel 97-2003) file",
            "xls",
            "save it as .xlsx (File > Save As > Excel Workbook)",
        )
    return _refuse(path, "is an Office 97-2003 document but not a workbook", "not_workbook")


def _check_zip(path: Path) -> tuple[bool, bool]:
    """Verify the zip and its XML parts; return (date1904 flag, whether error cells exist)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise _refuse(
            path,
            "is damaged or truncated (not a complete zip archive)",
            "corrupt",
            "ask for the file again; it may have been cut off in transfer",
        ) from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        names = {i.filename.replace("\\", "/").lstrip("/") for i in infos}
        if "mimetype" in names:
            mime = archive.read(next(i for i in infos if i.filename == "mimetype"))[:80]
            if b"opendocument" in mime:
                raise _refuse(
                    path,
                    "is an OpenDocument spreadsheet (.ods) with an Excel name",
                    "ods",
                    "open it in LibreOffice or Excel and save it as .xlsx",
                )
        if "[Content_Types].xml" not in names:
            raise _refuse(
                path,
                "is not a complete Excel workbook (its [Content_Types].xml part is missing)",
                "missing_part",
                "open and re-save it in Excel, or ask again",
            )
        total = sum(i.file_size for i in infos)
        if total > MAX_UNCOMPRESSED or any(
            i.file_size > 10 * CHUNK and i.file_size > MAX_RATIO * max(i.compress_size, 1) for i in infos
        ):
            raise _refuse(
                path,
                f"expands to {total / 1024**3:.1f} GiB or compresses implausibly well (a zip bomb?)",
                "too_large",
            )
        date1904 = errors = False
        for info in infos:
            name = info.filename.replace("\\", "/")
            is_xml = name.lower().endswith((".xml", ".rels", ".vml"))
            try:
                data, has_errors = _verify_member(archive, info, is_xml)
                errors = errors or has_errors
            except _TooWide as wide:
                raise _refuse(
                    path,
                    f"has a used range of {wide.rows:,} rows by {wide.columns:,} columns in {name} (cells hold "
                    f"something as far as row {wide.rows:,} and column {wide.last}), too large to read",
                    "too_large",
                    "delete the stray cells far below or right of the table (Ctrl+End in Excel shows the "
                    "last one) and save it again",
                ) from None
            except _Doctype:
                raise _refuse(
                    path,
                    f"contains an XML entity declaration (DOCTYPE) in {name}, "
                    "which no spreadsheet program writes; refused as a possible "
                    "entity-expansion attack",
                    "entity",
                ) from None
            except expat.ExpatError as exc:
                raise _refuse(
                    path,
                    f"has malformed XML in {name} ({expat.ErrorString(exc.code)} at line {exc.lineno})",
                    "bad_xml",
                    "open and re-save it in Excel, or ask for it again",
                ) from None
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                EOFError,
                OSError,
                ValueError,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                raise _refuse(
                    path,
                    f"is damaged: part {name} cannot be unpacked ({exc})",
                    "corrupt",
                    "ask for the file again",
                ) from None
            if data is not None and _DATE1904_RE.search(data):
                date1904 = True
        return date1904, errors


def _verify_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, is_xml: bool) -> tuple[bytes | None, bool]:
    """Read a member to its end (zipfile checks the CRC there); parse XML parts with expat.

    Returns the first chunk of a workbook.xml part (for the date1904 flag) or None, and whether
    a worksheet part holds error cells (calamine reads those as empty strings).
    """
    sheet = "worksheets/" in info.filename.replace("\\", "/")
    errors = False
    parser = None
    if is_xml:
        parser = expat.ParserCreate()
        parser.StartDoctypeDeclHandler = _doctype
        parser.EntityDeclHandler = _doctype
    first: bytes | None = None
    max_row, max_col, last, tail = 0, 1, "", b""
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            if first is None:
                first = chunk[:8192]
            if parser is not None:
                parser.Parse(chunk, False)
                if info.file_size > FULL_PARSE:
                    parser = None  # the DOCTYPE can only be in the prolog, which is parsed
            if sheet:
                errors = errors or b't="e"' in chunk
                seam = tail + chunk  # a tag cut in two by the chunk boundary is whole here
                rows = _CONTENT_ROW.findall(seam[-65536:]) or _CONTENT_ROW.findall(seam)  # rows are in order
                max_row = max([max_row, *map(int, rows)])
                for letters in set(_WIDE_CELL.findall(seam)):
                    col = _column_number(letters)
                    if col > max_col:
                        max_col, last = col, letters.decode()
                tail = chunk[-256:]
    if parser is not None and info.file_size <= FULL_PARSE:
        parser.Parse(b"", True)
    if sheet and max_row * max_col > MAX_RANGE_CELLS:
        raise _TooWide(max_row, max_col, last or "A")
    lower = info.filename.lower().replace("\\", "/")
    return (first if lower.endswith("workbook.xml") else None), errors


def _column_number(letters: bytes) -> int:
    """A column's number from its letters: A is 1, Z 26, AA 27, XFD 16,384."""
    n = 0
    for c in letters:
        n = n * 26 + c - 64
    return n


def _doctype(*_args: object) -> None:
    raise _Doctype
