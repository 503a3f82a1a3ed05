"""Node-level prediction on one graph: full-graph or neighbour-sampled mini-batches."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor
from torch_geometric.data import Data

from gnnexp.config.components import instance
from gnnexp.data.loading import GraphData
from gnnexp.data.neighbor_sampler import neighbor_loader
from gnnexp.errors import DataError
from gnnexp.models.build import model_spec
from gnnexp.models.fast import fast_forward
from gnnexp.tasks.base import Objective, describe_edges, edge_dim
from gnnexp.util.ranks import SINGLE, Dist, shard

SPLITS = ("train", "val", "test")


def check_node_splits(graph: Data, name: str, regression: bool) -> None:
    """Every split must have nodes, and classification needs two training classes."""
    for split in SPLITS:
        mask = getattr(graph, f"{split}_mask", None)
        if mask is None or int(mask.sum()) == 0:
            raise DataError(
                f"dataset={name} has no {split} nodes ({split}_mask is {'missing' if mask is None else 'empty'}).",
                "give the dataset a non-empty split, e.g. by its split ratios.",
            )
    if not regression and int(graph.y[graph.train_mask].unique().numel()) < 2:
        raise DataError(
            f"dataset={name} has a single class among its training nodes: there is nothing to classify.",
            "use a dataset (or split) with at least two classes.",
        )


class NodeTask:
    """Loss on the training nodes (or a batch's seed nodes); metrics on val/test nodes."""

    def __init__(
        self, cfg: DictConfig, data: GraphData, device: torch.device, dist: Dist = SINGLE, fast: bool = True
    ) -> None:
        graph: Data = data.graphs
        self.spec = instance("task", cfg.task)
        self.objective = Objective(cfg, data.num_classes, data.scorer)
        check_node_splits(graph, data.name, self.objective.regression)
        self.metric = self.objective.metric
        self.in_channels, self.out_channels = data.num_features, data.num_classes
        self.device = device
        self.loader = cfg.loader
        self.sampled = cfg.loader.kind == "neighbor"
        if self.sampled:
            self.graph = graph  # stays on the CPU; batches move to the device
            seeds = shard(graph.train_mask.nonzero().view(-1), dist)
            self.train_loader = self._loader(seeds, cfg.loader.batch_size, cfg.loader.shuffle)
        else:
            # A shallow copy: moving to the device must not touch the cached dataset.
            self.graph = copy.copy(graph).to(device)
        # The layout the model is built for, and the inputs in it (sampled batches come as
        # the loader makes them: edge lists, dense features, counts per hop).
        used = edge_dim(cfg.model, data, usable=not self.sampled)
        self.edges = describe_edges(
            cfg.model, data, used, "sampled batches carry none yet" if self.sampled else ""
        )
        self.fast = fast_forward(
            model_spec(cfg.model), self.graph, enabled=fast, sampled=self.sampled, edge_dim=used
        )
        self.layout, self.inputs = self.fast.layout, self.fast.inputs
        self.layout = dataclasses.replace(self.layout, pe_dim=data.pe_dim)
        # Training and evaluation passes compute only the nodes their loss or metrics need.
        self._per_layer: dict[tuple[str, ...], tuple[tuple[Tensor, tuple[Tensor, ...]], Tensor] | None] = {}
        self._eval_graph: Data | None = None
        self.notes = dict(data.notes)

    def _loader(self, nodes: Tensor, batch_size: int, shuffle: bool) -> Any:
        return neighbor_loader(
            self.graph,
            nodes,
            list(self.loader.num_neighbors),
            batch_size,
            shuffle,
            self.loader.num_workers,
            self.loader.backend,
        )

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        return self.spec.model(cfg, self.in_channels, self.out_channels, self.layout)

    def train_batches(self) -> Iterable[Data]:
        return self.train_loader if self.sampled else (self.graph,)

    def training_loss(self, model: torch.nn.Module, batch: Data) -> Tensor:
        if self.sampled:
            batch = batch.to(self.device)
            seeds = batch.batch_size  # seed nodes come first in a sampled batch
            return self.objective.loss(self._forward_sampled(model, batch)[:seeds], batch.y[:seeds])
        subset = self.trimmed_inputs(("train",))
        if subset is not None:
            inputs, nodes = subset
            return self.objective.loss(model(*inputs)[: nodes.numel()], batch.y[nodes])
        out = model(*self.inputs)  # the full graph, in the fast layouts when enabled
        return self.objective.loss(out[batch.train_mask], batch.y[batch.train_mask])

    def trimmed_inputs(
        self, splits: tuple[str, ...]
    ) -> tuple[tuple[Tensor, tuple[Tensor, ...]], Tensor] | None:
        """The inputs of a pass over the nodes of ``splits`` only (made once per run), and
        those nodes (ascending); None where such a pass is the full one."""
        if self.sampled or not self.fast.trimmed_layers:
            return None
        if splits not in self._per_layer:
            g = self.graph
            mask = torch.stack([g[f"{split}_mask"] for split in splits]).any(0)
            nodes = mask.nonzero().view(-1)
            inputs = self.fast.restricted(nodes)
            self._per_layer[splits] = None if inputs is None else (inputs, nodes)
        return self._per_layer[splits]

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        if self.sampled and self.loader.eval == "sampled":
            return {split: self._evaluate_sampled(model, split) for split in splits}
        subset = self.trimmed_inputs(splits)
        if subset is not None:
            inputs, nodes = subset
            out, y = model(*inputs)[: nodes.numel()], self.graph.y[nodes]
            masks = {split: self.graph[f"{split}_mask"][nodes] for split in splits}
            return {split: self.objective.scores(out[masks[split]], y[masks[split]]) for split in splits}
        g = self._full_graph()
        out = model(*self.inputs) if not self.sampled else model(g.x, g.edge_index)  # one pass, every split
        return {
            split: self.objective.scores(out[g[f"{split}_mask"]], g.y[g[f"{split}_mask"]]) for split in splits
        }

    def _full_graph(self) -> Data:
        if not self.sampled:
            return self.graph
        if self._eval_graph is None:
            self._eval_graph = copy.copy(self.graph).to(self.device)
        return self._eval_graph

    def _evaluate_sampled(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        outs, targets = [], []
        for batch in self._loader(self.graph[f"{split}_mask"], self.loader.eval_batch_size, False):
            batch = batch.to(self.device)
            outs.append(self._forward_sampled(model, batch)[: batch.batch_size])
            targets.append(batch.y[: batch.batch_size])
        return self.objective.scores(torch.cat(outs), torch.cat(targets))

    def _forward_sampled(self, model: torch.nn.Module, batch: Data) -> Tensor:
        return model(batch.x, batch.edge_index, **self.fast.batch_args(batch))

    def describe(self) -> dict[str, Any]:
        g = self.graph
        return {
            "nodes": f"{g.num_nodes:,}",
            "edges": f"{g.num_edges:,}",
            "features": self.in_channels,
            "classes" if not self.objective.regression else "targets": self.out_channels,
            **self.edges,
            "train/val/test": "/".join(f"{int(g[f'{s}_mask'].sum()):,}" for s in SPLITS),
            **self.notes,
            **(
                {"batches": f"{len(self.train_loader)} x {self.loader.batch_size} seeds"}
                if self.sampled
                else {}
            ),
        }
