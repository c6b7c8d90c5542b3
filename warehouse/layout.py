"""Which layout a lake was landed in, and the way from an old one to the current one.

The sink writes ``<lake>/_sink/layout`` (the layout's version) into a lake it starts on empty,
and refuses a lake landed in another layout. Layouts:

1. (no marker) ``day=`` is the UTC day the record reached Kafka; times are RFC 3339 strings.
2. ``day=`` is the row's business day (``LakeTable.business_days``); times are Parquet
   TIMESTAMP WITH TIME ZONE.

A lake is moved from one to the other by landing it again from Kafka (``omnicx sink
--rebuild``, ``rebuild_lake``): the old lake is moved aside, whole, and the sink, finding no
manifest, lands every record the topics still hold. The old lake stays where it was moved for
an operator to delete once the new one is complete (records past a topic's retention are only
there).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from warehouse.instances import running_instances
from warehouse.landing import SINK_DIR, sync_dir

LAYOUT_VERSION = 2
LAYOUT_FILE = "layout"


class LakeLayoutOutdated(RuntimeError):
    """The lake was landed in another layout than this sink writes."""


class LakeInUse(RuntimeError):
    """A sink is running on the lake that was to be moved aside."""


def layout_marker(lake_dir: Path) -> Path:
    return lake_dir / SINK_DIR / LAYOUT_FILE


def lake_layout(lake_dir: Path) -> int | None:
    """The layout version of the lake (1: landed before markers), None for a lake no sink has
    landed in yet (Parquet files there without the sink's manifests are not the sink's: it
    quarantines them, warehouse.manifest)."""
    marker = layout_marker(lake_dir)
    if marker.exists():
        return int(marker.read_text().strip())
    return 1 if (lake_dir / SINK_DIR / "manifests").exists() else None


def check_layout(lake_dir: Path) -> None:
    """Mark an empty lake with the current layout; LakeLayoutOutdated for another layout."""
    version = lake_layout(lake_dir)
    if version == LAYOUT_VERSION:
        return
    if version is not None:
        raise LakeLayoutOutdated(
            f"the lake at {lake_dir} was landed by an older sink (layout {version}: day= "
            f"folders by landing day, times as strings; this sink writes layout "
            f"{LAYOUT_VERSION}); run `omnicx sink --rebuild` to move it aside and land it "
            "again from Kafka (docs/warehouse.md, Lake layouts)"
        )
    write_marker(lake_dir)


def write_marker(lake_dir: Path) -> None:
    marker = layout_marker(lake_dir)
    marker.parent.mkdir(parents=True, exist_ok=True)
    temp = marker.with_name(f"{LAYOUT_FILE}.{os.getpid()}.tmp")
    temp.write_text(f"{LAYOUT_VERSION}\n")
    os.replace(temp, marker)
    sync_dir(marker.parent)


def rebuild_lake(lake_dir: Path, now: datetime | None = None) -> Path | None:
    """Move the lake aside (to ``<lake>.layout<N>-<UTC time>``) and start an empty lake of the
    current layout in its place; where the old lake went (None: there was no lake). LakeInUse
    when a sink runs on it."""
    if not lake_dir.exists():
        write_marker(lake_dir)
        return None
    running = running_instances(lake_dir)
    if running:
        raise LakeInUse(
            f"sinks are running on {lake_dir} ({', '.join(running)}); stop them first "
            "(`omnicx down`, or Ctrl-C in their terminals)"
        )
    version = lake_layout(lake_dir) or LAYOUT_VERSION
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = lake_dir.with_name(f"{lake_dir.name}.layout{version}-{stamp}")
    os.replace(lake_dir, target)
    sync_dir(lake_dir.parent)
    write_marker(lake_dir)
    return target
