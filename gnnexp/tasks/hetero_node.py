"""Node classification or regression on one node type of a typed graph (full-graph passes)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.config.components import instance
from gnnexp.data.loading import GraphData
from gnnexp.data.typed_sampler import hetero_neighbor_loader
from gnnexp.errors import ConfigError, DataError
from gnnexp.models.hetero_inputs import hetero_inputs, restricted_inputs, typed_layers
from gnnexp.tasks.base import Objective

SPLITS = ("train", "val", "test")


def target_type(cfg: DictConfig, data: GraphData) -> str:
    """``task.target``, or the one node type with labels; checked against the graph."""
    graph = data.graphs
    labelled = sorted(getattr(data, "num_classes_of", {}))
    wanted = cfg.task.get("target")
    if wanted is None:
        if len(labelled) == 1:
            return labelled[0]
        if not labelled:
            raise DataError(
                f"dataset={data.name} has no node type with labels ({', '.join(graph.node_types)}).",
                "give one node table a label column, or use a link task.",
            )
        raise ConfigError(
            f"dataset={data.name} has labels on node types {', '.join(labelled)}: which one to predict?",
            f"add task.target={labelled[0]} (or another of them).",
        )
    if wanted not in graph.node_types:
        raise ConfigError(
            f"task.target={wanted} is not a node type of dataset={data.name} ({', '.join(graph.node_types)}).",
            f"use task.target={labelled[0] if labelled else graph.node_types[0]}.",
        )
    if wanted not in labelled:
        raise DataError(
            f"Node type {wanted} of dataset={data.name} has no labels"
            + (f" (labelled: {', '.join(labelled)})." if labelled else "."),
            f"use task.target={labelled[0]}." if labelled else "give its node table a label column.",
        )
    return str(wanted)


def fan_outs(cfg: DictConfig, graph: Any) -> dict[tuple[str, str, str], list[int]]:
    """The fan-out per hop of each edge type: ``task.num_neighbors`` by name, else
    ``loader.num_neighbors``; a name that is no edge type, or a list of another length, is refused."""
    default = list(cfg.loader.num_neighbors)
    named = {str(k): list(v) for k, v in (cfg.task.get("num_neighbors") or {}).items()}
    types = {"__".join(et): et for et in graph.edge_types}
    for name, values in named.items():
        if name not in types:
            raise ConfigError(
                f"task.num_neighbors names {name}, which is not an edge type of this graph "
                f"({', '.join(sorted(types))}).",
                "name edge types as src__relation__dst (reverse ones included).",
            )
        if len(values) != len(default):
            raise ConfigError(
                f"task.num_neighbors.{name} has {len(values)} hops, loader.num_neighbors {len(default)}.",
                "give every edge type one fan-out per layer.",
            )
    return {et: named.get(name, default) for name, et in types.items()}


class HeteroNodeTask:
    """Loss on the target type's training nodes, metrics on its val/test nodes; each pass runs
    over the whole typed graph."""

    def __init__(self, cfg: DictConfig, data: GraphData, device: torch.device, fast: bool = True) -> None:
        self.spec = instance("task", cfg.task)
        self.target = target_type(cfg, data)
        self.cpu_graph = data.graphs
        store = self.cpu_graph[self.target]
        out_channels = data.num_classes_of[self.target]  # type: ignore[attr-defined]
        self.objective = Objective(cfg, out_channels)
        self.metric = self.objective.metric
        for split in SPLITS:
            mask = store.get(f"{split}_mask")
            if mask is None or not bool(mask.any()):
                raise DataError(
                    f"dataset={data.name} has no {split} nodes of type {self.target}.",
                    "give the labelled nodes a split (a split column, or more labelled nodes).",
                )
        x = store.get("x")
        self.in_channels = 0 if x is None else int(x.size(1))
        self.out_channels = out_channels
        self.device = device
        # A shallow copy: moving to the device must not touch the cached dataset.
        self.graph = copy.copy(self.cpu_graph).to(device)
        self.fast = fast
        spec = None if cfg.model.get("_target_") else instance("model", cfg.model)
        self.inputs = hetero_inputs(spec, self.graph, fast)
        # Full-graph passes compute only the nodes their loss or metrics need, where the model
        # allows it (fast.typed): the inputs of each such pass, made once per run.
        self.layers = typed_layers(spec, self.spec.hetero_aggr, fast)
        self._restricted: dict[tuple[str, ...], tuple[tuple[Any, ...], Tensor] | None] = {}
        self.loader = cfg.loader
        self.sampled = cfg.loader.kind == "neighbor"
        if self.sampled:
            self.fan_outs = fan_outs(cfg, self.cpu_graph)
            self.train_loader = self._loader(store.train_mask, cfg.loader.batch_size, cfg.loader.shuffle)
        self.y = self.graph[self.target].y
        self.masks = {s: self.graph[self.target][f"{s}_mask"] for s in SPLITS}
        self.notes = dict(data.notes)

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        return self.spec.hetero_model(cfg, self.cpu_graph, self.out_channels, self.fast)

    def _loader(self, nodes: Tensor, batch_size: int, shuffle: bool) -> Any:
        return hetero_neighbor_loader(
            self.cpu_graph, self.target, nodes, self.fan_outs, batch_size, shuffle, self.loader.num_workers
        )

    def train_batches(self) -> Iterable[Any]:
        return self.train_loader if self.sampled else (self.graph,)

    def training_loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        if self.sampled:
            out, y = self._forward_sampled(model, batch)
            return self.objective.loss(out, y)
        subset = self.restricted(("train",))
        if subset is not None:
            inputs, nodes = subset
            return self.objective.loss(model(*inputs)[self.target][: nodes.numel()], self.y[nodes])
        out = model(*self.inputs)[self.target]
        mask = self.masks["train"]
        return self.objective.loss(out[mask], self.y[mask])

    def restricted(self, splits: tuple[str, ...]) -> tuple[tuple[Any, ...], Tensor] | None:
        """The inputs of a pass over the target's nodes of ``splits`` only, and those nodes
        (ascending); None where such a pass is the full one."""
        if not self.layers:
            return None
        if splits not in self._restricted:
            nodes = torch.stack([self.masks[s] for s in splits]).any(0).nonzero().view(-1)
            found = restricted_inputs(self.graph, self.inputs, self.target, nodes, self.layers)
            self._restricted[splits] = None if found is None else (found, nodes)
        return self._restricted[splits]

    def _forward_sampled(self, model: torch.nn.Module, batch: Any) -> tuple[Tensor, Tensor]:
        """The outputs and targets of a sampled batch's seed nodes (first in their type)."""
        batch = batch.to(self.device)
        seeds = batch[self.target].batch_size
        out = model(batch.x_dict, batch.edge_index_dict, batch.n_id_dict)[self.target]
        return out[:seeds], batch[self.target].y[:seeds]

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        if self.sampled and self.loader.eval == "sampled":
            scores = {}
            for split in splits:
                outs, ys = [], []
                for batch in self._loader(
                    self.cpu_graph[self.target][f"{split}_mask"], self.loader.eval_batch_size, False
                ):
                    out, y = self._forward_sampled(model, batch)
                    outs.append(out)
                    ys.append(y)
                scores[split] = self.objective.scores(torch.cat(outs), torch.cat(ys))
            return scores
        subset = self.restricted(splits)
        if subset is not None:
            inputs, nodes = subset
            out, y = model(*inputs)[self.target][: nodes.numel()], self.y[nodes]
            masks = {s: self.masks[s][nodes] for s in splits}
            return {s: self.objective.scores(out[masks[s]], y[masks[s]]) for s in splits}
        out = model(*self.inputs)[self.target]
        return {s: self.objective.scores(out[self.masks[s]], self.y[self.masks[s]]) for s in splits}

    def describe(self) -> dict[str, Any]:
        g = self.graph
        widths = {t: g[t].x.size(1) if "x" in g[t] else 0 for t in g.node_types}
        return {
            "node types": ", ".join(
                f"{t} {g[t].num_nodes:,} ({f'{widths[t]} features' if widths[t] else 'embedded'})"
                for t in g.node_types
            ),
            "edge types": ", ".join(f"{s}-{r}-{d} {g[s, r, d].num_edges:,}" for s, r, d in g.edge_types),
            "target": self.target,
            "classes" if not self.objective.regression else "targets": self.out_channels,
            "train/val/test": "/".join(f"{int(self.masks[s].sum()):,}" for s in SPLITS),
            **self.notes,
            **(
                {"batches": f"{len(self.train_loader)} x {self.loader.batch_size} seeds of {self.target}"}
                if self.sampled
                else {}
            ),
        }


def predict_nodes(
    cfg: DictConfig, data: GraphData, shape: dict[str, Any] | None, load: Callable[[torch.nn.Module], None]
) -> tuple[list[str], list[list[Any]]]:
    """One row per node of the target type: its id, the prediction, the probabilities (or
    values), its label and split."""
    target = target_type(cfg, data)
    graph = data.graphs
    out_channels = (shape or {}).get("out_channels") or data.num_classes_of[target]  # type: ignore[attr-defined]
    model = instance("task", cfg.task).hetero_model(cfg.model, graph, out_channels)
    load(model)
    model.eval()
    with torch.inference_mode():
        out = model(graph.x_dict, graph.edge_index_dict)[target]
    store = graph[target]
    regression = cfg.dataset.target == "regression"
    if regression:
        values = out.view(out.size(0), -1)
        names = ["value"] if values.size(1) == 1 else [f"value_{i}" for i in range(values.size(1))]
        labels: list[Any] = [None] * values.size(0)
    else:
        values = out.softmax(dim=-1)
        names = [f"prob_{i}" for i in range(values.size(1))]
        labels = values.argmax(dim=-1).tolist()
    ids = getattr(data, "node_ids", {}).get(target) or [str(i) for i in range(store.num_nodes)]
    split = ["" for _ in range(store.num_nodes)]
    for s in reversed(SPLITS):
        for i in store[f"{s}_mask"].nonzero().view(-1).tolist():
            split[i] = s
    truth = store.y.tolist()
    truth = ["" if (v != v or (not regression and v < 0)) else v for v in truth]
    header = ["node", "node_type", "prediction", *names, "label", "split"]
    rows = [
        [ids[i], target, labels[i], *values[i].tolist(), truth[i], split[i]] for i in range(store.num_nodes)
    ]
    return header, rows
