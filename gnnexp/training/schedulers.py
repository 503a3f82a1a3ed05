"""The LR schedules, each one declared class: its settings and the torch scheduler it builds.

Every schedule here is chainable (it scales the current LR), so the main scheduler takes
over from wherever warm-up (``warmup_epochs``) left the LR; see ``LRSchedule``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from omegaconf import MISSING

from gnnexp.config.components import component, group_base, option

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from torch.optim import Optimizer


def _increasing(value: list[int]) -> bool:
    return len(value) > 0 and all(m >= 1 for m in value) and list(value) == sorted(set(value))


@group_base("scheduler")
@dataclass
class SchedulerSpec:
    """``warmup_epochs`` > 0 ramps the LR linearly before any scheduler takes over."""

    name: str = MISSING
    warmup_epochs: int = option(0, doc="epochs of linear warm-up before the schedule", ge=0)
    warmup_start_factor: float = option(0.1, doc="LR factor at the first warm-up epoch", gt=0, le=1)

    # Steps on the monitored validation value instead of on every epoch.
    on_plateau: ClassVar[bool] = False

    def main(self, optimizer: Optimizer, epochs: int, mode: str) -> Any:
        """The torch scheduler after warm-up (``epochs`` of it), or None for a constant LR."""
        return None


@component("scheduler", "none")
class Constant(SchedulerSpec):
    """A constant learning rate (after optional warm-up)."""


@component("scheduler", "step")
class Step(SchedulerSpec):
    """Multiply the LR by gamma every step_size epochs."""

    step_size: int = option(50, doc="epochs between decays", ge=1)
    gamma: float = option(0.5, doc="decay factor", gt=0, le=1)

    def main(self, optimizer: Optimizer, epochs: int, mode: str) -> Any:
        from torch.optim import lr_scheduler

        return lr_scheduler.StepLR(optimizer, step_size=self.step_size, gamma=self.gamma)


@component("scheduler", "multistep")
class MultiStep(SchedulerSpec):
    """Multiply the LR by gamma at each milestone epoch."""

    milestones: list[int] = option(
        doc="epochs at which the LR decays",
        factory=lambda: [100, 150],
        rule=(_increasing, "increasing epochs >= 1"),
    )
    gamma: float = option(0.1, doc="decay factor", gt=0, le=1)

    def main(self, optimizer: Optimizer, epochs: int, mode: str) -> Any:
        from torch.optim import lr_scheduler

        return lr_scheduler.MultiStepLR(optimizer, milestones=list(self.milestones), gamma=self.gamma)


@component("scheduler", "exponential")
class Exponential(SchedulerSpec):
    """Multiply the LR by gamma every epoch."""

    gamma: float = option(0.99, doc="decay factor per epoch", gt=0, le=1)

    def main(self, optimizer: Optimizer, epochs: int, mode: str) -> Any:
        from torch.optim import lr_scheduler

        return lr_scheduler.ExponentialLR(optimizer, gamma=self.gamma)


@component("scheduler", "cosine")
class Cosine(SchedulerSpec):
    """Cosine annealing from the initial LR to eta_min over t_max epochs."""

    t_max: int | None = option(
        None, doc="epochs of the half cosine (null: the epochs left after warm-up)", ge=1
    )
    eta_min: float = option(0.0, doc="the final LR", ge=0)

    def main(self, optimizer: Optimizer, epochs: int, mode: str) -> Any:
        from torch.optim import lr_scheduler

        return lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=self.t_max or max(epochs, 1), eta_min=self.eta_min
        )


@component("scheduler", "plateau")
class Plateau(SchedulerSpec):
    """ReduceLROnPlateau on the monitored validation value (trainer.monitor / trainer.mode)."""

    factor: float = option(0.5, doc="LR factor on a plateau", gt=0, lt=1)
    patience: int = option(10, doc="evaluations without improvement before a decay", ge=0)
    threshold: float = option(1e-4, doc="relative change that counts as improvement", ge=0)
    min_lr: float = option(0.0, doc="the LR never goes below this", ge=0)

    on_plateau = True

    def main(self, optimizer: Optimizer, epochs: int, mode: str) -> Any:
        from torch.optim import lr_scheduler

        return lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=cast(Literal["min", "max"], mode),
            factor=self.factor,
            patience=self.patience,
            threshold=self.threshold,
            min_lr=self.min_lr,
        )


class LRSchedule:
    """Per-epoch LR schedule: optional linear warm-up, then the configured scheduler.

    Every torch scheduler used here is chainable (it scales the current LR), so the main
    scheduler simply takes over from wherever warm-up left the LR. Epoch counts of the main
    scheduler (step size, milestones, t_max) start after warm-up, as with ``SequentialLR``.
    ``plateau`` steps on the monitored validation value and skips epochs without one.
    """

    def __init__(self, optimizer: Optimizer, cfg: DictConfig, max_epochs: int, mode: str) -> None:
        from torch.optim import lr_scheduler as sched

        from gnnexp.config.components import instance

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
