"""Executive KPI reports: their model, assembly from the warehouse, rendering and e-mailing
(issue 13, docs/reports.md)."""
