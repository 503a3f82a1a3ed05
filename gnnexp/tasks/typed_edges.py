"""One edge type of a heterogeneous graph, split (``gnnexp.tasks.typed_edge_split``), with how
its model is built: what link prediction and recommendation on typed graphs share."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor
from torch_geometric.data import HeteroData

from gnnexp.config.components import instance
from gnnexp.data.loading import GraphData
from gnnexp.errors import DataError
from gnnexp.tasks.typed_edge_split import (
    SPLITS,
    EdgeType,
    _shown,
    check_no_leaks,
    chosen_edge_type,
    hetero_graph,
    reverse_edge_type,
    split_typed_edges,
    with_reverse,
)


class TypedEdges:
    """The split of one edge type shared by link prediction and recommendation."""

    def __init__(self, cfg: DictConfig, data: GraphData, device: torch.device, negatives: bool) -> None:
        t = cfg.task
        graph = hetero_graph(data, str(t.kind))
        self.edge_type = chosen_edge_type(graph, t.edge_type, data.name)
        self.rev = reverse_edge_type(graph, self.edge_type, t.rev_edge_type, data.name)
        graph = with_reverse(graph, self.edge_type, self.rev)
        total = graph[self.edge_type].edge_index.size(1)
        too_few = DataError(
            f"dataset={data.name} has too few {_shown(self.edge_type)} edges ({total}) to hold out "
            "some for validation and testing.",
            "use a graph with more edges, or larger task.val_ratio / task.test_ratio.",
        )
        try:
            train, val, test = split_typed_edges(
                graph,
                self.edge_type,
                self.rev,
                t.val_ratio,
                t.test_ratio,
                t.split_seed,
                negatives,
                undirected=self.rev is None,
            )
        except ValueError as err:  # RandomLinkSplit: "Insufficient number of edges for training"
            raise too_few from err
        parts = {"train": train, "val": val, "test": test}
        if min(p[self.edge_type].pos_edge_label_index.size(1) for p in parts.values()) == 0:
            raise too_few
        check_no_leaks(parts, self.edge_type, self.rev)
        self.graph = graph
        self.parts = {s: p.to(device) for s, p in parts.items()}
        self.device = device
        self.num_src = graph[self.edge_type[0]].num_nodes
        self.num_dst = graph[self.edge_type[2]].num_nodes
        self.encoder = TypedEncoder(cfg, graph, self.edge_type, self.rev, data.name)
        self.in_channels = data.num_features
        self.notes = dict(data.notes)  # what loading did, for the intro panel

    def inputs(self, split: str) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor]]:
        """Features by node type and the message-passing edges by edge type of ``split``."""
        return typed_inputs(self.parts[split])

    def embed(self, model: torch.nn.Module, split: str) -> tuple[Tensor, Tensor]:
        """Embeddings of the source and target nodes, messages passed over ``split``'s graph."""
        z = model(*self.inputs(split))
        return z[self.edge_type[0]], z[self.edge_type[2]]

    def sizes(self) -> dict[str, Any]:
        count = {s: p[self.edge_type].pos_edge_label_index.size(1) for s, p in self.parts.items()}
        return {
            "node types": ", ".join(f"{t} {self.graph[t].num_nodes}" for t in self.graph.node_types),
            "edge type": ",".join(self.edge_type)
            + (
                " (undirected: both ways held out together)"
                if self.rev is None
                else f" (its reverse {','.join(self.rev)} held out with it)"
            ),
            "positive pairs train/val/test": "/".join(str(count[s]) for s in SPLITS),
            **self.notes,
        }


class TypedEncoder:
    """How the model is built for one edge type: LightGCN on a bipartite graph, any other
    model on every node and edge type (``gnnexp.models.hetero``)."""

    def __init__(
        self, cfg: DictConfig, graph: HeteroData, edge_type: EdgeType, rev: EdgeType | None, name: str
    ) -> None:
        self.graph = graph
        self.edge_type = edge_type
        self.spec = instance("task", cfg.task)
        if str(cfg.model.name) != "lightgcn":
            return
        src, _, dst = edge_type
        others = [t for t in graph.node_types if t not in (src, dst)]
        ignored = [t for t in graph.edge_types if t not in (edge_type, rev)]
        if src == dst or others or ignored:
            why = (
                f"{_shown(edge_type)} joins {src} to {src}"
                if src == dst
                else f"it has more node types ({', '.join(graph.node_types)})"
                if others
                else f"it would ignore {', '.join(map(_shown, ignored))}"
            )
            raise DataError(
                "model=lightgcn needs a bipartite graph (two node types, e.g. users and items, and edges "
                f"only between them); dataset={name} is not one: {why}.",
                "use a dataset of users and items only, or another model (e.g. model=sage).",
            )

    def build(self, model: DictConfig) -> torch.nn.Module:
        if str(model.name) != "lightgcn":
            built: torch.nn.Module = self.spec.hetero_model(model, self.graph, int(model.hidden_channels))
            return built
        from gnnexp.models.lightgcn_net import LightGCNEncoder

        src, _, dst = self.edge_type
        sizes = (self.graph[src].num_nodes, self.graph[dst].num_nodes)
        return LightGCNEncoder(self.edge_type, *sizes, int(model.hidden_channels), int(model.num_layers))


def typed_inputs(graph: HeteroData) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor]]:
    """Features by node type and edges by edge type."""
    return graph.x_dict, graph.edge_index_dict
