"""config.yaml ``vendor_reports:``: how vendor daily reports are read, for every job that reads them.

A project meets vendors opskit has never seen. This section says, once for the project, what their
headers mean (``aliases``), who sent a file (``vendors``, by file-name pattern), which extra columns
are harmless (``ignore_columns``), which columns every report must carry (``expected``), and what
happens to a file with a column that maps to nothing or an expected column missing
(``unknown_columns``: the file's gate). Field names are checked when the config loads: a misspelt
one is an error at its ``file:line`` with a "did you mean", never a column silently left empty.

The field names are DOMAIN.md's "vendor daily report" (``opskit.reports.vendor`` reads them;
``tests/test_config.py`` keeps the two lists the same).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from opskit.config.types import Strict
from opskit.config.vendor_fields import VENDOR_REPORT_FIELDS
from opskit.errors import did_you_mean

DEFAULT_EXPECTED = ("handle_seconds", "productive_seconds", "qa_sampled", "qa_correct")


def _field(name: str) -> str:
    if name not in VENDOR_REPORT_FIELDS:
        hint = did_you_mean(name, VENDOR_REPORT_FIELDS) or f"Fields: {', '.join(VENDOR_REPORT_FIELDS)}"
        raise ValueError(f"'{name}' is not a vendor report field. {hint}")
    return name


def _listed(value: Any) -> Any:
    """One string or a list of them (``files: "acme_*.xlsx"``)."""
    return [value] if isinstance(value, str) else value


VendorField = Annotated[str, AfterValidator(_field)]
Strings = Annotated[list[str], BeforeValidator(_listed)]


class VendorPattern(Strict):
    """Which files a vendor sends: file-name globs, case-insensitive (``acme_*.xlsx``).

    ``Acme: {files: ["acme_*.xlsx"]}``; ``Acme: ["acme_*.xlsx"]`` and ``Acme: "acme_*"`` say the same.
    ``dayfirst`` overrides the section's for this vendor's files (a US vendor writes 11/05/2026 for 5 November,
    and a one-day file holds no date that could tell).
    """

    files: Strings = Field(min_length=1)
    dayfirst: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _globs(cls, value: Any) -> Any:
        return {"files": value} if isinstance(value, str | list) else value


class VendorReports(Strict):
    """The ``vendor_reports:`` section (module docstring); every key is optional."""

    aliases: dict[VendorField, Strings] = Field(default_factory=dict)
    """Field -> the headers vendors write for it, added to the built-in spellings."""
    vendors: dict[str, VendorPattern] = Field(default_factory=dict)
    """Vendor name -> the files it sends; a file no pattern matches and without a vendor column is
    quarantined as from an unknown vendor."""
    ignore_columns: Strings = Field(default_factory=list)
    """Headers that are known to carry nothing the master needs (``Team lead``): not a problem."""
    expected: list[VendorField] = Field(default_factory=lambda: list(DEFAULT_EXPECTED))
    """Fields every report must have besides the required ones (date, moderator, queue, handled)."""
    unknown_columns: Literal["quarantine", "warn", "ignore"] = "quarantine"
    """A file with a column that maps to no field, or without an expected one: quarantined (not
    merged), merged with the problem in the email (warn), or merged quietly (ignore)."""
    dayfirst: bool = True
    """Read 03/11/2026 as 3 November."""

    def merged(self, other: VendorReports) -> VendorReports:
        """These settings with ``other``'s over them: aliases and ignored columns added, vendors and
        the rest replaced where ``other`` sets them."""
        aliases = {k: list(v) for k, v in self.aliases.items()}
        for key, names in other.aliases.items():
            aliases.setdefault(key, []).extend(names)
        given = other.model_fields_set
        return VendorReports(
            aliases=aliases,
            vendors={**self.vendors, **other.vendors},
            ignore_columns=[*self.ignore_columns, *other.ignore_columns],
            expected=other.expected if "expected" in given else self.expected,
            unknown_columns=other.unknown_columns if "unknown_columns" in given else self.unknown_columns,
            dayfirst=other.dayfirst if "dayfirst" in given else self.dayfirst,
        )
