"""Errors of the workbook layer: one clear, typed message per file that cannot be used."""

from __future__ import annotations

from opskit.errors import DataError


class WorkbookError(DataError):
    """A workbook, CSV or template cannot be read: wrong format, damaged, encrypted or unsafe.

    ``where`` is the file name, so the message reads ``vendor.xlsx: is an .xls (Excel 97-2003) file``.
    ``kind`` is a short machine-readable reason (``xls``, ``encrypted``, ``ods``, ``corrupt``,
    ``bad_xml``, ``entity``, ``missing_part``, ``not_workbook``, ``too_large``, ``unreadable``, and
    ``header`` for a history workbook whose columns are not the ones being appended).
    """

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        kind: str = "unreadable",
    ):
        super().__init__(message, where=where, hint=hint)
        self.kind = kind


class TemplateError(WorkbookError):
    """A template cannot be filled without losing something the analyst built into it."""
