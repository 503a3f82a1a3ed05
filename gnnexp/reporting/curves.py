"""curves.png, drawn in the run's own process when training ends (successfully or not).

matplotlib (Agg) is imported by :mod:`gnnexp.reporting.plots` only then, so a run that draws
nothing never pays for it. A figure that cannot be drawn is a warning: the run's results
matter more than its picture.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from gnnexp.training.callbacks import Callback, FitOutcome

if TYPE_CHECKING:
    from gnnexp.training.state import TrainState

log = logging.getLogger(__name__)


class Curves(Callback):
    """Draws ``out`` from the epochs in ``metrics`` (metrics.csv) when training ends."""

    def __init__(self, metrics: Path, out: Path, metric: str, title: str) -> None:
        self.metrics, self.out, self.metric, self.title = metrics, out, metric, title

    def draw(self, best_epoch: int | None) -> None:
        try:
            if not self.metrics.is_file() or len(self.metrics.read_text().splitlines()) < 2:
                return  # no epoch yet
            from gnnexp.reporting.plots import plot_run

            plot_run(self.metrics, self.out, self.metric, best_epoch or None, self.title)
        except Exception as err:  # matplotlib missing or failing, a damaged file, a full disk
            log.warning("curves.png not drawn: %s", err)

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        self.draw(state.stopper.best_epoch)

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self.draw(state.stopper.best_epoch)
