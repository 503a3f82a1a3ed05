"""Records that several layers pass around (the bottom layer: imports nothing of gnnexp)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EpochRecord:
    """What one epoch produced; ``val`` is None on epochs without evaluation."""

    epoch: int
    train_loss: float
    val: dict[str, float] | None
    lr: float
    time_s: float
    is_best: bool
    skipped_steps: int = 0
