"""The interface the training loop relies on, and ``task.kind`` -> task class."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import torch
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.data import GraphData


class Task(Protocol):
    """One kind of graph question (node, graph or link level)."""

    in_channels: int
    out_channels: int

    def train_batches(self) -> Iterable[Any]:
        """The batches of one training epoch (one batch for full-graph training)."""
        ...

    def training_loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        """Forward ``batch`` and return the loss on its training targets only."""
        ...

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        """``{split: {"loss": ..., <metric>: ...}}``; called in eval mode without grad."""
        ...

    def describe(self) -> dict[str, Any]:
        """Sizes worth printing: nodes, edges, features, classes, split sizes."""
        ...


def build_task(cfg: DictConfig, data: GraphData, metric: str, device: torch.device) -> Task:
    """The task object for ``cfg.kind`` on ``data``."""
    from gnnexp.tasks.node import NodeClassification

    kinds = {"node": NodeClassification}
    return kinds[cfg.kind](cfg, data, metric, device)
