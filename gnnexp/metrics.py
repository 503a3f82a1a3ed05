"""Evaluation metrics on tensors: ``METRICS[name](prediction, target) -> float``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


def accuracy(logits: Tensor, target: Tensor) -> float:
    """Fraction of rows whose arg-max equals the target class."""
    if target.numel() == 0:
        return float("nan")
    return (logits.argmax(dim=-1) == target).float().mean().item()


def f1_macro(logits: Tensor, target: Tensor) -> float:
    """Unweighted mean of per-class F1 over the classes present in prediction or target."""
    import torch

    if target.numel() == 0:
        return float("nan")
    num_classes = logits.size(-1)
    pred = logits.argmax(dim=-1)
    tp = torch.bincount(target[pred == target], minlength=num_classes).float()
    predicted = torch.bincount(pred, minlength=num_classes).float()
    actual = torch.bincount(target, minlength=num_classes).float()
    present = (predicted + actual) > 0
    f1 = 2 * tp / (predicted + actual).clamp(min=1)
    return f1[present].mean().item()


METRICS: dict[str, Callable[[Tensor, Tensor], float]] = {
    "accuracy": accuracy,
    "f1_macro": f1_macro,
}
