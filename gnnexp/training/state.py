"""Everything a training run changes as it goes, in one record: what a checkpoint captures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gnnexp.training.early_stopping import EarlyStopping
from gnnexp.training.precision import Precision
from gnnexp.training.schedulers import LRSchedule
from gnnexp.util.seeding import rng_state, set_rng_state

KERNEL_KEYS = ("fused", "foreach")  # torch optimizer settings that pick an implementation


@dataclass
class TrainState:
    """The model and what trains it; ``epoch`` is the last finished epoch.

    ``trained`` is the module that runs forward (the model itself, or DDP/torch.compile
    around it); ``model`` holds the parameters under the names checkpoints use. A callback
    sets ``stop`` to why training should end after the current epoch
    (``gnnexp.training.callbacks.INTERRUPTED`` or ``PRUNED``).
    """

    model: torch.nn.Module
    trained: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    stopper: EarlyStopping
    precision: Precision
    epoch: int = 0
    skipped_steps: int = 0
    stop: str | None = None

    def parts(self) -> dict[str, Any]:
        """The training state as a checkpoint stores it (the tensors are live, not copies)."""
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "early_stopping": self.stopper.state_dict(),
            "scaler": self.precision.state_dict(),
            "rng": rng_state(),
        }

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Continue from a checkpoint's state (the inverse of :meth:`parts`)."""
        self.model.load_state_dict(checkpoint["model"])
        # Which kernel runs the update is this process's choice, not the checkpoint's: one
        # saved without the fused kernel would turn it off under a GradScaler built for it.
        kernels = [{k: g[k] for k in KERNEL_KEYS if k in g} for g in self.optimizer.param_groups]
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        for group, kernel in zip(self.optimizer.param_groups, kernels, strict=True):
            group.update(kernel)
        self.schedule.load_state_dict(checkpoint["scheduler"])
        self.stopper.load_state_dict(checkpoint["early_stopping"])
        self.precision.load_state_dict(checkpoint.get("scaler"))
        set_rng_state(checkpoint["rng"])
        self.epoch = int(checkpoint["epoch"])
