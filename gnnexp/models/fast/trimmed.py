"""Full-graph passes trimmed to their targets: a training step needs only the training
nodes' outputs, and those only the nodes within ``num_layers`` hops. Exact for layers that
read each node and its in-neighbours only, on adjacencies whose values were computed on
the whole graph (the fast layouts' CSR adjacencies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gnnexp.models.fast.sparse import csr, entry_rows
from gnnexp.models.layout import Layout

if TYPE_CHECKING:
    from gnnexp.models.archs import GNNSpec


def trimmed_layers(spec: GNNSpec | None, layout: Layout) -> int:
    """How many layers a full-graph pass trims to what the loss's (or the metric's) nodes
    need (:func:`per_layer_inputs`), 0 for none: all of them for a built-in architecture
    whose nodes' outputs depend only on their neighbourhoods, on a CSR adjacency whose
    values were computed on the whole graph (GCN's normalisation, the means' in-degrees,
    GAT's self-loops)."""
    if spec is not None and spec.rows_independent() and layout.adjacency in CSR_ADJACENCIES:
        return spec.num_layers
    return 0


CSR_ADJACENCIES = ("gcn", "attention", "csr", "mean")
# A pass whose first layer would read more than this share of the nodes keeps the full
# inputs: trimming would copy nearly the whole graph (features and one adjacency per
# layer) to save little.
TRIM_AT_MOST = 0.9


def hop_order(adj: Tensor, targets: Tensor, layers: int) -> tuple[Tensor, list[int]]:
    """The nodes within ``layers`` hops of ``targets`` over the CSR adjacency ``adj`` (rows
    take messages from their columns), nearest first and the targets first, in their order;
    and how many lie within 0, 1, ... ``layers`` hops (each count a prefix of the nodes)."""
    crow, col = adj.crow_indices().long(), adj.col_indices().long()
    rows = entry_rows(crow)
    reached = torch.zeros(adj.size(0), dtype=torch.bool, device=adj.device)
    reached[targets] = True
    order, counts = [targets], [targets.numel()]
    for _ in range(layers):
        new = torch.zeros_like(reached)
        new[col[reached[rows]]] = True  # every source of a row reached so far
        new &= ~reached
        order.append(new.nonzero().view(-1))
        reached |= new
        counts.append(counts[-1] + order[-1].numel())
    return torch.cat(order), counts


def per_layer_inputs(
    x: Tensor, adj: Tensor, targets: Tensor, layers: int, sparse: bool
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The inputs of a ``layers``-layer pass that computes ``targets``' outputs and nothing
    the targets do not need, as PyG's ``trim_to_layer`` does for sampled batches.

    The nodes within ``layers`` hops of the targets are renumbered nearest first
    (:func:`hop_order`), so the nodes a layer must compute are a prefix of those it reads.
    Returns their features (``x``'s rows; CSR when ``sparse``) and, for each layer, a square
    adjacency over the nodes it reads: the rows of the nodes the next layer reads are
    ``adj``'s own (values kept, so normalisations computed on the whole graph hold), the
    other rows are empty. The model's output rows ``[:len(targets)]`` are the targets'.
    """
    return _inputs(x, adj, *hop_order(adj, targets, layers), sparse)


def trimmed_inputs(
    x: Tensor, adj: Tensor, targets: Tensor, layers: int, sparse: bool
) -> tuple[Tensor, tuple[Tensor, ...]] | None:
    """:func:`per_layer_inputs`, or None when its first layer would read more than
    ``TRIM_AT_MOST`` of the nodes (decided before any copy is made)."""
    nodes, counts = hop_order(adj, targets, layers)
    if counts[-1] > TRIM_AT_MOST * adj.size(0):
        return None
    return _inputs(x, adj, nodes, counts, sparse)


def _inputs(
    x: Tensor, adj: Tensor, nodes: Tensor, counts: list[int], sparse: bool
) -> tuple[Tensor, tuple[Tensor, ...]]:
    crow, col, values = adj.crow_indices().long(), adj.col_indices().long(), adj.values()
    n, layers, index_dtype = adj.size(0), len(counts) - 1, adj.crow_indices().dtype
    renumber = torch.full((n,), -1, dtype=torch.long, device=adj.device)
    renumber[nodes] = torch.arange(nodes.numel(), device=adj.device)
    adjacencies = []
    for layer in range(layers):
        size, computed = counts[layers - layer], counts[layers - 1 - layer]
        kept = nodes[:computed]
        degree = crow[kept + 1] - crow[kept]
        new_crow = torch.zeros(size + 1, dtype=torch.long, device=adj.device)
        new_crow[1 : computed + 1] = torch.cumsum(degree, 0)
        new_crow[computed + 1 :] = new_crow[computed]
        first = torch.repeat_interleave(crow[kept] - new_crow[:computed], degree)
        entries = first + torch.arange(int(new_crow[-1]), device=adj.device)
        new_row = entry_rows(new_crow)
        new_col = renumber[col[entries]]
        # Columns ascending within each row, as in a CSR matrix built from scratch.
        sort = torch.argsort(new_row * size + new_col)
        adjacencies.append(
            torch.sparse_csr_tensor(
                new_crow.to(index_dtype), new_col[sort].to(index_dtype), values[entries][sort], (size, size)
            )
        )
    features = x.index_select(0, nodes)
    return (csr(features) if sparse else features, tuple(adjacencies))
