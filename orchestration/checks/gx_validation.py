"""Run Great Expectations suites on pandas frames, and build the Data Docs.

The validations of a ``ValidationSession`` (a Dagster run's: ``orchestration.resources``) share
one ephemeral GX context and pandas data source (nothing to set up, no ``gx/`` project
directory); the context's validation results and suites are kept on disk under
``$OMNICX_HOME/gx/validations`` and ``gx/expectations`` so that the Data Docs built into
``$OMNICX_HOME/gx/data_docs`` list every suite and the latest ``INDEX_VALIDATIONS``
validations, not only the last one. The pages load nothing from the network
(``offline_pages``). Analytics and progress bars are off.
"""

from __future__ import annotations

import glob
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.settings import Settings

_SAMPLE = 5  # unexpected values shown per failed expectation
# The Docs' index lists the latest validations only: GX reads back every result it lists, at
# each validation, so listing them all made every check slower with each refresh ever run
# (the page of every validation stays on disk under data_docs/validations).
INDEX_VALIDATIONS = 64


@dataclass(frozen=True)
class Validation:
    success: bool
    rows: int
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)


def gx_dir(settings: Settings) -> Path:
    return (settings.home / "gx").resolve()  # GX wants absolute paths


def data_docs_index(settings: Settings) -> Path:
    return gx_dir(settings) / "data_docs" / "index.html"


class ValidationSession:
    """One ephemeral GX context and its pandas data source, for validating several suites
    (each once): setting them up cost more than a small suite's validation."""

    def __init__(self, settings: Settings) -> None:
        import great_expectations as gx

        self.settings = settings
        self.context = gx.get_context(
            mode="ephemeral", project_config=_project_config(gx_dir(settings))
        )
        self._source = self.context.data_sources.add_pandas("omnicx")

    def checkpoint(self, suite_name: str, expectations: list):
        """A checkpoint validating a whole dataframe against the suite, stored under its name
        (so that the Docs have a page for every suite)."""
        import great_expectations as gx

        batch = self._source.add_dataframe_asset(suite_name).add_batch_definition_whole_dataframe(
            "days"
        )
        suite = self.context.suites.add_or_update(
            gx.ExpectationSuite(name=suite_name, expectations=expectations)
        )
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
        )
        return self.context.checkpoints.add(
            gx.Checkpoint(
                name=suite_name,
                validation_definitions=[definition],
                result_format={"result_format": "SUMMARY"},
            )
        )


def validate(
    frame: pd.DataFrame,
    suite_name: str,
    expectations: list,
    settings: Settings,
    run_name: str,
    *,
    docs_index: bool = True,
    session: ValidationSession | None = None,
) -> Validation:
    """Validate ``frame`` against the expectations as suite ``suite_name``; render its page of
    the Docs, and the suite's page and the index unless ``docs_index`` is false: a caller
    running several suites renders those once after them (``build_docs_index``). ``session``:
    the context to validate in (a suite at most once per session); a new one when None."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    session = session or ValidationSession(settings)
    checkpoint = session.checkpoint(suite_name, expectations)
    started = time.time()
    result = checkpoint.run(
        batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name)
    )
    ((identifier, outcome),) = result.run_results.items()
    # what GX's UpdateDataDocsAction did, the suite's page and the index only when asked
    pages = [identifier, *([ExpectationSuiteIdentifier(name=suite_name)] if docs_index else [])]
    session.context.build_data_docs(resource_identifiers=pages, build_index=docs_index)
    docs = data_docs_index(settings).parent
    # validations/<suite>/<run name>/<run time>/<batch>.html: only this run's directory is read
    written = (docs / "validations" / suite_name).glob(f"{glob.escape(run_name)}/*/*.html")
    if docs_index:
        written = [*written, docs / "expectations" / f"{suite_name}.html", docs / "index.html"]
    offline_pages(docs, written, since=started)
    failed = [_describe(r) for r in outcome.results if not r.success]
    return Validation(outcome.success, len(frame), len(outcome.results), failed)


def build_docs_index(settings: Settings) -> None:
    """Render the Data Docs' suite pages and index page (every suite, the latest
    ``INDEX_VALIDATIONS`` validations) from what ``validate`` stored: once after the suites of a
    run that validated them with ``docs_index=False``."""
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    from orchestration.checks.suites import SUITES

    context = gx.get_context(mode="ephemeral", project_config=_project_config(gx_dir(settings)))
    started = time.time()
    # given the suites only, the section builders render no validation page again
    suites = [ExpectationSuiteIdentifier(name=suite.name) for suite in SUITES]
    context.build_data_docs(resource_identifiers=suites, build_index=True)
    docs = data_docs_index(settings).parent
    offline_pages(docs, [docs / "index.html", *(docs / "expectations").glob("*.html")], started)


def _project_config(root: Path):
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars={"globally": False},
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    for store, directory in (
        ("validation_results_store", "validations"),
        ("expectations_store", "expectations"),
    ):
        config.stores[store]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(root / directory),
        }
    config.data_docs_sites = {
        "omnicx": {
            "module_name": "orchestration.checks.data_docs_views",
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(root / "data_docs"),
            },
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "view": _view("Index"),
                "validation_results_limit": INDEX_VALIDATIONS,
            },
            # merged by GX into its default sections
            "site_section_builders": {
                section: {"view": _view("")}
                for section in ("expectations", "validations", "profiling")
            },
        }
    }
    return config


def _view(kind: str) -> dict[str, str]:
    """A page view of ``data_docs_views``: GX's, sharing one jinja environment per process."""
    return {"module_name": "orchestration.checks.data_docs_views", "class_name": f"{kind}PageView"}


# What GX's pages load from CDNs (Bootstrap, jQuery, Font Awesome, Vega) and its logo on S3.
_REMOTE_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*')
_REMOTE_STYLESHEET = re.compile(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>\s*')
_REMOTE_IMAGE = re.compile(r'src="https://great-expectations-web-assets[^"]*/([\w.-]+?)(\?[^"]*)?"')


def offline_pages(docs_dir: Path, pages: Iterable[Path], since: float) -> None:
    """Make those of the Data Docs ``pages`` (under ``docs_dir``) written since ``since`` load
    nothing from the network: remote scripts and stylesheets are dropped (the pages are
    rendered HTML, styled by GX's own ``static/styles``; sortable tables and Vega charts need
    the dropped scripts), the logo points to GX's copy under ``static/images``. The callers
    name the pages they rendered: the pages of every earlier validation stay on disk, so looking
    through them all cost every check more with each run."""
    for page in pages:
        if not page.exists() or page.stat().st_mtime < since:
            continue
        to_root = "../" * (len(page.relative_to(docs_dir).parts) - 1)
        html = page.read_text()
        offline = _REMOTE_STYLESHEET.sub("", _REMOTE_SCRIPT.sub("", html))
        offline = _REMOTE_IMAGE.sub(rf'src="{to_root}static/images/\1"', offline)
        if offline != html:
            page.write_text(offline)


def _describe(result) -> dict[str, Any]:
    """A failed expectation as plain JSON: what was expected of which column, and examples."""
    config = result.expectation_config
    described: dict[str, Any] = {"expectation": config.type}
    for name in ("column", "column_list", "column_A", "column_B", "min_value", "max_value"):
        if config.kwargs.get(name) is not None:
            described[name] = plain(config.kwargs[name])
    outcome = result.result or {}
    for name in ("observed_value", "unexpected_count", "unexpected_percent"):
        if outcome.get(name) is not None:
            described[name] = plain(outcome[name])
    if outcome.get("partial_unexpected_list"):
        described["unexpected_examples"] = plain(outcome["partial_unexpected_list"][:_SAMPLE])
    return described


def plain(value: Any) -> Any:
    """``value`` with only JSON types (numpy scalars, timestamps and tuples made plain)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
