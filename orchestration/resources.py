"""The Dagster resources: the warehouse, configured by the one settings object of omnicx, and
the Great Expectations context the checks of a run share.

A resource holds only where to find the settings; ``load_settings`` (the one place the
environment is read) runs when a step asks for them, never when the definitions are imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from dagster import ConfigurableResource
from pydantic import PrivateAttr

from schemas.settings import Settings, load_settings, with_overrides

if TYPE_CHECKING:
    from orchestration.checks.gx_validation import ValidationSession


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse over the lake (``warehouse.build``) and the KPI knobs.

    ``config_file``: the settings file (default: ``$OMNICX_CONFIG``, else ``./omnicx.toml``);
    ``home``: overrides the state directory of the settings (the lake and the DuckDB file live
    under it); ``profile``: a vendor definition profile (``schemas.profiles``) whose KPI knobs
    replace the settings' (``omnicx refresh --profile NAME``); ``docs_index_after_run``: the
    checks render only their validation's Data Docs page, and the one who launched the run
    renders the suites' pages and the index once after it (``omnicx refresh``), instead of
    every check rendering them again.
    """

    config_file: str | None = None
    home: str | None = None
    profile: str | None = None
    docs_index_after_run: bool = False

    def settings(self) -> Settings:
        from schemas.profiles import profile_settings

        config = Path(self.config_file) if self.config_file else None
        settings = load_settings(config_file=config)
        if self.home is not None:
            settings = with_overrides(settings, home=Path(self.home))
        return settings if self.profile is None else profile_settings(settings, self.profile)

    def build(self, marts: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> Path:
        """Rebuild the warehouse file from the lake and swap it in; ``marts`` writes into the new
        file before it is published (readers never see a half-refreshed mart)."""
        from warehouse.build import build_warehouse

        return build_warehouse(self.settings(), marts=marts)

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the published warehouse file."""
        from warehouse.build import connect_read_only

        con = connect_read_only(self.settings())
        try:
            yield con
        finally:
            con.close()


class ValidationResource(ConfigurableResource):
    """The Great Expectations context and data source of a run (``gx_validation``), set up at
    the first check and shared by the run's others: the steps of a run run in one process
    (``in_process_executor``), which initialises the run's resources once."""

    _sessions: dict[Path, ValidationSession] = PrivateAttr(default_factory=dict)

    def session(self, settings: Settings) -> ValidationSession:
        """The run's session for the Great Expectations directory of ``settings``."""
        from orchestration.checks.gx_validation import ValidationSession, gx_dir

        directory = gx_dir(settings)
        if directory not in self._sessions:
            self._sessions[directory] = ValidationSession(settings)
        return self._sessions[directory]
