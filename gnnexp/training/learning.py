"""Whether a run learned anything, watched as a callback."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gnnexp.training.callbacks import Callback

if TYPE_CHECKING:
    from gnnexp.records import EpochRecord
    from gnnexp.training.state import TrainState


class LossWatch(Callback):
    """Whether training learns anything: the loss of the first epoch against the lowest since."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.lowest = math.inf
        self.epochs = 0

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        self.epochs += 1
        if self.first is None:
            self.first = record.train_loss
        if math.isfinite(record.train_loss):
            self.lowest = min(self.lowest, record.train_loss)

    def learned(self, best_epoch: int, first_epoch: int) -> bool:
        """False only on evidence: several epochs, the first one still the best, and a loss that
        never fell by ``STALL_TOLERANCE``. One epoch is no evidence either way (its first
        evaluation comes after a step already taken; a run may reach its best there)."""
        if self.epochs < 2 or self.first is None or not math.isfinite(self.first) or best_epoch > first_epoch:
            return True
        return self.lowest < self.first * (1 - STALL_TOLERANCE)


# A loss that never falls by 1% of its first value while the first epoch stays the best
# one: the model learned nothing (a learning rate far too small or too large, mostly).
STALL_TOLERANCE = 0.01


def not_learning(optimizer: str | None) -> str:
    """The warning for a run that learned nothing, suggesting only what the run did not use."""
    other = (
        f" or optimizer=adam (this run used {optimizer})" if optimizer not in (None, "adam", "adamw") else ""
    )
    return (
        "the training loss never fell and the first epoch stayed the best: the model learned nothing; "
        f"try another optimizer.lr (too small or too large){other}"
    )


class ValCurve(Callback):
    """Every evaluated epoch's validation results, in memory (the folds' mean curve)."""

    def __init__(self) -> None:
        self.values: dict[int, dict[str, float]] = {}

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if record.val is not None:
            self.values[record.epoch] = dict(record.val)
