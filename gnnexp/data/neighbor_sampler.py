"""Neighbour sampling in pure torch, plugged into PyG's ``NodeLoader``.

PyG's own ``NeighborSampler`` needs pyg-lib or torch-sparse, whose wheels often lag behind
new torch releases. :class:`TorchNeighborSampler` implements the same interface with
vectorised torch operations only: CSC row pointers, per-hop uniform sampling without
replacement, and relabelling, with no Python loop over nodes. Batches are ordinary PyG
``Data`` objects with ``n_id``, ``e_id`` and ``batch_size``, seed nodes first.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput

# Above this multiple of the fan-out, a node's neighbours are drawn by rejection rather
# than by sorting random keys over all of them (cost bounded by the fan-out, not degree).
_REJECTION_FACTOR = 4


def pyg_sampling_available() -> bool:
    """Whether PyG's compiled samplers (pyg-lib or torch-sparse) can be used."""
    import torch_geometric.typing as pyg_typing

    return bool(pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE)


def _segment_arange(counts: Tensor) -> tuple[Tensor, Tensor]:
    """For segments of the given lengths: the segment of each slot and its offset within it."""
    owner = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    starts = torch.cumsum(counts, 0) - counts
    return owner, torch.arange(owner.numel()) - starts[owner]


def sample_without_replacement(degree: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Uniformly choose ``min(degree[i], k)`` distinct offsets in ``[0, degree[i])`` per row i.

    Returns ``(owner, offset)``: the row each choice belongs to and the chosen offset.
    Rows with at most ``k`` neighbours take all of them; rows with a few more than ``k``
    sort random keys; rows with many more draw with rejection of duplicates. Each choice
    is uniform over the k-subsets (the procedure is invariant under relabelling offsets).
    """
    take_all = degree <= k
    sort_keys = ~take_all & (degree <= _REJECTION_FACTOR * k)
    reject = degree > _REJECTION_FACTOR * k
    owners, offsets = [], []

    rows = take_all.nonzero().view(-1)
    owner, offset = _segment_arange(degree[rows])
    owners.append(rows[owner])
    offsets.append(offset)

    rows = sort_keys.nonzero().view(-1)
    if rows.numel():
        owner, offset = _segment_arange(degree[rows])
        # The integer part orders by row, the random fraction shuffles within a row.
        order = torch.argsort(owner.double() + torch.rand(owner.numel(), dtype=torch.float64))
        owner, offset = owner[order], offset[order]
        starts = torch.cumsum(degree[rows], 0) - degree[rows]
        keep = torch.arange(owner.numel()) - starts[owner] < k
        owners.append(rows[owner[keep]])
        offsets.append(offset[keep])

    rows = reject.nonzero().view(-1)
    if rows.numel():
        owner = torch.arange(rows.numel()).repeat_interleave(k)
        deg = degree[rows][owner]
        offset = (torch.rand(owner.numel()) * deg).long()
        span = int(degree.max()) + 1
        while True:
            code = owner * span + offset
            sorted_code, order = code.sort()
            dup = torch.zeros_like(code, dtype=torch.bool)
            dup[order[1:]] = sorted_code[1:] == sorted_code[:-1]
            if not bool(dup.any()):
                break
            offset[dup] = (torch.rand(int(dup.sum())) * deg[dup]).long()
        owners.append(rows[owner])
        offsets.append(offset)

    return torch.cat(owners), torch.cat(offsets)


class TorchNeighborSampler(BaseSampler):
    """Uniform k-hop neighbour sampling without replacement, vectorised in torch.

    Like PyG's ``NeighborSampler`` (directional, not disjoint): hop h expands the nodes
    first reached at hop h-1 by up to ``num_neighbors[h]`` of their in-neighbours
    (``-1``: all); a node reached twice is kept once.
    """

    def __init__(self, data: Data, num_neighbors: list[int]) -> None:
        num_nodes = int(data.num_nodes)
        src, dst = data.edge_index
        order = torch.argsort(dst, stable=True)  # CSC: incoming edges grouped by target
        self.colptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        self.colptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_nodes), 0)
        self.row = src[order]
        self.edge_id = order
        self.num_neighbors = list(num_neighbors)
        # Global -> local id of the current batch; reset after each batch, so its size
        # (and the work per batch) never depends on anything but the batch.
        self._local = torch.full((num_nodes,), -1, dtype=torch.long)

    def sample(self, seeds: Tensor) -> SamplerOutput:
        """The sampled subgraph around ``seeds`` (which come first in ``node``)."""
        local = self._local
        nodes = [seeds]
        local[seeds] = torch.arange(seeds.numel())
        frontier, total = seeds, seeds.numel()
        rows, cols, edges, num_nodes, num_edges = [], [], [], [seeds.numel()], []
        try:
            for fanout in self.num_neighbors:
                start = self.colptr[frontier]
                degree = self.colptr[frontier + 1] - start
                k = int(degree.max()) if fanout < 0 and degree.numel() else fanout
                owner, offset = sample_without_replacement(degree, max(k, 0))
                position = start[owner] + offset
                neighbour = self.row[position]
                new = neighbour[local[neighbour] < 0].unique()
                local[new] = torch.arange(total, total + new.numel())
                total += new.numel()
                rows.append(local[neighbour])
                cols.append(local[frontier[owner]])
                edges.append(self.edge_id[position])
                nodes.append(new)
                num_nodes.append(new.numel())
                num_edges.append(position.numel())
                frontier = new
        finally:
            node = torch.cat(nodes)
            local[node] = -1
        return SamplerOutput(
            node=node,
            row=torch.cat(rows),
            col=torch.cat(cols),
            edge=torch.cat(edges),
            num_sampled_nodes=num_nodes,
            num_sampled_edges=num_edges,
        )

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs: Any) -> SamplerOutput:
        out = self.sample(index.node)
        out.metadata = (index.input_id, index.time)
        return out

    def sample_from_edges(self, index: Any, neg_sampling: Any = None) -> SamplerOutput:
        raise NotImplementedError("TorchNeighborSampler samples around seed nodes only")


def neighbor_loader(
    data: Data,
    input_nodes: Tensor,
    num_neighbors: list[int],
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
    backend: str = "auto",
) -> Any:
    """A PyG loader of sampled subgraphs around ``input_nodes`` (mask or indices).

    ``backend``: ``pyg`` (PyG's ``NeighborLoader``, needs pyg-lib or torch-sparse),
    ``torch`` (ours) or ``auto`` (PyG's when available, else ours).
    """
    from torch_geometric.loader import NeighborLoader, NodeLoader

    from gnnexp.errors import ConfigError

    use_pyg = backend == "pyg" or (backend == "auto" and pyg_sampling_available())
    if use_pyg:
        if not pyg_sampling_available():
            raise ConfigError(
                "loader.backend=pyg needs pyg-lib or torch-sparse, and neither is installed.",
                "use loader.backend=torch (pure-torch sampler) or loader.backend=auto.",
            )
        return NeighborLoader(
            data,
            num_neighbors=num_neighbors,
            input_nodes=input_nodes,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=num_workers,
        )
    return NodeLoader(
        data,
        node_sampler=TorchNeighborSampler(data, num_neighbors),
        input_nodes=input_nodes,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
    )
