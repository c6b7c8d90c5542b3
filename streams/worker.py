"""One Faust stream worker process, as ``streams.supervisor`` starts it.

``python -m streams.worker --home HOME NAME LOGLEVEL`` with the settings in ``OMNICX_*``
variables (``schemas.settings_env``). ``--home`` is on the command line only so that the process
can be found by its state directory (``./dev test`` stops what a killed test left behind).

While the broker is away, the Kafka client logs every reconnection attempt, several a second
with a traceback each (32 MB in 40 s, issue 10). ``OncePerInterval`` lets one record of each
kind through per interval and says how many it held back.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable

import faust

from pipelines.logs import configure_logging
from schemas.settings import Settings, load_settings

LOG_INTERVAL_SECONDS = 30.0


class OncePerInterval(logging.Filter):
    """Passes the first record of each (logger, message template) per interval; the next one
    that passes says how many were held back meanwhile."""

    def __init__(
        self, interval_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.passed_at: dict[tuple[str, str], float] = {}
        self.held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, str(record.msg))
        now = self.clock()
        last = self.passed_at.get(kind)
        if last is not None and now - last < self.interval_seconds:
            self.held[kind] = self.held.get(kind, 0) + 1
            return False
        self.passed_at[kind] = now
        held = self.held.pop(kind, 0)
        if held:
            # Appended to the rendered text, so the record's own %-arguments stay untouched.
            record.msg, record.args = f"{record.getMessage()} [{held} more like it held back]", ()
        return True


class _Worker(faust.Worker):
    def __init__(self, app: faust.App, settings: Settings, log_name: str, **kwargs) -> None:
        super().__init__(app, **kwargs)
        self.omnicx_settings = settings
        self.log_name = log_name

    async def _sentinel_task(self) -> None:
        # mode runs the event loop a whole second more before it closes it, at every stop; by
        # then every service of the worker has stopped and closed its clients, and a few turns
        # of the loop run the callbacks they left (a supervisor restarting the worker, a test,
        # an operator: each waited that second for nothing).
        await asyncio.sleep(0.1)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # omnicx's handlers (log file, own records on stderr, the chosen format) instead of
        # mode's coloured one and Faust's terminal spinner
        self.spinner = None
        logger.handlers.clear()
        configure_logging(self.omnicx_settings, self.log_name)
        logger.setLevel(level)
        once = OncePerInterval(LOG_INTERVAL_SECONDS)
        for handler in logger.handlers:
            handler.addFilter(once)


def run_worker(settings: Settings, worker_name: str, loglevel: str) -> None:
    from streams.app import create_app
    from streams.metrics import StreamMetrics, serve_metrics

    metrics = StreamMetrics()
    app = create_app(settings, worker_name, metrics=metrics)
    stream = settings.stream
    serve_metrics(
        metrics.registry, stream.metrics_address, stream.metrics_port, "stream.metrics_port"
    )
    worker = _Worker(app, settings, f"stream-{worker_name}", loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m streams.worker")
    parser.add_argument("--home", help="the state directory (the settings carry it too)")
    parser.add_argument("worker_name")
    parser.add_argument("loglevel")
    args = parser.parse_args()
    run_worker(load_settings(), args.worker_name, args.loglevel)
