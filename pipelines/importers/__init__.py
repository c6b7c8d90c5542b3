"""Importers of contact-centre platforms' exports (docs/importers.md), one module per format,
sharing ``framework``. ``FORMATS`` names each format's importer class by module and attribute,
so that listing a format does not import its code; a class is built with no arguments, or with
``mapping=PATH`` when the format takes a mapping file (``--mapping``)."""

from __future__ import annotations

import inspect
from importlib import import_module
from pathlib import Path

from pipelines.importers.framework import Importer, ImportFailed

FORMATS: dict[str, tuple[str, str]] = {
    "queue-log": ("pipelines.importers.queue_log", "QueueLogImporter"),
    "csv": ("pipelines.importers.csv_log", "CsvImporter"),
    "events": ("pipelines.importers.events", "EventsImporter"),
    "amazon-connect-ctr": ("pipelines.importers.amazon_connect", "ContactRecordImporter"),
    "amazon-connect-agent-events": ("pipelines.importers.amazon_connect", "AgentEventImporter"),
    "genesys": ("pipelines.importers.genesys", "GenesysImporter"),
}


def importer_for(name: str, mapping: Path | None = None) -> Importer:
    """The importer of format ``name``; ImportFailed for an unknown format or a mapping the
    format does not take (or lacks)."""
    if name not in FORMATS:
        raise ImportFailed(f"unknown format {name!r} (one of {', '.join(sorted(FORMATS))})")
    module, attribute = FORMATS[name]
    factory = getattr(import_module(module), attribute)
    takes_mapping = "mapping" in inspect.signature(factory).parameters
    if mapping is not None and not takes_mapping:
        raise ImportFailed(f"format {name} takes no --mapping")
    return factory(mapping=mapping) if takes_mapping else factory()
