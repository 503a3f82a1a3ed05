"""GraphSAGE on typed graphs, computed a node type at a time: what ``to_hetero(SAGE)`` computes.

``to_hetero`` copies each SAGEConv once per edge type and sums (or averages) the copies'
outputs per node type. Each copy applies its own root map and bias, so a node type that k
edge types reach is projected k times over all its nodes. The sum is linear:

    sum_e (A_e x_src(e) W_e + x_dst R_e + b_e) = sum_e A_e x_src(e) W_e + x_dst (sum_e R_e) + sum_e b_e

so :class:`TypedSAGE` applies one root map (the summed root weights) and one bias per node
type, and each neighbour term aggregates then projects, or projects then aggregates where the
output is narrower than the input (mean and sum commute with a linear map). Its modules are
``to_hetero``'s own (same parameters, same state-dict keys), so checkpoints move freely.

A pass may also compute only what its targets need (:func:`restricted`): a training step's
loss reads the target type's training nodes, which read their in-neighbours of every type
one layer down, and so on; each layer then computes only those nodes, over adjacencies cut
from the whole graph's (values kept, so means over whole neighbourhoods hold). Exact for
layers that read each node and its in-neighbours only, with per-node norms.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnexp.models.fast.sparse import csr, csr_matmul, entry_rows, is_csr, with_transpose

EdgeType = tuple[str, str, str]
# Per-layer inputs: one dict of adjacencies per layer (edge types absent from a layer's dict
# compute nothing there).
Edges = dict[EdgeType, Tensor] | tuple[dict[EdgeType, Tensor], ...]

# A restricted pass whose layers would compute more than this share of the full pass's rows
# runs in full: its copies of the adjacencies would cost memory for little saving.
TRIM_AT_MOST = 0.9


class TypedSAGE(torch.nn.Module):
    """``to_hetero`` of gnnexp's layer stack (dropout, convolution, then norm, activation and
    residual between layers; no jumping knowledge) for SAGEConv layers that aggregate by mean
    or sum, computed per node type. ``convs``, ``norms``, ``acts`` and ``dropout`` are
    ``to_hetero``'s module dicts; ``residual`` says which hidden layers add their input;
    ``aggr``: how a node type combines its edge types (``sum`` or ``mean``).

    ``forward(h, edges)``: ``edges`` maps each edge type to its CSR adjacency (rows: targets;
    values: the aggregation's weights, 1/in-degree for a mean) or edge list, or is a tuple of
    such dicts, one per layer, from :func:`restricted`. Edge lists run PyG's layers as
    ``to_hetero`` does (sampled batches)."""

    def __init__(
        self,
        convs: torch.nn.ModuleList,
        norms: torch.nn.ModuleList,
        acts: torch.nn.ModuleList,
        dropout: torch.nn.ModuleDict,
        residual: list[bool],
        aggr: str,
        edge_types: list[EdgeType],
    ) -> None:
        super().__init__()
        if aggr not in ("sum", "mean"):
            raise ValueError(f"TypedSAGE combines edge types by sum or mean, not {aggr}")
        self.convs, self.norms, self.acts, self.dropout = convs, norms, acts, dropout
        self.residual, self.aggr, self.edge_types = list(residual), aggr, list(edge_types)

    def forward(self, h: dict[str, Tensor], edges: Edges) -> dict[str, Tensor]:
        for i in range(len(self.convs)):
            layer = edges[i] if isinstance(edges, tuple) else edges
            types = [et for et in self.edge_types if et in layer]
            used = {t for s, _, d in types for t in (s, d)}
            x = {t: self.dropout[t](v) for t, v in h.items() if t in used}
            if all(is_csr(layer[et]) for et in types):
                out = self._typed_layer(i, x, layer, types)
            else:
                out = self._pyg_layer(i, x, layer, types)
            if i < len(self.norms):
                norms: Any = self.norms[i]
                acts: Any = self.acts[i]
                for t, v in out.items():
                    v = acts[t](norms[t](v))
                    out[t] = v + h[t][: v.size(0)] if self.residual[i] else v
            h = out
        return h

    def _typed_layer(
        self, i: int, x: dict[str, Tensor], layer: dict[EdgeType, Tensor], types: list[EdgeType]
    ) -> dict[str, Tensor]:
        convs: Any = self.convs[i]
        out = {}
        for dst in dict.fromkeys(d for _, _, d in types):
            incoming = [et for et in types if et[2] == dst]
            rows = layer[incoming[0]].size(0)
            roots, biases, total = [], [], None
            for et in incoming:
                conv, adj, src = convs["__".join(et)], layer[et], x[et[0]]
                if conv.in_channels > conv.out_channels:  # narrower after the map: project first
                    term = csr_matmul(adj, F.linear(src, conv.lin_l.weight))
                else:
                    term = F.linear(csr_matmul(adj, src), conv.lin_l.weight)
                total = term if total is None else total + term
                if conv.lin_l.bias is not None:
                    biases.append(conv.lin_l.bias)
                if conv.root_weight:
                    roots.append(conv.lin_r.weight)
            assert total is not None
            bias = _sum(biases) if biases else None
            if roots:
                total = total + F.linear(x[dst][:rows], _sum(roots), bias)
            elif bias is not None:
                total = total + bias
            out[dst] = total / len(incoming) if self.aggr == "mean" else total
        return out

    def _pyg_layer(
        self, i: int, x: dict[str, Tensor], layer: dict[EdgeType, Tensor], types: list[EdgeType]
    ) -> dict[str, Tensor]:
        """PyG's layers, edge type by edge type, as ``to_hetero`` calls them."""
        convs: Any = self.convs[i]
        outs: dict[str, list[Tensor]] = {}
        for et in types:
            src, _, dst = et
            inputs = x[src] if src == dst else (x[src], x[dst])
            outs.setdefault(dst, []).append(convs["__".join(et)](inputs, layer[et]))
        return {t: _sum(v) / len(v) if self.aggr == "mean" else _sum(v) for t, v in outs.items()}


def _sum(tensors: list[Tensor]) -> Tensor:
    """The sum of a non-empty list, in its order (as ``to_hetero`` adds its edge types)."""
    total = tensors[0]
    for t in tensors[1:]:
        total = total + t
    return total


def restricted(
    x_dict: dict[str, Tensor],
    adjacencies: dict[EdgeType, Tensor],
    target: str,
    nodes: Tensor,
    layers: int,
    sparse: set[str],
) -> tuple[dict[str, Tensor], tuple[dict[EdgeType, Tensor], ...], dict[str, Tensor]] | None:
    """The inputs ``(x_dict, per-layer edges, n_id_dict)`` of a pass of :class:`TypedSAGE`
    (behind a ``HeteroModel``) that computes the outputs of ``target``'s ``nodes`` (its first
    rows, in ``nodes``' order) and only what they need; None where that pass would compute
    nearly as much as the full one.

    ``x_dict``: dense features of the featured types (the others are embedded: ``n_id_dict``
    names the rows each type reads); ``adjacencies``: the full pass's CSR adjacencies;
    ``sparse``: the types whose features the full pass takes as CSR matrices.

    Each type's nodes are renumbered nearest first: those the last layer computes, then
    those the layer below adds, and so on, so the nodes a layer computes are a prefix of
    those it reads; layer i's adjacency of an edge type keeps the rows of the destinations
    it computes and the whole graph's values.
    """
    structure = {et: (adj.crow_indices().long(), adj.col_indices().long()) for et, adj in adjacencies.items()}
    device = nodes.device
    num = {t: adj.size(0) for (_, _, t), adj in adjacencies.items()}
    num.update({s: adj.size(1) for (s, _, _), adj in adjacencies.items()})
    # needed[i][t]: the nodes of type t that layer i computes (i = layers) or reads (below).
    order = {target: [nodes]}
    reached = {target: torch.zeros(num[target], dtype=torch.bool, device=device)}
    reached[target][nodes] = True
    counts: list[dict[str, int]] = [{target: nodes.numel()}]
    for _ in range(layers):
        computed = counts[-1]
        new = {t: torch.zeros_like(r) for t, r in reached.items()}
        for et in adjacencies:
            src, _, dst = et
            if dst not in computed:
                continue
            crow, col = structure[et]
            if src not in new:
                reached[src] = torch.zeros(num[src], dtype=torch.bool, device=device)
                new[src] = torch.zeros_like(reached[src])
                order[src] = []
            rows = entry_rows(crow)
            new[src][col[reached[dst][rows]]] = True  # every source of a destination computed
        for t, mask in new.items():
            mask &= ~reached[t]
            order[t].append(mask.nonzero().view(-1))
            reached[t] |= mask
        counts.append({t: sum(part.numel() for part in order[t]) for t in order})
    full = layers * sum(num[d] for d in {d for _, _, d in adjacencies})
    if sum(sum(c.values()) for c in counts[:-1]) > TRIM_AT_MOST * full:
        return None
    n_id = {t: torch.cat(parts) for t, parts in order.items()}
    renumber = {}
    for t, ids in n_id.items():
        renumber[t] = torch.full((num[t],), -1, dtype=torch.long, device=device)
        renumber[t][ids] = torch.arange(ids.numel(), device=device)
    per_layer = []
    for layer in range(layers):
        computed, read = counts[layers - layer - 1], counts[layers - layer]
        per_layer.append(
            {
                et: _cut(adj, structure[et], n_id[et[2]][: computed[et[2]]], renumber[et[0]], read[et[0]])
                for et, adj in adjacencies.items()
                if et[2] in computed
            }
        )
    features = {}
    for t, x in x_dict.items():
        if t in n_id:
            rows = x.index_select(0, n_id[t])
            features[t] = with_transpose(csr(rows)) if t in sparse else rows
    return features, tuple(per_layer), n_id


def _cut(
    adj: Tensor, structure: tuple[Tensor, Tensor], kept: Tensor, renumber: Tensor, columns: int
) -> Tensor:
    """The rows ``kept`` of the CSR ``adj`` (in that order), its columns renumbered by
    ``renumber`` into ``columns`` columns; with its transpose for the products' backward."""
    crow, col = structure
    degree = crow[kept + 1] - crow[kept]
    new_crow = torch.zeros(kept.numel() + 1, dtype=torch.long, device=adj.device)
    new_crow[1:] = torch.cumsum(degree, 0)
    first = torch.repeat_interleave(crow[kept] - new_crow[:-1], degree)
    entries = first + torch.arange(int(new_crow[-1]), device=adj.device)
    new_row, new_col = entry_rows(new_crow), renumber[col[entries]]
    sort = torch.argsort(new_row * columns + new_col)  # columns ascending within each row
    index_dtype = adj.crow_indices().dtype
    cut = torch.sparse_csr_tensor(
        new_crow.to(index_dtype),
        new_col[sort].to(index_dtype),
        adj.values()[entries][sort],
        (kept.numel(), columns),
    )
    return with_transpose(cut)
