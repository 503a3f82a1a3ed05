"""SAGE and GIN convolutions that run their first linear map before aggregating.

Mean and sum aggregation are linear, so aggregating and then projecting equals projecting
and then aggregating (``A (X W) = (A X) W``). PyG's ``SAGEConv`` and ``GINConv`` aggregate
their input first, which on bag-of-words features means averaging 1,433 or 3,703 dense
columns over every edge; projecting first aggregates only the 64 (or fewer) output
columns, and the projection itself is a sparse-dense product on CSR features. The
modules keep PyG's parameters and state-dict keys, so checkpoints move freely between
these and PyG's classes; max aggregation does not commute with a linear map and keeps
PyG's order. Used only in the fast layouts (``layout.reorder``); the plain path is PyG's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn import GINConv, SAGEConv
from torch_geometric.nn.dense.linear import Linear as PyGLinear

from gnnexp.models.fast.sparse import csr_matmul, is_csr

LINEAR_AGGREGATIONS = ("mean", "sum", "add")


def _project(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight.T`` for dense or CSR ``x``."""
    return csr_matmul(x, weight.t()) if is_csr(x) else x @ weight.t()


def _aggregate(adj_t: Tensor, x: Tensor) -> Tensor:
    """``adj_t @ x`` for a CSR adjacency whose values already hold the aggregation's
    weights (ones for sum, 1/in-degree for mean)."""
    return csr_matmul(adj_t, x.contiguous())


class ReorderedSAGEConv(SAGEConv):
    """PyG's ``SAGEConv`` (mean or sum, no ``project``) projecting before aggregating when
    its output is narrower than its input or the input is CSR; both projections (neighbours'
    and root's) are one product. ``mean_adjacency``: a CSR adjacency given to it is already
    row-normalised (``sparse.mean_adjacency``), so mean aggregation is one sparse product."""

    def __init__(self, in_channels: int, out_channels: int, aggr: str, mean_adjacency: bool) -> None:
        super().__init__(in_channels, out_channels, aggr=aggr)
        self.reorder = aggr in LINEAR_AGGREGATIONS and in_channels > out_channels
        self.mean_adjacency = mean_adjacency

    def forward(self, x: Any, edge_index: Any, size: Any = None) -> Tensor:
        linear = self.aggr in LINEAR_AGGREGATIONS and not self.project and not self.normalize
        if not linear or not isinstance(x, Tensor) or not (self.reorder or is_csr(x)):
            return super().forward(x, edge_index, size)
        weight = torch.cat([self.lin_l.weight, self.lin_r.weight]) if self.root_weight else self.lin_l.weight
        h = _project(x, weight)
        width = self.out_channels
        neighbours = h[:, :width]
        out = self.propagate(edge_index, x=(neighbours, neighbours), size=size)
        if self.lin_l.bias is not None:
            out = out + self.lin_l.bias
        return out + h[: out.size(0), width:] if self.root_weight else out

    def message_and_aggregate(self, adj_t: Any, x: Any) -> Tensor:
        if is_csr(adj_t) and (self.aggr in ("sum", "add") or (self.aggr == "mean" and self.mean_adjacency)):
            return _aggregate(adj_t, x[0])
        return super().message_and_aggregate(adj_t, x)


class BiasOnly(PyGLinear):
    """The first linear layer of a reordered GIN's MLP: the conv applied its weight before
    aggregating, so here only the bias remains (same parameters and keys as ``Linear``)."""

    def forward(self, x: Tensor) -> Tensor:
        return x if self.bias is None else x + self.bias


class ReorderedGINConv(GINConv):
    """PyG's ``GINConv`` whose MLP's first linear map runs before the (sum) aggregation:
    ``W((1 + eps) x + A x) = (1 + eps) x W + A x W``, the bias added once afterwards by the
    MLP's first layer, a :class:`BiasOnly` (``GIN.update_mlp(..., bias_only_first=True)``)."""

    def __init__(self, nn: Any, train_eps: bool, in_channels: int, out_channels: int) -> None:
        if not isinstance(nn.lins[0], BiasOnly):
            raise TypeError("ReorderedGINConv needs an MLP whose first layer is BiasOnly")
        super().__init__(nn, train_eps=train_eps)
        self.reorder = in_channels > out_channels

    def forward(self, x: Any, edge_index: Any, size: Any = None) -> Tensor:
        weight = self.nn.lins[0].weight
        if isinstance(x, Tensor) and (self.reorder or is_csr(x)):
            h = _project(x, weight)
            out = self.propagate(edge_index, x=(h, h), size=size)
            out = out + (1 + self.eps) * h[: out.size(0)]
        else:
            x = (x, x) if isinstance(x, Tensor) else x
            out = self.propagate(edge_index, x=x, size=size)
            if x[1] is not None:
                out = out + (1 + self.eps) * x[1]
            out = _project(out, weight)
        return self.nn(out)

    def message_and_aggregate(self, adj_t: Any, x: Any) -> Tensor:
        if is_csr(adj_t):
            return _aggregate(adj_t, x[0])
        return super().message_and_aggregate(adj_t, x)
