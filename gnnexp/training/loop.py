"""The training loop: train an epoch, evaluate, step the schedule, stop early.

Persistence (tables, CSV, checkpoints) happens in the ``on_epoch_end`` callback, so the loop
itself is only the optimisation every GNN paper describes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from gnnexp.tasks import Task
from gnnexp.training.early_stopping import EarlyStopping
from gnnexp.training.optim import LRSchedule, current_lr


@dataclass
class EpochRecord:
    """What one epoch produced; ``val`` is None on epochs without evaluation."""

    epoch: int
    train_loss: float
    val: dict[str, float] | None
    lr: float
    time_s: float
    is_best: bool


def train_epoch(
    model: torch.nn.Module, task: Task, optimizer: torch.optim.Optimizer, grad_clip: float | None
) -> float:
    """One pass over the training batches; returns the mean training loss."""
    model.train()
    total, batches = 0.0, 0
    for batch in task.train_batches():
        optimizer.zero_grad(set_to_none=True)
        loss = task.training_loss(model, batch)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / max(batches, 1)


def evaluate(model: torch.nn.Module, task: Task, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Metrics of ``splits`` in eval mode, without autograd."""
    model.eval()
    with torch.inference_mode():
        return task.evaluate(model, splits)


def fit(
    model: torch.nn.Module,
    task: Task,
    optimizer: torch.optim.Optimizer,
    schedule: LRSchedule,
    stopper: EarlyStopping,
    monitor: str,
    max_epochs: int,
    eval_every: int = 1,
    grad_clip: float | None = None,
    start_epoch: int = 1,
    on_epoch_end: Callable[[EpochRecord], None] = lambda record: None,
) -> int:
    """Train until ``max_epochs`` or early stopping; returns the last epoch run.

    ``monitor`` is a key of the validation results (``loss`` or the metric's name).
    """
    epoch = start_epoch - 1
    for epoch in range(start_epoch, max_epochs + 1):
        started = time.perf_counter()
        lr = current_lr(optimizer)
        train_loss = train_epoch(model, task, optimizer, grad_clip)
        val = None
        if epoch % eval_every == 0 or epoch == max_epochs:
            val = evaluate(model, task, ("val",))["val"]
        is_best = val is not None and stopper.update(val[monitor], epoch)
        schedule.step(None if val is None else val[monitor])
        on_epoch_end(EpochRecord(epoch, train_loss, val, lr, time.perf_counter() - started, is_best))
        if stopper.should_stop:
            break
    return epoch
