"""What a typed-graph model reads: its inputs in the fast paths' layout (CSR adjacencies per
edge type, sparse features), which layers run as ``TypedSAGE``, and passes restricted to some
nodes."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from gnnexp.models.archs import GNNSpec, ModelSpec
from gnnexp.models.fast import sparse as fast
from gnnexp.models.layout import PLAIN, Layout

EdgeType = tuple[str, str, str]


def typed_layers(spec: ModelSpec | None, aggr: str, enabled: bool) -> int:
    """How many layers of ``spec`` on a typed graph run as ``gnnexp.models.fast.typed``'s
    ``TypedSAGE``, which also computes passes restricted to some nodes (0: none, the model
    is ``to_hetero``'s): GraphSAGE with mean or sum aggregation, per-node norms, no jumping
    knowledge, its edge types combined by sum or mean, on the fast paths."""
    from gnnexp.models.conv_archs import GraphSAGE

    if (
        enabled
        and isinstance(spec, GraphSAGE)
        and spec.preferred_adjacency() in ("csr", "mean")
        and spec.rows_independent()
        and spec.jk == "none"
        and aggr in ("sum", "mean")
    ):
        return int(spec.num_layers)
    return 0


# Features denser than this stay dense: the sparse product stops paying off.
MAX_SPARSE_DENSITY = 0.1


def hetero_layout(spec: ModelSpec | None, enabled: bool) -> Layout:
    """The layout of ``to_hetero``'s layers on the fast paths: for layers that aggregate by sum
    or mean, a CSR adjacency per edge type (row-normalised for a mean) and linear maps run
    before aggregating (``gnnexp.models.fast.reordered``); dropout masks from uniform numbers."""
    if not enabled or not isinstance(spec, GNNSpec):
        return PLAIN
    kind = spec.preferred_adjacency()
    if kind in ("csr", "mean"):
        return Layout(adjacency=kind, uniform_dropout=True, reorder=True)
    return Layout(uniform_dropout=True)


def sparse_types(graph: Any) -> set[str]:
    """The node types whose features the fast paths take as CSR matrices (sparse enough)."""
    return {
        t
        for t, x in graph.x_dict.items()
        if x.is_floating_point()
        and x.dim() == 2
        and x.numel()
        and float((x != 0).float().mean()) < MAX_SPARSE_DENSITY
    }


def restricted_inputs(
    graph: Any,
    inputs: tuple[dict[str, Tensor], dict[EdgeType, Tensor]],
    target: str,
    nodes: Tensor,
    layers: int,
) -> tuple[dict[str, Tensor], tuple[dict[EdgeType, Tensor], ...], dict[str, Tensor]] | None:
    """The arguments of a pass of a model with ``typed_layers`` = ``layers`` that computes the
    outputs of ``target``'s ``nodes`` (its first rows) and only what they need; ``inputs``:
    the full pass's (:func:`hetero_inputs`, CSR adjacencies). None where it would compute
    nearly as much as the full pass."""
    from gnnexp.models.fast.typed import restricted

    return restricted(dict(graph.x_dict), inputs[1], target, nodes, layers, sparse_types(graph))


def hetero_inputs(
    spec: ModelSpec | None, graph: Any, enabled: bool
) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor]]:
    """``(x_dict, edge_index_dict)`` of ``graph`` in the layout of :func:`hetero_layout`, and
    sparse features as CSR matrices (the encoders' products are then sparse). The model's
    parameters and outputs are those of the plain layout (edge lists, dense features)."""
    from torch_geometric.utils import to_torch_csr_tensor

    x_dict, edges = dict(graph.x_dict), dict(graph.edge_index_dict)
    if not enabled:
        return x_dict, edges
    for t in sparse_types(graph):
        x_dict[t] = fast.with_transpose(fast.csr(x_dict[t]))
    kind = hetero_layout(spec, enabled).adjacency
    if kind in ("csr", "mean"):
        for (src, rel, dst), edge_index in edges.items():
            size = (int(graph[dst].num_nodes), int(graph[src].num_nodes))
            adj_t = fast.csr(to_torch_csr_tensor(edge_index.flip(0), fast.edge_ones(edge_index), size=size))
            edges[(src, rel, dst)] = fast.with_transpose(
                fast.mean_adjacency(adj_t) if kind == "mean" else adj_t
            )
    return x_dict, edges
