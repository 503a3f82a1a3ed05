"""Full-graph node classification with train/val/test masks."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor
from torch_geometric.data import Data

from gnnexp.data import GraphData
from gnnexp.errors import DataError
from gnnexp.metrics import METRICS


class NodeClassification:
    """Cross-entropy on the training nodes; the metric on validation or test nodes."""

    def __init__(self, cfg: DictConfig, data: GraphData, metric: str, device: torch.device) -> None:
        graph: Data = data.graphs
        for split in ("train", "val", "test"):
            mask = getattr(graph, f"{split}_mask", None)
            if mask is None or int(mask.sum()) == 0:
                raise DataError(
                    f"dataset={data.name} has no {split} nodes ({split}_mask is "
                    f"{'missing' if mask is None else 'empty'}).",
                    "give the dataset a non-empty split, e.g. by its split ratios.",
                )
        classes = int(graph.y[graph.train_mask].unique().numel())
        if data.num_classes < 2 or classes < 2:
            raise DataError(
                f"dataset={data.name} has a single class among its training nodes: "
                "there is nothing to classify.",
                "use a dataset (or split) with at least two classes.",
            )
        # A shallow copy: moving to the device must not touch the cached dataset.
        self.graph = copy.copy(graph).to(device)
        self.name = data.name
        self.metric_name = metric
        self.metric = METRICS[metric]
        self.in_channels = data.num_features
        self.out_channels = data.num_classes

    def train_batches(self) -> Iterable[Data]:
        return (self.graph,)

    def training_loss(self, model: torch.nn.Module, batch: Data) -> Tensor:
        out = model(batch.x, batch.edge_index)
        return F.cross_entropy(out[batch.train_mask], batch.y[batch.train_mask])

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        g = self.graph
        out = model(g.x, g.edge_index)  # one forward pass serves every split
        results = {}
        for split in splits:
            mask = g[f"{split}_mask"]
            logits, target = out[mask], g.y[mask]
            results[split] = {
                "loss": F.cross_entropy(logits, target).item(),
                self.metric_name: self.metric(logits, target),
            }
        return results

    def describe(self) -> dict[str, Any]:
        g = self.graph
        return {
            "nodes": g.num_nodes,
            "edges": g.num_edges,
            "features": self.in_channels,
            "classes": self.out_channels,
            "train/val/test": "/".join(str(int(g[f"{s}_mask"].sum())) for s in ("train", "val", "test")),
        }
