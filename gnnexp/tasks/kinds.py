"""The task kinds, each one declared class: its settings, the data it applies to, how it is built.

Torch-free: ``task=link`` is checked against the dataset's level before anything loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from gnnexp.config.components import component, group_base, option
from gnnexp.metrics import METRICS
from gnnexp.models.layout import PLAIN, Layout

if TYPE_CHECKING:
    import torch
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData
    from gnnexp.tasks.base import Task
    from gnnexp.util.ranks import Dist

LOSSES = ("auto", "cross_entropy", "bce", "mse", "mae")


@group_base("task")
@dataclass
class TaskSpec:
    """What to predict; ``metric`` (null: the dataset's) and ``loss`` (auto: by target)."""

    kind: str = "node"
    metric: str | None = option(
        None, doc="the metric to report and monitor (null: the dataset's)", choices=tuple(METRICS)
    )
    loss: str = option(
        "auto",
        doc="training loss (auto: cross-entropy or MSE by target; bce: several binary targets, missing ones masked)",
        choices=LOSSES,
    )

    # The dataset levels (dataset.level) whose labels this task predicts from.
    levels: ClassVar[tuple[str, ...]] = ("node",)
    # Metrics this task can compute (None: every metric of the target's kind).
    metrics: ClassVar[tuple[str, ...] | None] = None
    # The metric when neither task.metric nor a dataset's metric this task computes names one.
    default_metric: ClassVar[str | None] = None

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        raise NotImplementedError

    def model(
        self, cfg: DictConfig, in_channels: int, out_channels: int, layout: Layout = PLAIN
    ) -> torch.nn.Module:
        """The network this task trains: the model ``cfg`` (the model node) with its head."""
        from gnnexp.models.build import build_model

        return build_model(cfg, in_channels, out_channels, layout)


@component("task", "node")
class NodeTaskSpec(TaskSpec):
    """Node classification or regression on one graph (full-graph or sampled mini-batches)."""

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        from gnnexp.tasks.node import NodeTask

        return NodeTask(cfg, data, device, dist, fast)


@component("task", "graph")
class GraphTaskSpec(TaskSpec):
    """Graph classification or regression: mini-batches of whole graphs and a readout."""

    batch_size: int = option(128, doc="graphs per mini-batch", ge=1)
    val_ratio: float = option(0.1, doc="share of graphs for validation", gt=0, lt=1)
    test_ratio: float = option(0.1, doc="share of graphs for testing", gt=0, lt=1)
    split_seed: int = option(0, doc="seed of the stratified split (and folds)", ge=0)

    levels = ("graph",)

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        from gnnexp.tasks.graph import GraphTask

        return GraphTask(cfg, data, device, fold, fast)

    def model(
        self, cfg: DictConfig, in_channels: int, out_channels: int, layout: Layout = PLAIN
    ) -> torch.nn.Module:
        from gnnexp.models.build import build_encoder
        from gnnexp.models.heads import GraphModel

        encoder, width = build_encoder(cfg, in_channels, layout)
        return GraphModel(encoder, width, cfg.readout, cfg.hidden_channels, out_channels, cfg.dropout)


@dataclass
class PairScoring:
    """Settings of a task that scores node pairs against sampled non-edges (link prediction on
    one graph, or on one edge type of a typed graph)."""

    neg_ratio: float = option(1.0, doc="negatives per positive edge in training", gt=0)
    hits_k: int = option(50, doc="K of Hits@K", ge=1)
    weight_decay: float = option(
        0.0,
        doc="replaces the model's recommended decay, which would shrink the embeddings the scores compare",
        ge=0,
    )

    metrics: ClassVar[tuple[str, ...] | None] = tuple(name for name, m in METRICS.items() if m.binary)
    default_metric: ClassVar[str | None] = "roc_auc"


@component("task", "link")
class LinkTaskSpec(PairScoring, TaskSpec):
    """Link prediction: held-out edges against sampled non-edges (ROC-AUC, AP, Hits@K)."""

    val_ratio: float = option(0.05, doc="share of edges held out for validation", gt=0, lt=1)
    test_ratio: float = option(0.1, doc="share of edges held out for testing", gt=0, lt=1)
    decoder: str = option("dot", doc="how a pair of node embeddings is scored", choices=("dot", "mlp"))
    split_seed: int = option(0, doc="seed of the edge split", ge=0)

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        from gnnexp.tasks.link import LinkTask

        return LinkTask(cfg, data, device, fast)

    def model(
        self, cfg: DictConfig, in_channels: int, out_channels: int, layout: Layout = PLAIN
    ) -> torch.nn.Module:
        from gnnexp.models.build import build_model
        from gnnexp.models.heads import LinkModel

        encoder = build_model(cfg, in_channels, cfg.hidden_channels, layout)
        return LinkModel(encoder, cfg.hidden_channels, self.decoder)
