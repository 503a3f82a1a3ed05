"""What each epoch leaves behind: a table row, a CSV row and checkpoints."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import torch
from omegaconf import DictConfig, OmegaConf

from gnnexp import __version__
from gnnexp.checkpoint import save_checkpoint
from gnnexp.loggers import Logger
from gnnexp.records import EpochRecord
from gnnexp.reporting.console import EpochTable
from gnnexp.reporting.files import MetricsCSV
from gnnexp.seeding import rng_state

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


class Recorder:
    """Writes ``metrics.csv`` and the table, and keeps ``best.pt`` and ``last.pt`` current.

    The best weights are also kept in memory, so the final test evaluation uses exactly
    the weights of the best validation epoch. Writing best.pt costs a few milliseconds, more
    than a whole epoch of a small model, so a new best is written at once unless the last
    write is younger than ``checkpoint.best_min_interval_s``; then it waits (frozen in
    memory) for the next epoch end after that interval, and :meth:`flush` writes it when
    training ends, is interrupted or fails.
    """

    def __init__(
        self,
        out_dir: Path,
        cfg: DictConfig,
        table: EpochTable,
        csv: MetricsCSV,
        parts: dict[str, Any],
        fold: int | None = None,
        loggers: list[Logger] | None = None,
        shape: dict[str, int | None] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.cfg = cfg
        self.table = table
        self.csv = csv
        self.parts = parts  # model, optimizer, schedule, stopper, precision
        self.fold = fold
        self.shape = shape or {"in_channels": None, "out_channels": None}
        self.loggers = loggers or []
        self.metric = table.metric
        self.skipped_steps = 0
        self.config = cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True))
        # Plain copies: OmegaConf attribute access costs microseconds, every epoch.
        checkpoint = cfg.trainer.checkpoint
        self.save_best, self.save_last_too = bool(checkpoint.save_best), bool(checkpoint.save_last)
        self.every_n_epochs = int(checkpoint.every_n_epochs)
        self.best_interval = float(checkpoint.best_min_interval_s)
        self.monitor = str(cfg.trainer.monitor)
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._pending_best: dict[str, Any] | None = None
        self._best_written = -float("inf")

    def snapshot(self, epoch: int, metrics: dict[str, float] | None, copy: bool = False) -> dict[str, Any]:
        """Everything needed to evaluate, or to resume training after ``epoch``.

        ``copy`` detaches the training state from later updates (for a deferred write).
        """
        p = self.parts
        keep = frozen if copy else (lambda state: state)
        weights = self.best_weights if copy and self.best_weights is not None else p["model"].state_dict()
        return {
            "epoch": epoch,
            "model": weights,
            "optimizer": keep(p["optimizer"].state_dict()),
            "scheduler": keep(p["schedule"].state_dict()),
            "early_stopping": p["stopper"].state_dict(),
            "scaler": keep(p["precision"].state_dict()),
            "metrics": dict(metrics) if metrics else metrics,
            "monitor": {"name": self.monitor, "mode": p["stopper"].mode},
            "config": self.config,
            "rng": rng_state(),
            "fold": self.fold,
            "shape": self.shape,
            "gnnexp_version": __version__,
        }

    def save_last(self, epoch: int) -> None:
        if self.save_last_too:
            save_checkpoint(self.out_dir / LAST, self.snapshot(epoch, None))

    def flush(self) -> None:
        """Write a best checkpoint that is still waiting for its interval."""
        if self._pending_best is not None:
            save_checkpoint(self.out_dir / BEST, self._pending_best)
            self._pending_best = None
            self._best_written = time.monotonic()

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.csv.write(record)
        for logger in self.loggers:
            logger.log_epoch(record, self.metric)
        self.skipped_steps += record.skipped_steps
        stopper = self.parts["stopper"]
        best = "" if stopper.best is None else f"best {stopper.best:.4f} @ {stopper.best_epoch}"
        self.table.add(record, best_text=best)
        due = time.monotonic() - self._best_written >= self.best_interval
        if record.is_best:
            self.best_weights = frozen(self.parts["model"].state_dict())
            if self.save_best:
                self._pending_best = self.snapshot(record.epoch, record.val, copy=not due)
        if due:
            self.flush()
        if self.every_n_epochs and record.epoch % self.every_n_epochs == 0:
            self.save_last(record.epoch)
