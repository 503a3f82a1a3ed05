"""Link prediction on one edge type of a heterogeneous graph: dot-product scores of the two
node types' embeddings, trained against fresh negatives. The split it shares with
recommendation, checked for leaks, is ``gnnexp.tasks.typed_edge_split``; the split graph and
its model, ``gnnexp.tasks.typed_edges``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import negative_sampling

from gnnexp.config.components import instance
from gnnexp.config.validate import metric_name
from gnnexp.data.loading import GraphData
from gnnexp.metrics import METRICS, hits_at_k
from gnnexp.tasks.typed_edges import TypedEdges


def score(z_src: Tensor, z_dst: Tensor, pairs: Tensor) -> Tensor:
    """The logit of each pair ``(src, dst)``: the dot product of their embeddings."""
    return (z_src[pairs[0]] * z_dst[pairs[1]]).sum(-1)


class HeteroLinkTask:
    """Binary cross-entropy on one edge type's training edges against fresh negatives."""

    def __init__(self, cfg: DictConfig, data: GraphData, device: torch.device) -> None:
        self.spec = instance("task", cfg.task)
        self.edges = TypedEdges(cfg, data, device, negatives=True)
        self.in_channels = self.edges.in_channels
        self.metric = metric_name(cfg)
        self.names = list(dict.fromkeys(("roc_auc", "ap", f"hits@{cfg.task.hits_k}", self.metric)))
        self.neg_ratio = float(cfg.task.neg_ratio)

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        return self.edges.encoder.build(cfg)

    def train_batches(self) -> Iterable[HeteroData]:
        return (self.edges.parts["train"],)

    def training_loss(self, model: torch.nn.Module, batch: HeteroData) -> Tensor:
        e = self.edges
        z_src, z_dst = e.embed(model, "train")
        pos = batch[e.edge_type].pos_edge_label_index
        neg = negative_sampling(
            batch[e.edge_type].edge_index,
            num_nodes=(e.num_src, e.num_dst),
            num_neg_samples=max(1, int(pos.size(1) * self.neg_ratio)),
        )
        logits = score(z_src, z_dst, torch.cat([pos, neg], dim=1))
        labels = torch.cat([torch.ones(pos.size(1)), torch.zeros(neg.size(1))]).to(logits.device)
        return F.binary_cross_entropy_with_logits(logits, labels)

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        e = self.edges
        results = {}
        for split in splits:
            z_src, z_dst = e.embed(model, split)
            store = e.parts[split][e.edge_type]
            pos = score(z_src, z_dst, store.pos_edge_label_index)
            neg = score(z_src, z_dst, store.neg_edge_label_index)
            scores = torch.cat([pos, neg])
            labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
            out = {"loss": F.binary_cross_entropy_with_logits(scores, labels).item()}
            for name in self.names:
                out[name] = (
                    hits_at_k(pos, neg, int(name[5:]))
                    if name.startswith("hits@")
                    else METRICS[name].compute(scores, labels)
                )
            results[split] = out
        return results

    def describe(self) -> dict[str, Any]:
        return self.edges.sizes()
