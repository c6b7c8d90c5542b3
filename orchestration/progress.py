"""Progress of the long steps (``simulate``, ``lag --wait``, ``refresh``) on standard error.

Drawn with rich only when standard error is a terminal; otherwise a progress display draws
nothing, so captured output (scripts, tests, log collectors) holds the commands' own lines only
and never an escape code.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items a second since the task started, in the task's ``unit`` (a field given to
    ``add_task``). An average, not rich's recent speed: that one restarts whenever a total
    changes, and the totals of a catch-up grow as it goes."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "")
        elapsed = task.finished_time or task.elapsed
        if not elapsed:
            return Text(f"? {unit}/s", style="progress.data.speed")
        rate = task.completed / elapsed
        shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.1f}"  # a slow step is not "0/s"
        return Text(f"{shown} {unit}/s", style="progress.data.speed")


def stderr_console() -> Console:
    """The console of progress and of the commands' coloured output: standard error, with
    colours and cursor moves only when it is a terminal."""
    return Console(stderr=True)


def progress_display(
    console: Console | None = None, clock: Callable[[], float] | None = None
) -> Progress:
    """A progress display with totals, rate, elapsed and remaining time; disabled (it draws
    nothing) unless ``console`` (default: standard error) is a terminal. ``clock``: seconds
    (default: monotonic time)."""
    console = console or stderr_console()
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
        get_time=clock,
    )
