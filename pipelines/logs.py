"""Where log records go, the same way in every omnicx process (docs/orchestration.md, Logs and
output).

- Every record at INFO and above, omnicx's and its libraries' (Dagster, Great Expectations,
  Faust and mode, aiokafka, kafka-python, urllib3 ...), is appended to
  ``$OMNICX_HOME/logs/<command>.log``.
- Standard error shows omnicx's own records only (the loggers in ``OWN_LOGGERS``), so a normal
  run prints no library chatter; with ``verbose`` (``-v``) it shows every record too.
- Both take one format, ``text`` (one line a record) or ``json`` (one object a line with the keys
  of ``JSON_KEYS``), the same schema in every process. On a normal run in ``text``, standard
  error shows a record as a person reads it: its message, after ``warning:`` or ``error:`` when
  it is one (the time, level and logger are in the file, and on stderr with ``-v``).

The settings carry the format and ``verbose`` (``[log]``, ``OMNICX_LOG_*``), so a process hands
them to the subprocesses it starts with the rest of its settings (``schemas.settings_env``).
The ``omnicx`` group calls :func:`configure_logging` before any subcommand runs; a process
started otherwise (``streams.worker``) calls it itself. This module sits in ``pipelines`` so
that the stream worker can use it.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from schemas.settings import Settings

OWN_LOGGERS = ("omnicx", "schemas", "pipelines", "streams", "warehouse", "orchestration")
JSON_KEYS = ("ts", "level", "logger", "message", "process", "pid", "exc")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(process_name)s %(name)s: %(message)s"


def configure_logging(settings: Settings, process_name: str) -> Path:
    """Route the records of this process as the module docstring says; the log file's path.

    ``process_name`` names the file (``<process_name>.log``) and every record's ``process``
    (``refresh``, ``sink``, ``stream-worker`` ...). Calling it again replaces what an earlier
    call installed (tests run several commands in one process); other handlers are left alone.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OmnicxHandler)]:
        root.removeHandler(handler)
        handler.close()
    path = settings.log_dir / f"{process_name}.log"
    formatter = JsonFormatter() if settings.log.format == "json" else _text_formatter()
    to_file = _LogFile(path)
    to_stderr = _Stderr()
    if not settings.log.verbose:
        to_stderr.addFilter(_own_records)
    to_file.setFormatter(formatter)
    terminal = settings.log.format == "text" and not settings.log.verbose
    to_stderr.setFormatter(_TerminalFormatter() if terminal else formatter)
    for handler in (to_file, to_stderr):
        handler.addFilter(_Named(process_name))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # warnings.warn of libraries become records, not stderr text
    return path


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    ``process``, ``pid`` and ``exc`` (the traceback text, or null)."""

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return orjson.dumps(
            {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                "process": getattr(record, "process_name", None),
                "pid": record.process,
                "exc": exc or record.stack_info,
            },
            default=str,
        ).decode()


def _text_formatter() -> logging.Formatter:
    formatter = logging.Formatter(TEXT_FORMAT)
    formatter.default_msec_format = "%s.%03d"
    return formatter


class _TerminalFormatter(logging.Formatter):
    """The message alone, ``warning: ...`` or ``error: ...`` for those levels, like the CLI's
    own error lines."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING:
            return f"warning: {text}"
        return text


def _own_records(record: logging.LogRecord) -> bool:
    return record.name.split(".", 1)[0] in OWN_LOGGERS


class _Named(logging.Filter):
    """Stamps each record with the omnicx process that wrote it."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self.process_name = process_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = self.process_name
        return True


class _OmnicxHandler(logging.Handler):
    """Marks the handlers ``configure_logging`` installed."""


class _LogFile(logging.FileHandler, _OmnicxHandler):
    """Appends to the file, created (with its directory) at the first record only."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


class _Stderr(logging.StreamHandler, _OmnicxHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (click's test runner
    swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass
