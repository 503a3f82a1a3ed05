"""Graph-level prediction: mini-batches of whole graphs, a readout, stratified splits or folds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from gnnexp.config.components import instance
from gnnexp.data.loading import GraphData
from gnnexp.data.splits import fold_split, group_split, stratified_split
from gnnexp.errors import DataError
from gnnexp.models.build import model_spec
from gnnexp.models.fast import fast_forward
from gnnexp.tasks.base import Objective, describe_edges, edge_dim, edge_features


def graph_labels(graphs: Any, regression: bool) -> Tensor:
    """One label per graph (the first target column for multi-target regression)."""
    return torch.cat([g.y.view(-1)[:1].float() if regression else g.y.view(-1)[:1] for g in graphs])


def _check_folds(labels: Tensor, folds: int, name: str, regression: bool) -> None:
    """Every fold needs graphs of every class to test on: refused before any training."""
    if regression:
        if folds > labels.numel():
            raise DataError(
                f"trainer.folds={folds} exceeds the {labels.numel()} graphs of {name}.", "use fewer folds."
            )
        return
    counts = torch.bincount(labels.long())
    smallest = int(counts[counts > 0].min())
    if folds > smallest:
        raise DataError(
            f"trainer.folds={folds} exceeds the {smallest} graphs of {name}'s smallest class: "
            "some folds would hold none of it.",
            f"use trainer.folds={max(3, smallest)} or fewer.",
        )


class GraphTask:
    """Loss over training graphs; metrics over validation/test graphs."""

    def __init__(
        self,
        cfg: DictConfig,
        data: GraphData,
        device: torch.device,
        fold: int | None = None,
        fast: bool = True,
    ) -> None:
        self.spec = instance("task", cfg.task)
        self.objective = Objective(cfg, data.num_classes, data.scorer)
        self.metric = self.objective.metric
        self.in_channels, self.out_channels = data.num_features, data.num_classes
        self.device = device
        graphs = data.graphs
        # Masked losses (regression, bce) skip a missing label; a graph with none is no use.
        masked = self.objective.regression or self.objective.multilabel
        if not masked and graphs[0].y.is_floating_point():  # the loader's rows for bce
            raise DataError(
                f"dataset={data.name} has several binary targets (or missing labels) per graph.",
                "add task.loss=bce.",
            )
        unlabelled = sum(
            bool(torch.isnan(g.y.float()).all() if masked else torch.isnan(g.y.float()).any()) for g in graphs
        )
        if unlabelled:
            why = f" ({data.notes['labels']})" if "labels" in data.notes else ""
            raise DataError(
                f"dataset={data.name} has {unlabelled} graphs without a label{why}.",
                "fill or drop them (task.loss=bce or a regression loss skips single missing targets); "
                "unlabelled data is for gnnexp predict.",
            )
        labels = graph_labels(graphs, masked)
        t = cfg.task
        if fold is None and data.split is not None:
            split = (data.split["train"], data.split["val"], data.split["test"])
        elif fold is None and data.groups is not None:
            split = group_split(data.groups, t.val_ratio, t.test_ratio, t.split_seed)
        elif fold is None:
            split = stratified_split(labels, t.val_ratio, t.test_ratio, t.split_seed)
        else:
            if data.split is not None:
                raise DataError(
                    f"dataset={data.name} comes with its official split; folds would replace it.",
                    "drop trainer.folds.",
                )
            if data.groups is not None:
                raise DataError(
                    f"dataset={data.name} is split by scaffold, which makes one split, not folds.",
                    "use dataset.split=random (or stratified) with trainer.folds, or drop trainer.folds.",
                )
            _check_folds(labels, int(cfg.trainer.folds), data.name, masked)
            mean_curve = cfg.trainer.fold_selection == "mean_curve"
            split = fold_split(labels, cfg.trainer.folds, fold, t.split_seed, held_out_only=mean_curve)
        self.indices = dict(zip(("train", "val", "test"), split, strict=True))
        for name, index in self.indices.items():
            if index.numel() == 0:
                raise DataError(
                    f"dataset={data.name} leaves no graphs for the {name} split ({len(graphs)} graphs).",
                    "use a larger dataset or other split ratios.",
                )
        if not masked and labels[self.indices["train"]].unique().numel() < 2:
            raise DataError(
                f"dataset={data.name} has a single class among its training graphs.",
                "use a dataset with at least two classes.",
            )
        self.loaders = {
            name: DataLoader(
                data.redraw([int(i) for i in index])  # random transforms: drawn anew each epoch
                if name == "train" and data.redraw is not None
                else [graphs[int(i)] for i in index],
                batch_size=t.batch_size,
                shuffle=name == "train",
            )
            for name, index in self.indices.items()
        }
        self.num_graphs = len(graphs)
        used = edge_dim(cfg.model, data)
        self.layout = fast_forward(model_spec(cfg.model), None, enabled=fast, edge_dim=used).layout
        self.layout = dataclasses.replace(self.layout, pe_dim=data.pe_dim)
        self.edges = describe_edges(cfg.model, data, used)
        self.notes = dict(data.notes)

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        return self.spec.model(cfg, self.in_channels, self.out_channels, self.layout)

    def train_batches(self) -> Iterable[Batch]:
        return self.loaders["train"]

    def _forward(self, model: torch.nn.Module, batch: Batch) -> Tensor:
        if self.layout.edge_dim is None:
            return model(batch.x, batch.edge_index, batch.batch)
        return model(batch.x, batch.edge_index, batch.batch, edge_features(batch.edge_attr))

    def training_loss(self, model: torch.nn.Module, batch: Batch) -> Tensor:
        batch = batch.to(self.device)
        return self.objective.loss(self._forward(model, batch), batch.y)

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        results = {}
        for split in splits:
            outs, targets = [], []
            for batch in self.loaders[split]:
                batch = batch.to(self.device)
                outs.append(self._forward(model, batch))
                targets.append(batch.y)
            pred, target = torch.cat(outs), torch.cat(targets)
            results[split] = self.objective.scores(pred, target)
        return results

    def describe(self) -> dict[str, Any]:
        return {
            "graphs": self.num_graphs,
            "features": self.in_channels,
            "classes" if not self.objective.regression else "targets": self.out_channels,
            "train/val/test": "/".join(str(i.numel()) for i in self.indices.values()),
            **self.edges,
            **self.notes,
        }
