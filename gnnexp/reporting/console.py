"""The rich console: per-epoch table, model/data panel and the final summary.

On a terminal the table grows row by row under a live progress bar; piped to a file it
is plain aligned text without control codes (rich drops them when not on a terminal).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from gnnexp.errors import closed_pipe
from gnnexp.records import EpochRecord
from gnnexp.training.callbacks import Callback, FitOutcome
from gnnexp.training.state import TrainState


class PipeSafeConsole(Console):
    """rich's console, except when the reader of its pipe is gone.

    rich then exits with status 1 (``on_broken_pipe``); under ``gnnexp train | tee log`` a
    Ctrl-C kills tee first, and the run must still stop as an interrupted run, saving
    last.pt. What is left to print goes to stderr (still the terminal: the resume line),
    or nowhere when that is closed too.
    """

    def on_broken_pipe(self) -> None:
        closed_pipe(self.file)
        if self.file is not sys.stderr:
            self.file = sys.stderr
        else:
            self.quiet = True


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return format(value, spec)


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1000:.1f}ms" if seconds < 1 else f"{seconds:.2f}s"


class EpochTable(Callback):
    """Prints one aligned row per logged epoch, with a progress bar on a terminal."""

    def __init__(self, console: Console, metric: str, max_epochs: int, log_every: int = 1) -> None:
        self.console = console
        self.metric = metric
        self.max_epochs = max_epochs
        self.log_every = log_every
        self.headers = ["epoch", "train loss", "val loss", f"val {metric}", "lr", "time", "best"]
        self.widths = [6, 10, 10, max(10, len(metric) + 4), 9, 8, 4]
        self.progress: Progress | None = None
        self.task_id: Any = None
        self.batch_id: Any = None

    def _row(self, cells: list[str], style: str = "") -> Text:
        # Plain fixed-width text: a rich Table per row costs ~0.7 ms, more than an epoch.
        return Text(
            " ".join(cell.rjust(width) for cell, width in zip(cells, self.widths, strict=True)), style
        )

    def _print(self, renderable: Any) -> None:
        (self.progress.console if self.progress else self.console).print(renderable)

    def __enter__(self) -> EpochTable:
        self.console.print(self._row(self.headers, "bold"))
        if self.console.is_terminal:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[best]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task_id = self.progress.add_task("epochs", total=self.max_epochs, best="")
        return self

    def batch(self, done: int, total: int) -> None:
        """Progress within an epoch of many mini-batches (terminal only)."""
        if self.progress is None or total < 2:
            return
        if self.batch_id is None:
            self.batch_id = self.progress.add_task("batches", total=total, best="")
        self.progress.update(self.batch_id, completed=done - 1, total=total)

    def add(self, record: EpochRecord, best_text: str = "") -> None:
        if record.epoch % self.log_every == 0 or record.epoch in (1, self.max_epochs):
            val = record.val or {}
            cells = [
                str(record.epoch),
                _fmt(record.train_loss, ".4f"),
                _fmt(val.get("loss"), ".4f"),
                _fmt(val.get(self.metric), ".4f"),
                _fmt(record.lr, ".2e"),
                _fmt_time(record.time_s),
                "*" if record.is_best else "",
            ]
            self._print(self._row(cells, "green" if record.is_best else ""))
        if self.progress is not None:
            self.progress.update(self.task_id, completed=record.epoch, best=best_text)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def on_start(self, state: TrainState) -> None:
        self.__enter__()

    def on_batch(self, done: int, total: int) -> None:
        self.batch(done, total)

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        stopper = state.stopper
        self.add(record, "" if stopper.best is None else f"best {stopper.best:.4f} @ {stopper.best_epoch}")

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        self.__exit__()
        if outcome.pruned:
            self.console.print(
                f"pruned after epoch {outcome.last_epoch}: the study's pruner found this trial behind "
                "the others at this epoch (best checkpoint kept)",
                style="yellow",
                highlight=False,
            )

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self.__exit__()


def key_value_panel(title: str, rows: dict[str, Any], style: str = "blue") -> Panel:
    """A two-column panel of labelled values."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")  # long paths wrap rather than being cut off
    for key, value in rows.items():
        grid.add_row(key, Text(str(value)))  # paths and overrides as they are, not markup
    return Panel(grid, title=title, title_align="left", border_style=style, box=box.ROUNDED, expand=False)
