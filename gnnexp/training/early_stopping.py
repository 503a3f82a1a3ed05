"""Tracks the best monitored validation value and decides when to stop."""

from __future__ import annotations

import math
from typing import Any


class EarlyStopping:
    """Stop after ``patience`` evaluations in a row without an improvement of ``min_delta``.

    Watches ``metrics[key]`` (``loss`` or a metric's name). ``patience=None`` never stops
    early but still tracks the best value. A NaN value never counts as an improvement.
    """

    def __init__(self, mode: str, patience: int | None, min_delta: float = 0.0, key: str = "loss") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.key = key
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_evals = 0

    def value(self, metrics: dict[str, float]) -> float:
        """The watched value (what a plateau scheduler steps on)."""
        return metrics[self.key]

    def _better(self, value: float, best: float | None, mode: str, min_delta: float) -> bool:
        if math.isnan(value):
            return False
        if best is None:
            return True
        return value < best - min_delta if mode == "min" else value > best + min_delta

    def improves(self, value: float) -> bool:
        return self._better(value, self.best, self.mode, self.min_delta)

    def update(self, metrics: dict[str, float], epoch: int) -> bool:
        """Record one evaluation; True if it is a new best (the epoch to checkpoint)."""
        value = self.value(metrics)
        if self.improves(value):
            self.best, self.best_epoch, self.bad_evals = value, epoch, 0
            return True
        self.bad_evals += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_evals >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_evals": self.bad_evals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.bad_evals = state["bad_evals"]


class LossAndMetricStopping(EarlyStopping):
    """The GAT paper's rule (``trainer.monitor=val_loss_and_metric``).

    Patience restarts whenever the validation loss reaches a new low *or* the metric a new
    high (ties included); the checkpoint is taken only when both do at once. ``best`` is
    the validation loss at that epoch.
    """

    def __init__(self, patience: int | None, metric: str, metric_mode: str) -> None:
        super().__init__("min", patience, 0.0, key="loss")
        self.metric, self.metric_mode = metric, metric_mode
        self.lowest_loss: float | None = None
        self.best_metric: float | None = None

    def _at_least_as_good(self, value: float, best: float | None, mode: str) -> bool:
        if math.isnan(value):
            return False
        return best is None or (value <= best if mode == "min" else value >= best)

    def update(self, metrics: dict[str, float], epoch: int) -> bool:
        loss, metric = metrics["loss"], metrics[self.metric]
        loss_ok = self._at_least_as_good(loss, self.lowest_loss, "min")
        metric_ok = self._at_least_as_good(metric, self.best_metric, self.metric_mode)
        if loss_ok:
            self.lowest_loss = loss
        if metric_ok:
            self.best_metric = metric
        self.bad_evals = 0 if loss_ok or metric_ok else self.bad_evals + 1
        if loss_ok and metric_ok:
            self.best, self.best_epoch = loss, epoch
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "lowest_loss": self.lowest_loss, "best_metric": self.best_metric}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.lowest_loss, self.best_metric = state["lowest_loss"], state["best_metric"]


def build_stopper(
    monitor: str, mode: str, patience: int | None, min_delta: float, metric: str, metric_mode: str
) -> EarlyStopping:
    """The early-stopping rule that ``trainer.monitor`` names."""
    if monitor == "val_loss_and_metric":
        return LossAndMetricStopping(patience, metric, metric_mode)
    return EarlyStopping(mode, patience, min_delta, key="loss" if monitor == "val_loss" else metric)
