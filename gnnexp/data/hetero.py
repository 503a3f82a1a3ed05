"""Typed graphs (PyG ``HeteroData``): the record a heterogeneous source returns, and ``finish``,
which gives every typed graph its masks and checks it whatever its source.

The sources' readers: a folder of tables in ``gnnexp.data.hetero_tables``; Cora's raw files,
PyG's classes and the generated graph in ``gnnexp.data.hetero_readers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from omegaconf import DictConfig

from gnnexp.data.loading import GraphData
from gnnexp.data.splits import random_node_masks
from gnnexp.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass
class HeteroGraphData(GraphData):
    """A typed graph: ``graphs`` is one ``HeteroData``; labels live on some node types.

    ``num_features``/``num_classes`` are those of the default target (the one labelled type).
    """

    num_classes_of: dict[str, int] = field(default_factory=dict)  # labelled type -> output width
    node_ids: dict[str, list[str]] = field(default_factory=dict)  # the folder's ids, per type

    @property
    def labelled(self) -> list[str]:
        return sorted(self.num_classes_of)


def feature_width(graph: Any, node_type: str) -> int:
    """Width of a node type's features; 0 for a type without features (a learned embedding)."""
    x = graph[node_type].get("x")
    return 0 if x is None else int(x.view(x.size(0), -1).size(1))


def finish(cfg: DictConfig, graph: Any, node_ids: dict[str, list[str]] | None = None) -> HeteroGraphData:
    """Masks (a seeded split of each labelled type's labelled nodes, where none is given),
    reverse edge types on request, and the checks every typed graph must pass."""
    import torch_geometric.transforms as T

    regression = cfg.target == "regression"
    classes: dict[str, int] = {}
    for node_type in graph.node_types:
        store = graph[node_type]
        if "num_nodes" not in store and "x" not in store:
            raise DataError(f"dataset={cfg.name}: node type {node_type} has no node count.", "give it nodes.")
        y = store.get("y")
        if y is None:
            continue
        if regression:
            store.y = y = y.float()
            known = ~torch.isnan(y.view(y.size(0), -1)).all(1)
            classes[node_type] = 1 if y.dim() == 1 else int(y.size(1))
        else:
            known = y >= 0
            if not bool(known.any()):
                continue
            classes[node_type] = int(y[known].max()) + 1
        for split in SPLITS:  # several predefined splits: use the first
            mask = store.get(f"{split}_mask")
            if mask is not None and mask.dim() == 2:
                store[f"{split}_mask"] = mask[:, 0]
        if any(store.get(f"{s}_mask") is None for s in SPLITS):
            labelled = known.nonzero().view(-1)
            masks = random_node_masks(labelled.numel(), cfg.train_ratio, cfg.val_ratio, cfg.split_seed)
            for split, mask in zip(SPLITS, masks, strict=True):
                full = torch.zeros(y.size(0), dtype=torch.bool)
                full[labelled[mask]] = True
                store[f"{split}_mask"] = full
    if not graph.edge_types:
        raise DataError(f"dataset={cfg.name} has no edges.", "give it at least one edge table.")
    if cfg.reverse:
        graph = T.ToUndirected(merge=True)(graph)
    for store in graph.edge_stores:
        attr = store.get("edge_attr")
        if attr is not None and attr.dim() == 1:
            store.edge_attr = attr.view(-1, 1).float()
    default = sorted(classes)[0] if len(classes) == 1 else None
    return HeteroGraphData(
        name=cfg.name,
        level="hetero",
        graphs=graph,
        num_features=feature_width(graph, default) if default else 0,
        num_classes=classes.get(default, 0) if default else 0,
        num_classes_of=classes,
        node_ids=node_ids or {},
    )
