"""Optimizers and the per-epoch LR schedule (warm-up, then the declared scheduler)."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig
from torch.optim import Optimizer
from torch.optim import lr_scheduler as sched

from gnnexp.config.components import instance
from gnnexp.errors import ConfigError
from gnnexp.models.gnn import GNN


def parameter_groups(model: torch.nn.Module, weight_decay_on: str) -> list[dict[str, Any]]:
    """``model``'s parameters in the groups the weight decay setting asks for: one group, or
    the first message-passing layer's parameters apart with every other one undecayed."""
    if weight_decay_on == "all":
        return [{"params": list(model.parameters())}]
    gnn = next((m for m in model.modules() if isinstance(m, GNN)), None)
    if gnn is None:
        raise ConfigError(
            "optimizer.weight_decay_on=first_layer: this model has no message-passing layers.",
            "use optimizer.weight_decay_on=all.",
        )
    first = gnn.convs[0]
    decayed = {id(p) for p in first.parameters()}
    return [
        {"params": [p for p in model.parameters() if id(p) in decayed]},
        {"params": [p for p in model.parameters() if id(p) not in decayed], "weight_decay": 0.0},
    ]


def build_optimizer(cfg: DictConfig, model: torch.nn.Module) -> Optimizer:
    """The optimizer ``cfg.name`` over ``model``'s parameters."""
    spec = instance("optimizer", cfg)
    try:
        return spec.build(parameter_groups(model, spec.weight_decay_on))
    except ValueError as err:  # torch's own argument checks, e.g. nesterov without momentum
        raise ConfigError(f"optimizer={cfg.name}: {err}.", "adjust the optimizer.* values.") from err


class LRSchedule:
    """Per-epoch LR schedule: optional linear warm-up, then the configured scheduler.

    Every torch scheduler used here is chainable (it scales the current LR), so the main
    scheduler simply takes over from wherever warm-up left the LR. Epoch counts of the main
    scheduler (step size, milestones, t_max) start after warm-up, as with ``SequentialLR``.
    ``plateau`` steps on the monitored validation value and skips epochs without one.
    """

    def __init__(self, optimizer: Optimizer, cfg: DictConfig, max_epochs: int, mode: str) -> None:
        self.epoch = 0
        self.warmup_epochs = int(cfg.warmup_epochs)
        spec = instance("scheduler", cfg)
        self.plateau = spec.on_plateau
        self.main: Any = spec.main(optimizer, max_epochs - self.warmup_epochs, mode)
        # Built after the main scheduler so that its start factor is what epoch 1 trains with.
        self.warmup = (
            sched.LinearLR(
                optimizer,
                start_factor=cfg.warmup_start_factor,
                end_factor=1.0,
                total_iters=self.warmup_epochs,
            )
            if self.warmup_epochs > 0
            else None
        )

    def step(self, monitored: float | None) -> None:
        """Advance one epoch; ``monitored`` is this epoch's validation value, if evaluated."""
        self.epoch += 1
        if self.warmup is not None and self.epoch <= self.warmup_epochs:
            self.warmup.step()
        elif self.plateau:
            if monitored is not None:
                self.main.step(monitored)
        elif self.main is not None:
            self.main.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "warmup": None if self.warmup is None else self.warmup.state_dict(),
            "main": None if self.main is None else self.main.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        if self.warmup is not None and state["warmup"] is not None:
            self.warmup.load_state_dict(state["warmup"])
        if self.main is not None and state["main"] is not None:
            self.main.load_state_dict(state["main"])


def current_lr(optimizer: Optimizer) -> float:
    """The LR of the first parameter group (the one the tables report)."""
    return float(optimizer.param_groups[0]["lr"])
