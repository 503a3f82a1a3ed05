"""The training loop: train an epoch, evaluate, step the schedule, stop early.

Everything a run leaves behind (tables, CSV, checkpoints, trackers, curves) and reacts to
(signals) is a callback (``gnnexp.training.callbacks``), so the loop itself is only the
optimisation every GNN paper describes, plus two guards: a non-finite loss or gradient
stops the run (or skips the step), and a stop request ends it cleanly after the epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass
from typing import cast

import torch

from gnnexp.records import EpochRecord
from gnnexp.tasks.base import Task
from gnnexp.training.callbacks import Callback, FitOutcome
from gnnexp.training.precision import FULL, Precision
from gnnexp.training.schedulers import current_lr
from gnnexp.training.state import TrainState


class NonFiniteError(RuntimeError):
    """The loss or the gradients of a training step are NaN or infinite."""

    def __init__(self, what: str, epoch: int = 0) -> None:
        self.what, self.epoch = what, epoch
        super().__init__(f"the {what} became non-finite at epoch {epoch}")


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


@dataclass(frozen=True)
class FitSettings:
    """How the loop trains (the trainer's settings the loop itself reads)."""

    max_epochs: int
    eval_every: int = 1
    grad_clip: float | None = None
    skip_nonfinite: bool = False


def fit(
    state: TrainState, task: Task, settings: FitSettings, callbacks: Sequence[Callback] = ()
) -> FitOutcome:
    """Train from ``state.epoch + 1`` until ``max_epochs``, early stopping (the stopper
    watches the validation results) or a stop request (a callback sets ``state.stop``)."""
    for callback in callbacks:
        callback.on_start(state)

    def on_batch(done: int, total: int) -> None:
        for callback in callbacks:
            callback.on_batch(done, total)

    try:
        for epoch in range(state.epoch + 1, settings.max_epochs + 1):
            record = _epoch(state, task, settings, epoch, on_batch)
            state.epoch = epoch
            state.skipped_steps += record.skipped_steps
            for callback in callbacks:
                callback.on_epoch_end(state, record)
            if state.stop or state.stopper.should_stop:
                break
    except BaseException as err:
        for callback in callbacks:
            callback.on_exception(state, err)
        raise
    early = state.epoch < settings.max_epochs and not state.stopper.should_stop
    outcome = FitOutcome(state.epoch, state.stop if early else None)
    for callback in callbacks:
        callback.on_end(state, outcome)
    return outcome


def _epoch(
    state: TrainState, task: Task, settings: FitSettings, epoch: int, on_batch: Callable[[int, int], None]
) -> EpochRecord:
    """Train one epoch, evaluate it when due, and step the stopper and the LR schedule."""
    started = time.perf_counter()
    lr = current_lr(state.optimizer)
    try:
        train_loss, skipped = train_epoch(
            state.trained,
            task,
            state.optimizer,
            settings.grad_clip,
            settings.skip_nonfinite,
            state.precision,
            on_batch,
        )
    except NonFiniteError as err:
        raise NonFiniteError(err.what, epoch) from None
    val = None
    if epoch % settings.eval_every == 0 or epoch == settings.max_epochs:
        val = evaluate(state.trained, task, ("val",), state.precision)["val"]
    is_best = val is not None and state.stopper.update(val, epoch)
    state.schedule.step(None if val is None else state.stopper.value(val))
    return EpochRecord(epoch, train_loss, val, lr, time.perf_counter() - started, is_best, skipped)
