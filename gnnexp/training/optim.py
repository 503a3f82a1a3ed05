"""Optimizers and LR schedules from their config groups."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.optim import Optimizer
from torch.optim import lr_scheduler as sched

from gnnexp.errors import ConfigError, did_you_mean

# optimizer.name -> class; every other field of the config is a constructor argument.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


def build_optimizer(cfg: DictConfig, params: Iterable[torch.nn.Parameter]) -> Optimizer:
    """The optimizer ``cfg.name`` over ``params``."""
    if cfg.name not in OPTIMIZERS:
        names = sorted(OPTIMIZERS)
        raise ConfigError(
            f"optimizer.name={cfg.name} is unknown ({', '.join(names)}).{did_you_mean(cfg.name, names)}",
            "use one of those names.",
        )
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(kwargs, dict)
    kwargs.pop("name")
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    try:
        return OPTIMIZERS[cfg.name](params, **kwargs)
    except ValueError as err:  # torch's own argument checks, e.g. nesterov without momentum
        raise ConfigError(f"optimizer={cfg.name}: {err}.", "adjust the optimizer.* values.") from err


MainScheduler = Callable[[Optimizer, DictConfig, int], Any]

# scheduler.name -> factory(optimizer, cfg, epochs after warm-up); None keeps the LR constant.
SCHEDULERS: dict[str, MainScheduler | None] = {
    "none": None,
    "step": lambda opt, c, _: sched.StepLR(opt, step_size=c.step_size, gamma=c.gamma),
    "multistep": lambda opt, c, _: sched.MultiStepLR(opt, milestones=list(c.milestones), gamma=c.gamma),
    "exponential": lambda opt, c, _: sched.ExponentialLR(opt, gamma=c.gamma),
    "cosine": lambda opt, c, epochs: sched.CosineAnnealingLR(
        opt, T_max=c.t_max or max(epochs, 1), eta_min=c.eta_min
    ),
}


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
        self.main: Any = None
        self.plateau = cfg.name == "plateau"
        if self.plateau:
            self.main = sched.ReduceLROnPlateau(
                optimizer,
                mode=mode,
                factor=cfg.factor,
                patience=cfg.patience,
                threshold=cfg.threshold,
                min_lr=cfg.min_lr,
            )
        elif cfg.name in SCHEDULERS:
            factory = SCHEDULERS[cfg.name]
            if factory is not None:
                self.main = factory(optimizer, cfg, max_epochs - self.warmup_epochs)
        else:
            names = sorted([*SCHEDULERS, "plateau"])
            raise ConfigError(
                f"scheduler.name={cfg.name} is unknown ({', '.join(names)}).{did_you_mean(cfg.name, names)}",
                "use one of those names.",
            )
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
