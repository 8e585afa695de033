"""The DOMAIN.md metrics (one home), the case scan, report inputs, and the helpers report tasks are made of.

A report task imports what it needs from here (docs/reports.md is the guide)::

    from opskit.reports import case_exports, cut_rows, scan_cases, save_report

- ``formulas``: every DOMAIN.md formula over sums and counts (``formulas.aht(handle, completed)``);
  ``metrics``: the same metrics over plain rows. Both namespaces are exported as modules.
- The case scan: ``scan_cases`` -> ``CaseScan`` of ``Totals`` per group and window.
- Headers for people: ``HEADERS``, ``human_header``, ``human_headers``.
- Inputs: ``case_exports``, ``read_optional``, ``read_queues``, ``read_targets``, ``read_shifts``, ...
- Report rows and summaries: ``cut_rows``, ``misses``, ``metric_kpis``, ``email_kpis``, ...
- Workbooks: ``KPI``, ``report_for``, ``cut_columns``, ``save_report`` (on top of ``opskit.excel``).
- Attribution, staffing, reconciliation, vendor reports.

The names are imported lazily (PEP 562), so ``import opskit.reports`` costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    # formulas and metrics, as namespaces and the formulas whose names are unambiguous
    "formulas": None,
    "metrics": None,
    "HIGHER": "formulas",
    "LOWER": "formulas",
    "NEUTRAL": "formulas",
    "change": "formulas",
    "percentile_inc": "formulas",
    "point_change": "formulas",
    "ratio": "formulas",
    "target_attainment": "formulas",
    # the case scan
    "CUTS": "scan",
    "INTEGER_COLUMNS": "scan",
    "NEEDED": "scan",
    "UNASSIGNED": "scan",
    "CaseScan": "scan",
    "Totals": "scan",
    "scan_cases": "scan",
    "utc_stamp": "scan",
    # headers for people
    "HEADERS": "headers",
    "TIME_FIELDS": "headers",
    "human_header": "headers",
    "human_headers": "headers",
    # inputs
    "Target": "inputs",
    "case_exports": "inputs",
    "data_file": "inputs",
    "data_path": "inputs",
    "existing": "inputs",
    "iso_week": "inputs",
    "moderators_in": "inputs",
    "read_moderators": "inputs",
    "read_optional": "inputs",
    "read_queues": "inputs",
    "read_rows": "inputs",
    "read_shifts": "inputs",
    "read_staffing": "inputs",
    "read_targets": "inputs",
    "step_exports": "inputs",
    "targets_for": "inputs",
    "week_start": "inputs",
    "weeks_before": "inputs",
    # report rows
    "METRICS": "cuts",
    "check_cuts": "cuts",
    "cut_rows": "cuts",
    "daily_rows": "cuts",
    "misses": "cuts",
    "productive_by": "cuts",
    "worst_first": "cuts",
    # the email's summary
    "email_change": "summary",
    "email_drivers": "summary",
    "email_kpi": "summary",
    "email_kpis": "summary",
    "email_misses": "summary",
    "email_series": "summary",
    "metric_kpis": "summary",
    "drivers_share_of": "summary",
    "problem": "summary",
    "status_check": "summary",
    "trend_scale": "summary",
    # the standard workbook
    "KIND_TYPES": "workbook",
    "KPI": "workbook",
    "add_exceptions": "workbook",
    "add_notes": "workbook",
    "add_drivers": "workbook",
    "cut_columns": "workbook",
    "report_for": "workbook",
    "save_report": "workbook",
    "workbook_kpis": "workbook",
    # attribution
    "ATTRIBUTABLE": "explain",
    "add_attribution": "explain",
    "Attribution": "attribution",
    "SegmentEffect": "attribution",
    "attribute": "attribution",
    "attribute_windows": "explain",
    "attribution_facts": "explain",
    "attribution_kpi": "explain",
    "drivers": "explain",
    "narrative": "explain",
    "segment_rows": "explain",
    "segments": "explain",
    "show": "explain",
    # staffing
    "agents_for_service_level": "staffing",
    "erlang_c": "staffing",
    "required_fte": "staffing",
    "required_hours": "staffing",
    "service_level": "staffing",
    "weekly_requirement": "staffing",
    # reconciliation
    "Reconciliation": "reconciliation",
    "keyed_sums": "reconciliation",
    "parse_columns": "reconciliation",
    "parse_filters": "reconciliation",
    "read_side": "reconciliation",
    "reconcile_sums": "reconciliation",
    # vendor daily reports
    "VENDOR_ALIASES": "vendor",
    "VENDOR_FIELDS": "vendor",
    "DURATION_FIELDS": "vendor",
    "VENDOR_TYPES": "vendor",
    "Inbox": "vendor",
    "case_export_rows": "vendor",
    "check_vendor_rows": "vendor",
    "column_problems": "vendor",
    "examine_vendor_file": "vendor",
    "quarantine_fix": "vendor",
    "repeated_rows": "vendor",
    "vendor_row_key": "vendor",
    "complete_vendor_row": "vendor",
    "file_sha256": "vendor",
    "is_case_export": "vendor",
    "read_vendor_report": "vendor",
    "vendor_of": "vendor",
    "vendor_columns": "vendor",
    "rejection_columns": "vendor",
    "vendor_settings": "vendor",
}
__all__ = [
    "ATTRIBUTABLE",
    "Attribution",
    "CUTS",
    "CaseScan",
    "DURATION_FIELDS",
    "HEADERS",
    "HIGHER",
    "INTEGER_COLUMNS",
    "Inbox",
    "KIND_TYPES",
    "KPI",
    "LOWER",
    "METRICS",
    "NEEDED",
    "NEUTRAL",
    "Reconciliation",
    "SegmentEffect",
    "TIME_FIELDS",
    "Target",
    "Totals",
    "UNASSIGNED",
    "VENDOR_ALIASES",
    "VENDOR_FIELDS",
    "VENDOR_TYPES",
    "add_attribution",
    "add_drivers",
    "add_exceptions",
    "add_notes",
    "agents_for_service_level",
    "attribute",
    "attribute_windows",
    "attribution_facts",
    "attribution_kpi",
    "case_export_rows",
    "case_exports",
    "change",
    "check_cuts",
    "check_vendor_rows",
    "column_problems",
    "complete_vendor_row",
    "cut_columns",
    "cut_rows",
    "daily_rows",
    "data_file",
    "data_path",
    "drivers",
    "drivers_share_of",
    "email_change",
    "email_drivers",
    "email_kpi",
    "email_kpis",
    "email_misses",
    "email_series",
    "erlang_c",
    "examine_vendor_file",
    "existing",
    "file_sha256",
    "formulas",
    "human_header",
    "human_headers",
    "is_case_export",
    "iso_week",
    "keyed_sums",
    "metric_kpis",
    "metrics",
    "misses",
    "moderators_in",
    "narrative",
    "parse_columns",
    "parse_filters",
    "percentile_inc",
    "point_change",
    "problem",
    "productive_by",
    "quarantine_fix",
    "ratio",
    "read_moderators",
    "read_optional",
    "read_queues",
    "read_rows",
    "read_shifts",
    "read_side",
    "read_staffing",
    "read_targets",
    "read_vendor_report",
    "reconcile_sums",
    "rejection_columns",
    "repeated_rows",
    "report_for",
    "required_fte",
    "required_hours",
    "save_report",
    "scan_cases",
    "segment_rows",
    "segments",
    "service_level",
    "show",
    "status_check",
    "step_exports",
    "target_attainment",
    "targets_for",
    "trend_scale",
    "utc_stamp",
    "vendor_columns",
    "vendor_of",
    "vendor_row_key",
    "vendor_settings",
    "week_start",
    "weekly_requirement",
    "weeks_before",
    "workbook_kpis",
    "worst_first",
]
# No module here is named like a name above (``drivers`` lives in explain.py): importing a
# submodule sets it as an attribute of the package, and would then shadow the function of that name.

if TYPE_CHECKING:
    from opskit.reports import formulas, metrics
    from opskit.reports.attribution import Attribution, SegmentEffect, attribute
    from opskit.reports.cuts import METRICS, check_cuts, cut_rows, daily_rows, misses, productive_by, worst_first
    from opskit.reports.explain import (
        ATTRIBUTABLE,
        add_attribution,
        attribute_windows,
        attribution_facts,
        attribution_kpi,
        drivers,
        narrative,
        segment_rows,
        segments,
        show,
    )
    from opskit.reports.formulas import (
        HIGHER,
        LOWER,
        NEUTRAL,
        change,
        percentile_inc,
        point_change,
        ratio,
        target_attainment,
    )
    from opskit.reports.headers import HEADERS, TIME_FIELDS, human_header, human_headers
    from opskit.reports.inputs import (
        Target,
        case_exports,
        data_file,
        data_path,
        existing,
        iso_week,
        moderators_in,
        read_moderators,
        read_optional,
        read_queues,
        read_rows,
        read_shifts,
        read_staffing,
        read_targets,
        step_exports,
        targets_for,
        week_start,
        weeks_before,
    )
    from opskit.reports.reconciliation import (
        Reconciliation,
        keyed_sums,
        parse_columns,
        parse_filters,
        read_side,
        reconcile_sums,
    )
    from opskit.reports.scan import CUTS, INTEGER_COLUMNS, NEEDED, UNASSIGNED, CaseScan, Totals, scan_cases, utc_stamp
    from opskit.reports.staffing import (
        agents_for_service_level,
        erlang_c,
        required_fte,
        required_hours,
        service_level,
        weekly_requirement,
    )
    from opskit.reports.summary import (
        drivers_share_of,
        email_change,
        email_drivers,
        email_kpi,
        email_kpis,
        email_misses,
        email_series,
        metric_kpis,
        problem,
        status_check,
        trend_scale,
    )
    from opskit.reports.vendor import (
        DURATION_FIELDS,
        VENDOR_ALIASES,
        VENDOR_FIELDS,
        VENDOR_TYPES,
        Inbox,
        case_export_rows,
        check_vendor_rows,
        column_problems,
        complete_vendor_row,
        examine_vendor_file,
        file_sha256,
        is_case_export,
        quarantine_fix,
        read_vendor_report,
        rejection_columns,
        repeated_rows,
        vendor_columns,
        vendor_of,
        vendor_row_key,
        vendor_settings,
    )
    from opskit.reports.workbook import (
        KIND_TYPES,
        KPI,
        add_drivers,
        add_exceptions,
        add_notes,
        cut_columns,
        report_for,
        save_report,
        workbook_kpis,
    )


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'opskit.reports' has no attribute {name!r}")
    module = _WHERE[name]
    if module is None:  # a submodule exported as a namespace
        value = importlib.import_module(f"opskit.reports.{name}")
    else:
        value = getattr(importlib.import_module(f"opskit.reports.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
