"""A run that is an Optuna trial reports to it each evaluation and stops when pruned.

Hydra's own Optuna sweeper only sees a job's final value, so it cannot prune; here the
trial reaches the loop (``trial.*`` in the config, set by gnnexp's sweeper), so the
study's pruner can stop a hopeless trial after any evaluated epoch. The run then ends
cleanly, like an early stop: its best checkpoint is kept and results.json says
``status: pruned`` with the epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from gnnexp.training.callbacks import PRUNED, Callback

if TYPE_CHECKING:
    from gnnexp.records import EpochRecord
    from gnnexp.training.state import TrainState


class ReportToTrial(Callback):
    """Reports the best monitored validation value so far, after each evaluated epoch, to
    ``trial`` (an ``optuna.Trial``) and asks the study's pruner whether to go on.

    The best so far, not the epoch's own value: it is what the trial's result will be (the
    best checkpoint's value), and pruners compare each trial with the others' values at the
    same epoch, which a noisy epoch-by-epoch accuracy would make unfair to the others.

    ``prune`` is False for a multi-objective study, which Optuna cannot prune: the values
    are then not reported at all (Optuna refuses intermediate values there).
    """

    def __init__(self, trial: Any, prune: bool = True) -> None:
        self.trial = trial
        self.prune = prune
        self.pruned_epoch: int | None = None

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if not self.prune or record.val is None or state.stopper.best is None:
            return
        value = float(state.stopper.best)
        if not math.isfinite(value):
            return
        from optuna.exceptions import UpdateFinishedTrialError

        try:
            self.trial.report(value, record.epoch)
        except UpdateFinishedTrialError:  # the sweep stopped (Ctrl-C) and closed the trial
            self.prune = False
            return
        if self.trial.should_prune():
            self.pruned_epoch = record.epoch
            state.stop = PRUNED
