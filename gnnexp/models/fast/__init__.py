"""The exact fast paths, entered through one function: :func:`fast_forward`.

Given the model's declared architecture and the graph a run passes over, it chooses the
data layout the model is built for (``gnnexp.models.layout``) and lays the graph out in it:
CSR features and adjacencies with their transposes and attention patterns, made once, here,
and held by the tensors they describe. The layers that run on these layouts (``sparse``,
``attention``, ``reordered``) compute what PyG's do, with the same parameters; the tests
check outputs and gradients against the plain path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gnnexp.models.fast import trimmed
from gnnexp.models.fast.attention import attention_adjacency, with_patterns
from gnnexp.models.fast.sparse import csr, edge_ones, gcn_adjacency, mean_adjacency, with_transpose
from gnnexp.models.layout import PLAIN, Layout

if TYPE_CHECKING:
    from torch_geometric.data import Data

    from gnnexp.models.archs import GNNSpec

# Features denser than this stay dense: the sparse product stops paying off.
MAX_SPARSE_DENSITY = 0.1


class FastForward:
    """What a task needs to run a model on the fast paths: the ``layout`` to build the model
    for, the arguments of a pass over the whole graph (``inputs``), and of passes that
    compute only some nodes (:meth:`restricted`) or a sampled batch (:meth:`batch_args`)."""

    def __init__(self, spec: GNNSpec | None, layout: Layout, graph: Data | None) -> None:
        self.spec = spec
        self.layout = layout
        self.features = None if graph is None else graph.x  # dense, as the dataset gives them
        self.inputs: tuple[Tensor, ...] = () if graph is None else self._lay_out(graph)
        # How many layers a pass over part of the graph trims (0: passes are not trimmed).
        self.trimmed_layers = trimmed.trimmed_layers(spec, layout) if graph is not None else 0

    def _lay_out(self, graph: Data) -> tuple[Tensor, ...]:
        """The graph's features and adjacency in the layout (new tensors; the graph is not
        changed), and its edge features when the layout has them."""
        layout, x, edge_index, n = self.layout, graph.x, graph.edge_index, graph.num_nodes
        if layout.sparse_features:
            x = with_transpose(csr(x))
        if layout.edge_dim is not None:
            edge_attr = graph.edge_attr
            return x, edge_index, edge_attr.view(edge_attr.size(0), -1).float()
        if layout.adjacency == "gcn":
            return x, self._own(gcn_adjacency(edge_index, n))
        if layout.adjacency == "attention":
            return x, self._own(attention_adjacency(edge_index, n))
        if layout.adjacency in ("csr", "mean"):
            from torch_geometric.utils import to_torch_csr_tensor

            adj_t = csr(to_torch_csr_tensor(edge_index.flip(0), edge_ones(edge_index), size=(n, n)))
            return x, self._own(mean_adjacency(adj_t) if layout.adjacency == "mean" else adj_t)
        return x, edge_index

    def _own(self, adj: Tensor) -> Tensor:
        """``adj`` (a CSR adjacency, fixed for the run) holding what its products need: the
        attention patterns for the model's numbers of heads, or its transpose."""
        if self.layout.adjacency == "attention":
            # A hidden layer's heads, and the output layer's (GAT's out_heads).
            heads = {getattr(self.spec, "heads", 1), getattr(self.spec, "out_heads", 1)}
            return with_patterns(adj, heads)
        return with_transpose(adj)

    def restricted(self, nodes: Tensor) -> tuple[Tensor, tuple[Tensor, ...]] | None:
        """The arguments of a pass that computes the outputs of ``nodes`` (its first rows)
        and little else: one adjacency per layer, over the nodes that layer still needs
        (``trimmed.per_layer_inputs``). None where the model does not allow it, or the pass
        would read nearly the whole graph (its copies would cost memory for little saving)."""
        if not self.trimmed_layers:
            return None
        assert self.features is not None
        adj, sparse = self.inputs[1], self.layout.sparse_features
        found = trimmed.trimmed_inputs(self.features, adj, nodes, self.trimmed_layers, sparse)
        if found is None:
            return None
        features, adjacencies = found
        if sparse:
            features = with_transpose(features)
        return features, tuple(self._own(a) for a in adjacencies)

    def batch_args(self, batch: Data) -> dict[str, object]:
        """Keyword arguments of a pass over a neighbour-sampled ``batch`` besides its features
        and edges: its nodes and edges per hop, where the model trims its layers to them."""
        if not self.layout.trim:
            return {}
        return {"hops": (list(batch.num_sampled_nodes), list(batch.num_sampled_edges))}


def fast_forward(
    spec: GNNSpec | None,
    graph: Data | None,
    *,
    enabled: bool = True,
    sampled: bool = False,
    edge_dim: int | None = None,
) -> FastForward:
    """How to run the model ``spec`` declares on ``graph``: the layout to build it for and the
    arguments of its passes (see :class:`FastForward`).

    ``spec``: the declared architecture, None for a user's own class (run as given);
    ``graph``: the fixed graph every pass runs on (its ``x``, ``edge_index``, ``num_nodes``
    and, with ``edge_dim``, ``edge_attr``), or None for batches of whole small graphs;
    ``sampled``: passes run on neighbour-sampled batches of ``graph`` instead;
    ``edge_dim``: the width of the edge features the model takes (None: none);
    ``enabled``: false gives the plain path (``trainer.fast_paths=false``; mixed precision,
    as torch's CPU sparse kernels take float32 only).
    """
    plain = PLAIN if edge_dim is None else Layout(edge_dim=edge_dim)
    if graph is None:  # batches of small graphs: edge lists and dense features; linear maps move
        return FastForward(spec, Layout(edge_dim=edge_dim, reorder=enabled), None)
    if not enabled or spec is None:
        return FastForward(spec, plain, graph)
    if sampled:
        # Edge lists and dense features as the loader makes them; each layer trimmed to the
        # nodes later layers need, where that keeps the seeds' outputs.
        return FastForward(spec, Layout(uniform_dropout=True, reorder=True, trim=spec.trims_exactly()), graph)
    x = graph.x
    sparse = (
        spec.takes_sparse_input()
        and x.numel() > 0
        and int(torch.count_nonzero(x)) <= MAX_SPARSE_DENSITY * x.numel()
    )
    # DropEdge samples the edge list; edge features belong to it.
    adjacency = "coo" if spec.drop_edge > 0 or edge_dim is not None else spec.preferred_adjacency()
    layout = Layout(
        sparse_features=sparse, adjacency=adjacency, uniform_dropout=True, edge_dim=edge_dim, reorder=True
    )
    return FastForward(spec, layout, graph)


__all__ = ["FastForward", "fast_forward"]
