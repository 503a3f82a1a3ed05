"""Checkpoints as a callback: ``best.pt`` and ``last.pt`` kept current as training goes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from gnnexp import __version__
from gnnexp.records import EpochRecord
from gnnexp.training.callbacks import Callback, FitOutcome
from gnnexp.training.checkpoint import save_checkpoint
from gnnexp.training.state import TrainState

BEST = Path("checkpoints/best.pt")
LAST = Path("checkpoints/last.pt")


def frozen(obj: Any) -> Any:
    """A copy of nested dicts/lists whose tensors no longer change with training."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: frozen(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(frozen(v) for v in obj)
    return obj


class Checkpoints(Callback):
    """Keeps ``best.pt`` and ``last.pt`` current, and the best weights in memory.

    The final test evaluation uses exactly the weights of the best validation epoch. Writing
    best.pt costs a few milliseconds, more than a whole epoch of a small model, so a new best
    is written at once unless the last write is younger than ``best_min_interval_s``; then it
    waits (frozen in memory) for the next epoch end after that interval, and is written when
    training ends, is interrupted or fails.
    """

    def __init__(
        self,
        out_dir: Path,
        config: dict[str, Any],
        settings: Any,
        monitor: str,
        fold: int | None = None,
        shape: dict[str, int | None] | None = None,
        best_weights: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.config = config
        self.fold = fold
        self.shape = shape or {"in_channels": None, "out_channels": None}
        self.monitor = monitor
        # Plain copies: OmegaConf attribute access costs microseconds, every epoch.
        self.save_best, self.save_last = bool(settings.save_best), bool(settings.save_last)
        self.every_n_epochs = int(settings.every_n_epochs)
        self.best_interval = float(settings.best_min_interval_s)
        self.best_weights = best_weights
        self._pending_best: dict[str, Any] | None = None
        self._best_written = -float("inf")

    def snapshot(
        self, state: TrainState, metrics: dict[str, float] | None, copy: bool = False
    ) -> dict[str, Any]:
        """Everything needed to evaluate, or to resume training after ``state.epoch``.

        ``copy`` detaches the training state from later updates (for a deferred write).
        """
        parts = state.parts()
        if copy:
            parts = {k: v if k in ("early_stopping", "rng") else frozen(v) for k, v in parts.items()}
            if self.best_weights is not None:
                parts["model"] = self.best_weights
        return {
            **parts,
            "metrics": dict(metrics) if metrics else metrics,
            "monitor": {"name": self.monitor, "mode": state.stopper.mode},
            "config": self.config,
            # Numbered from 1 as everywhere a user looks (fold_1/checkpoints holds fold 1).
            "fold_number": None if self.fold is None else self.fold + 1,
            "shape": self.shape,
            "gnnexp_version": __version__,
        }

    def write_last(self, state: TrainState) -> None:
        if self.save_last:
            save_checkpoint(self.out_dir / LAST, self.snapshot(state, None))

    def flush(self) -> None:
        """Write a best checkpoint that is still waiting for its interval."""
        if self._pending_best is not None:
            save_checkpoint(self.out_dir / BEST, self._pending_best)
            self._pending_best = None
            self._best_written = time.monotonic()

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        due = time.monotonic() - self._best_written >= self.best_interval
        if record.is_best:
            self.best_weights = frozen(state.model.state_dict())
            if self.save_best:
                self._pending_best = self.snapshot(state, record.val, copy=not due)
        if due:
            self.flush()
        if self.every_n_epochs and record.epoch % self.every_n_epochs == 0:
            self.write_last(state)

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        self.flush()
        self.write_last(state)

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self.flush()  # the best weights so far survive a failed run
