"""The training loop: train an epoch, evaluate, step the schedule, stop early.

Persistence (tables, CSV, checkpoints) happens in the ``on_epoch_end`` callback, so the loop
itself is only the optimisation every GNN paper describes, plus two guards: a non-finite
loss or gradient stops the run (or skips the step), and a stop request (Ctrl-C) ends it
cleanly after the current epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import cast

import torch

from gnnexp.records import EpochRecord
from gnnexp.tasks.base import Task
from gnnexp.training.early_stopping import EarlyStopping
from gnnexp.training.optim import LRSchedule, current_lr
from gnnexp.training.precision import FULL, Precision


class NonFiniteError(RuntimeError):
    """The loss or the gradients of a training step are NaN or infinite."""

    def __init__(self, what: str, epoch: int = 0) -> None:
        self.what, self.epoch = what, epoch
        super().__init__(f"the {what} became non-finite at epoch {epoch}")


@dataclass
class FitOutcome:
    last_epoch: int
    interrupted: bool = False


def _grad_norm(model: torch.nn.Module, clip: float | None) -> torch.Tensor:
    """Total gradient norm, clipping to ``clip`` when given."""
    params = [p for p in model.parameters() if p.grad is not None]
    if clip:
        return torch.nn.utils.clip_grad_norm_(params, clip)
    return torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])


def train_epoch(
    model: torch.nn.Module,
    task: Task,
    optimizer: torch.optim.Optimizer,
    grad_clip: float | None,
    skip_nonfinite: bool = False,
    precision: Precision = FULL,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[float, int]:
    """One pass over the training batches: the mean loss and the number of skipped steps.

    A step whose loss or gradient is not finite raises :class:`NonFiniteError`, or is
    skipped (no parameter update) when ``skip_nonfinite`` is set. (With fp16 loss scaling
    the scaler handles non-finite gradients itself.)
    """
    model.train()
    total, batches, skipped = 0.0, 0, 0
    loader = task.train_batches()
    count = len(cast(Sized, loader)) if hasattr(loader, "__len__") else 0
    for index, batch in enumerate(loader, start=1):
        if on_batch is not None:
            on_batch(index, count)
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            loss = task.training_loss(model, batch)
        value = loss.item()
        problem = None if math.isfinite(value) else "loss"
        if problem is None:
            precision.backward(loss)
            precision.unscale(optimizer)
            finite = torch.isfinite(_grad_norm(model, grad_clip))
            if not finite and precision.scaler is None:
                problem = "gradient"
        if problem is not None:
            if not skip_nonfinite:
                raise NonFiniteError(problem)
            optimizer.zero_grad(set_to_none=True)
            skipped += 1
            continue
        precision.step(optimizer)
        total += value
        batches += 1
    return (total / batches if batches else float("nan")), skipped


def evaluate(
    model: torch.nn.Module, task: Task, splits: tuple[str, ...], precision: Precision = FULL
) -> dict[str, dict[str, float]]:
    """Metrics of ``splits`` in eval mode, without autograd."""
    model.eval()
    with torch.inference_mode(), precision.autocast():
        return task.evaluate(model, splits)


def fit(
    model: torch.nn.Module,
    task: Task,
    optimizer: torch.optim.Optimizer,
    schedule: LRSchedule,
    stopper: EarlyStopping,
    max_epochs: int,
    eval_every: int = 1,
    grad_clip: float | None = None,
    skip_nonfinite: bool = False,
    precision: Precision = FULL,
    start_epoch: int = 1,
    on_batch: Callable[[int, int], None] | None = None,
    on_epoch_end: Callable[[EpochRecord], None] = lambda record: None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> FitOutcome:
    """Train until ``max_epochs``, early stopping (``stopper`` watches the validation
    results) or a stop request."""
    epoch = start_epoch - 1
    for epoch in range(start_epoch, max_epochs + 1):
        started = time.perf_counter()
        lr = current_lr(optimizer)
        try:
            train_loss, skipped = train_epoch(
                model, task, optimizer, grad_clip, skip_nonfinite, precision, on_batch
            )
        except NonFiniteError as err:
            raise NonFiniteError(err.what, epoch) from None
        val = None
        if epoch % eval_every == 0 or epoch == max_epochs:
            val = evaluate(model, task, ("val",), precision)["val"]
        is_best = val is not None and stopper.update(val, epoch)
        schedule.step(None if val is None else stopper.value(val))
        elapsed = time.perf_counter() - started
        on_epoch_end(EpochRecord(epoch, train_loss, val, lr, elapsed, is_best, skipped))
        if stop_requested():
            return FitOutcome(epoch, interrupted=epoch < max_epochs and not stopper.should_stop)
        if stopper.should_stop:
            break
    return FitOutcome(epoch)
