"""Executive KPI reports: their model, rendering, and e-mailing (issue 13, docs/reports.md)."""
