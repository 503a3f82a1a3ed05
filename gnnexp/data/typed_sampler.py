"""Neighbour sampling on a typed graph (PyG ``HeteroData``), in pure torch, plugged into
PyG's ``NodeLoader``: the typed counterpart of ``gnnexp.data.neighbor_sampler``, drawing
each node's neighbours with the same sampler.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.sampler import BaseSampler, NodeSamplerInput

from gnnexp.data.neighbor_sampler import sample_without_replacement


class TorchHeteroNeighborSampler(BaseSampler):
    """:class:`TorchNeighborSampler` on a typed graph (PyG ``HeteroData``): hop h expands the
    nodes of each type first reached at hop h-1 by up to ``fan_outs[edge_type][h]`` of their
    in-neighbours along each edge type (``-1``: all); a node reached twice is kept once.
    Batches are PyG ``HeteroData`` with ``n_id`` per type, the seed nodes first in theirs."""

    def __init__(self, data: Any, fan_outs: dict[tuple[str, str, str], list[int]]) -> None:
        self.node_types = list(data.node_types)
        self.edge_types = list(data.edge_types)
        self.fan_outs = fan_outs
        self.hops = len(next(iter(fan_outs.values()))) if fan_outs else 0
        # Per edge type, incoming edges grouped by target (CSC), as in the plain sampler.
        self.csc: dict[tuple[str, str, str], tuple[Tensor, Tensor, Tensor]] = {}
        for edge_type in self.edge_types:
            src, dst = data[edge_type].edge_index
            num_dst = int(data[edge_type[2]].num_nodes)
            order = torch.argsort(dst, stable=True)
            colptr = torch.zeros(num_dst + 1, dtype=torch.long)
            colptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_dst), 0)
            self.csc[edge_type] = (colptr, src[order], order)
        self._local = {
            t: torch.full((int(data[t].num_nodes),), -1, dtype=torch.long) for t in self.node_types
        }

    def sample(self, seeds: Tensor, seed_type: str) -> Any:
        from torch_geometric.sampler import HeteroSamplerOutput

        local = self._local
        empty = torch.empty(0, dtype=torch.long)
        nodes: dict[str, list[Tensor]] = {t: [] for t in self.node_types}
        total = dict.fromkeys(self.node_types, 0)
        frontier = {t: empty for t in self.node_types}
        nodes[seed_type].append(seeds)
        local[seed_type][seeds] = torch.arange(seeds.numel())
        total[seed_type] = seeds.numel()
        frontier[seed_type] = seeds
        num_nodes = {t: [total[t]] for t in self.node_types}
        rows: dict[Any, list[Tensor]] = {e: [] for e in self.edge_types}
        cols: dict[Any, list[Tensor]] = {e: [] for e in self.edge_types}
        edges: dict[Any, list[Tensor]] = {e: [] for e in self.edge_types}
        num_edges: dict[Any, list[int]] = {e: [] for e in self.edge_types}
        try:
            for hop in range(self.hops):
                reached: dict[str, list[Tensor]] = {t: [] for t in self.node_types}
                for edge_type in self.edge_types:
                    src_type, _, dst_type = edge_type
                    targets = frontier[dst_type]
                    colptr, row, edge_id = self.csc[edge_type]
                    start = colptr[targets]
                    degree = colptr[targets + 1] - start
                    fanout = self.fan_outs[edge_type][hop]
                    k = int(degree.max()) if fanout < 0 and degree.numel() else fanout
                    owner, offset = sample_without_replacement(degree, max(k, 0))
                    position = start[owner] + offset
                    neighbour = row[position]
                    reached[src_type].append(neighbour)
                    # Sources get their local ids once every edge type of this hop is drawn.
                    rows[edge_type].append(neighbour)
                    cols[edge_type].append(local[dst_type][targets[owner]])
                    edges[edge_type].append(edge_id[position])
                    num_edges[edge_type].append(position.numel())
                for t in self.node_types:
                    found = torch.cat(reached[t]) if reached[t] else empty
                    new = found[local[t][found] < 0].unique()
                    local[t][new] = torch.arange(total[t], total[t] + new.numel())
                    total[t] += new.numel()
                    nodes[t].append(new)
                    num_nodes[t].append(new.numel())
                    frontier[t] = new
                for edge_type in self.edge_types:  # this hop's sources, now numbered
                    rows[edge_type][-1] = local[edge_type[0]][rows[edge_type][-1]]
        finally:
            node = {t: torch.cat(parts) if parts else empty for t, parts in nodes.items()}
            for t, ids in node.items():
                local[t][ids] = -1
        return HeteroSamplerOutput(
            node=node,
            row={e: torch.cat(v) if v else empty for e, v in rows.items()},
            col={e: torch.cat(v) if v else empty for e, v in cols.items()},
            edge={e: torch.cat(v) if v else empty for e, v in edges.items()},
            num_sampled_nodes=num_nodes,
            num_sampled_edges=num_edges,
        )

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs: Any) -> Any:
        out = self.sample(index.node, str(index.input_type))
        out.metadata = (index.input_id, index.time)
        return out

    def sample_from_edges(self, index: Any, neg_sampling: Any = None) -> Any:
        raise NotImplementedError("TorchHeteroNeighborSampler samples around seed nodes only")


def hetero_neighbor_loader(
    data: Any,
    node_type: str,
    input_nodes: Tensor,
    fan_outs: dict[tuple[str, str, str], list[int]],
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
) -> Any:
    """A PyG loader of sampled typed subgraphs around the ``node_type`` nodes ``input_nodes``
    (mask or indices), with a fan-out per edge type and hop (ours: pure torch)."""
    from torch_geometric.loader import NodeLoader

    return NodeLoader(
        data,
        node_sampler=TorchHeteroNeighborSampler(data, fan_outs),
        input_nodes=(node_type, input_nodes),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
    )
