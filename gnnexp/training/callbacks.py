"""What happens around the loop, as callbacks: tables, files, checkpoints, trackers, signals.

The loop (``gnnexp.training.loop.fit``) only optimises and evaluates; everything a run
leaves behind or reacts to is a :class:`Callback`, in the spirit of Lightning's and Keras'.
Callbacks run in the order given, and each hook sees the live :class:`TrainState`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch-free at import
    from gnnexp.records import EpochRecord
    from gnnexp.training.state import TrainState


# Why a callback stopped training early (``TrainState.stop``).
INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM: the run is unfinished and may resume
PRUNED = "pruned"  # the Optuna study's pruner gave up on this trial: the run is finished


@dataclass
class FitOutcome:
    """How training ended: the last finished epoch, and the stop request that ended it early."""

    last_epoch: int
    stopped_by: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.stopped_by == INTERRUPTED

    @property
    def pruned(self) -> bool:
        return self.stopped_by == PRUNED


class Callback:
    """Hooks of a fit; each may be left as a no-op."""

    def on_start(self, state: TrainState) -> None:
        """Before the first epoch (of this process: after a resume, the next one)."""

    def on_batch(self, done: int, total: int) -> None:
        """After each training batch (``total`` is 0 when the loader has no length)."""

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        """After each epoch: ``record`` has its losses, validation results and timing."""

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        """Training ended: after the last epoch, early stopping or a stop request."""

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        """Training failed (a non-finite loss, a write error, a bug); ``error`` is re-raised."""
