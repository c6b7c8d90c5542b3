"""The Dagster instance directory of omnicx (``$OMNICX_HOME/dagster``, the ``DAGSTER_HOME`` of
``dagster dev``) and its ``dagster.yaml``: telemetry off. ``omnicx refresh`` and whatever
starts the UI prepare it with :func:`prepare_dagster_home`, so both share one instance."""

from __future__ import annotations

from pathlib import Path

from schemas.settings import Settings

DAGSTER_YAML = """\
# Written by omnicx (orchestration/dagster_home.py): runs, materializations and check results
# of omnicx refresh, the schedules and the sensor are stored here.
telemetry:
  enabled: false
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """The instance directory, created with omnicx's ``dagster.yaml`` when it has none (a
    ``dagster.yaml`` an operator wrote is kept)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home
