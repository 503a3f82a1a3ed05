"""The split of one edge type of a heterogeneous graph, shared by link prediction and
recommendation: PyG's RandomLinkSplit over that edge type and its reverse, checked for leaks.

A held-out pair must carry no message when it is scored: neither the pair itself nor its
reverse may be among the edges the model propagates over at evaluation. RandomLinkSplit
removes the reverse edges of held-out links only when told which edge type is the reverse
(``rev_edge_types``); :func:`leaked_pairs` checks the result, whatever built it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch_geometric.data import HeteroData
from torch_geometric.transforms import RandomLinkSplit
from torch_geometric.utils import is_undirected

from gnnexp.data.loading import GraphData
from gnnexp.errors import ConfigError, DataError
from gnnexp.util.seeding import seeded

EdgeType = tuple[str, str, str]
SPLITS = ("train", "val", "test")


def _shown(edge_type: Iterable[str]) -> str:
    return "[" + ",".join(edge_type) + "]"


def hetero_graph(data: GraphData, task: str) -> HeteroData:
    """The data's graph, refused in one line unless it has typed nodes and edges."""
    if not isinstance(data.graphs, HeteroData):
        raise ConfigError(
            f"task={task} predicts one edge type of a heterogeneous graph; dataset={data.name} has "
            "one node type and one edge type.",
            "use a heterogeneous dataset (dataset=bipartite, or your own tables), or task=link.",
        )
    return data.graphs


def chosen_edge_type(graph: HeteroData, requested: Any, name: str) -> EdgeType:
    """``task.edge_type`` as the data spells it; null: the data's only edge type that is not
    a reverse (``rev_...``)."""
    types = [tuple(t) for t in graph.edge_types]
    listed = ", ".join(_shown(t) for t in types)
    if requested is None:
        forward = [t for t in types if not t[1].startswith("rev_")]
        if len(forward) != 1:
            raise ConfigError(
                f"dataset={name} has {len(forward)} edge types besides reverses ({listed}): "
                "task.edge_type must say which to predict.",
                f"add task.edge_type={_shown(forward[0] if forward else types[0])}.",
            )
        return forward[0]
    edge_type = tuple(str(s) for s in requested)
    if edge_type not in types:
        raise DataError(
            f"task.edge_type={_shown(edge_type)} is not an edge type of dataset={name} ({listed}).",
            f"use one of them, e.g. task.edge_type={_shown(types[0])}.",
        )
    return edge_type  # type: ignore[return-value]


def reverse_edge_type(graph: HeteroData, edge_type: EdgeType, requested: Any, name: str) -> EdgeType | None:
    """The edge type that holds ``edge_type``'s edges reversed: ``task.rev_edge_type``, else the
    data's only ``[dst,*,src]`` type (``rev_<relation>`` among several), else ``rev_<relation>``,
    which :func:`with_reverse` adds. None: a relation within one node type that stores each
    edge both ways itself (split as undirected)."""
    src, rel, dst = edge_type
    if requested is not None:
        rev = tuple(str(s) for s in requested)
        if rev[0] != dst or rev[2] != src or rev == edge_type:
            raise ConfigError(
                f"task.rev_edge_type={_shown(rev)} does not run from {dst} to {src}, as the reverse of "
                f"{_shown(edge_type)} must.",
                f"use task.rev_edge_type=[{dst},rev_{rel},{src}] (or leave it null).",
            )
        if rev not in graph.edge_types:
            raise DataError(
                f"task.rev_edge_type={_shown(rev)} is not an edge type of dataset={name}.",
                "leave task.rev_edge_type null: the reverse edges are then added under rev_<relation>.",
            )
        return rev  # type: ignore[return-value]
    if src == dst and is_undirected(graph[edge_type].edge_index):
        return None  # each edge is stored both ways in the type itself: split as undirected
    backward = [tuple(t) for t in graph.edge_types if t[0] == dst and t[2] == src and tuple(t) != edge_type]
    named = (dst, f"rev_{rel}", src)
    if named in backward or not backward:
        return named
    if len(backward) == 1:
        return backward[0]
    raise ConfigError(
        f"dataset={name} has several edge types from {dst} to {src} ({', '.join(map(_shown, backward))}): "
        f"which one reverses {_shown(edge_type)} is not clear.",
        f"add task.rev_edge_type={_shown(backward[0])}.",
    )


def with_reverse(graph: HeteroData, edge_type: EdgeType, rev: EdgeType | None) -> HeteroData:
    """A copy of the graph's nodes and edges, ``edge_type``'s edges without repeats, and ``rev``
    holding them reversed when the data has no such type."""
    out = HeteroData()
    for node_type in graph.node_types:
        out[node_type].num_nodes = graph[node_type].num_nodes
        # A type without features gets an empty feature matrix, so that x_dict names every
        # type (the typed-graph models give it a learned embedding).
        x = graph[node_type].get("x")
        out[node_type].x = torch.empty(graph[node_type].num_nodes, 0) if x is None else x
    for t in graph.edge_types:
        out[t].edge_index = graph[t].edge_index
    pairs = torch.unique(graph[edge_type].edge_index, dim=1)  # a repeated pair could sit in two splits
    out[edge_type].edge_index = pairs
    if rev is not None and rev not in graph.edge_types:
        out[rev].edge_index = pairs.flip(0)
    return out


def split_typed_edges(
    graph: HeteroData,
    edge_type: EdgeType,
    rev: EdgeType | None,
    val_ratio: float,
    test_ratio: float,
    seed: int,
    negatives: bool,
    undirected: bool = False,
) -> tuple[HeteroData, HeteroData, HeteroData]:
    """Train/val/test graphs: ``edge_type``'s held-out pairs in ``pos_edge_label_index`` (and
    sampled non-edges in ``neg_edge_label_index`` when ``negatives``), messages over training
    edges (val) and training plus validation edges (test). ``undirected``: each edge is stored
    both ways in ``edge_type`` itself, and both ways are held out together. ``rev=None`` on a
    directed type leaves the reverse edges as they are: the leaky split :func:`leaked_pairs`
    exists to catch."""
    transform = RandomLinkSplit(
        num_val=val_ratio,
        num_test=test_ratio,
        is_undirected=undirected,
        add_negative_train_samples=False,
        neg_sampling_ratio=1.0 if negatives else 0.0,
        split_labels=True,
        edge_types=edge_type,
        rev_edge_types=rev,
    )
    with seeded(seed):  # the split depends on split_seed only (PyG draws from torch and random)
        return transform(graph)


def leaked_pairs(
    part: HeteroData, edge_type: EdgeType, carriers: Iterable[EdgeType] | None = None
) -> dict[EdgeType, int]:
    """Held-out positive pairs of ``part`` that its message-passing edges carry: per edge type
    of ``carriers`` (None: every edge type between the two node types), how many pairs it
    holds, as ``src -> dst`` or reversed."""
    src, _, dst = edge_type
    held = part[edge_type].pos_edge_label_index
    num_dst = part[dst].num_nodes
    held_keys = held[0] * num_dst + held[1]
    looked_at = None if carriers is None else {tuple(t) for t in carriers}
    found = {}
    for t in part.edge_types:
        if looked_at is not None and tuple(t) not in looked_at:
            continue
        edges = part[t].edge_index
        if (t[0], t[2]) == (src, dst):
            keys = edges[0] * num_dst + edges[1]
        elif (t[0], t[2]) == (dst, src):
            keys = edges[1] * num_dst + edges[0]
        else:
            continue
        count = int(torch.isin(held_keys, keys).sum())
        if count:
            found[tuple(t)] = count
    return found


def check_no_leaks(parts: dict[str, HeteroData], edge_type: EdgeType, rev: EdgeType | None) -> None:
    """Refuse a split whose validation or test pairs would carry messages when scored, in
    ``edge_type`` itself or in its reverse ``rev``. (Other relations between the same node
    types may hold the same pairs by right: a user who viewed an item and rated it.)"""
    carriers = [edge_type] if rev is None else [edge_type, rev]
    for split in ("val", "test"):
        for carrier, count in leaked_pairs(parts[split], edge_type, carriers).items():
            raise DataError(
                f"{count} held-out {split} pairs of {_shown(edge_type)} are also message-passing edges of "
                f"{_shown(carrier)}: the model would see the links it is asked to predict.",
                f"store each edge of {_shown(edge_type)} once (or, within one node type, both ways "
                "in it and in no other type).",
            )
