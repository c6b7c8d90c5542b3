"""Data-quality checks run as Dagster asset checks: Great Expectations suites on the warehouse
views (blocking the KPI marts when bad data would corrupt them) and reconciliations."""
