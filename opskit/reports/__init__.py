"""The Trust & Safety metrics of DOMAIN.md (one home), attribution, staffing and report-building helpers."""
