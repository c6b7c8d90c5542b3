"""Executive KPI reports: the model, its assembly from the warehouse, rendering and e-mailing
(issue 13, docs/reports.md)."""
