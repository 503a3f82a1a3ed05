"""Sparse operations of the fast layouts: CSR features and adjacencies, their products, dropout.

Every operation computes the same function, with the same distribution of dropout masks, as
the plain path; only the data layout changes:

- Sparse input features (bag-of-words citation graphs are ~1% non-zero) are kept as a CSR
  matrix. Dropout then draws masks for the stored values only (dropping a zero is a no-op),
  and the first layer's product is a sparse-dense product.
- An adjacency is a CSR matrix with GCN's normalisation computed once (transductive graphs
  do not change), or a plain CSR matrix for sum/mean aggregators.
- A CSR matrix of fixed pattern carries the structure of its transpose, computed when the
  matrix is made (:func:`with_transpose`): a product's backward reads it, where torch's own
  re-sorts the indices on every step.
- Dropout masks are drawn as ``uniform >= p`` rather than with ``torch.bernoulli``, which
  is three times slower on CPU; both keep each entry with probability ``1 - p``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GCNConv
from torch_geometric.nn.dense.linear import Linear as PyGLinear

# The attribute of a CSR tensor that holds its transpose's structure (see ``with_transpose``).
TRANSPOSE = "gnnexp_transpose"


def is_csr(x: Any) -> bool:
    return isinstance(x, Tensor) and x.layout == torch.sparse_csr


def csr(x: Tensor) -> Tensor:
    """``x`` as a CSR matrix with 32-bit indices, which torch's sparse products take
    without converting them on every call."""
    x = x if is_csr(x) else x.to_sparse_csr()
    if x.values().numel() >= 2**31:
        return x
    return torch.sparse_csr_tensor(x.crow_indices().int(), x.col_indices().int(), x.values(), x.shape)


def _uniform_dropout(x: Tensor, p: float) -> Tensor:
    if p >= 1:
        return torch.zeros_like(x)
    # The mask and its scale in one float tensor, in place: no boolean tensor to convert.
    mask = torch.rand_like(x).ge_(p).mul_(1.0 / (1.0 - p))
    return x * mask


# torch.compile cannot trace sparse CSR tensors: these run eagerly inside a compiled model.
@torch.compiler.disable
def dropout(x: Tensor, p: float, training: bool, fast: bool = False) -> Tensor:
    """``F.dropout``; for a CSR matrix the mask covers its stored values only.

    ``fast`` draws the mask from uniform numbers (same distribution, cheaper on CPU).
    """
    if not training or p == 0:
        return x
    if not is_csr(x):
        return _uniform_dropout(x, p) if fast else F.dropout(x, p=p, training=True)
    values = _uniform_dropout(x.values(), p) if fast else F.dropout(x.values(), p=p, training=True)
    out = torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape)
    if hasattr(x, TRANSPOSE):  # the same pattern: the same transpose
        setattr(out, TRANSPOSE, getattr(x, TRANSPOSE))
    return out


class _CSRMatmul(torch.autograd.Function):
    """``x @ w`` for a constant-pattern CSR ``x``; the backward uses a precomputed transpose."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor, t_crow: Tensor, t_col: Tensor, perm: Tensor) -> Tensor:
        ctx.save_for_backward(x.values(), t_crow, t_col, perm)
        ctx.shape = x.shape
        return torch.sparse.mm(x, w)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor, None, None, None]:
        values, t_crow, t_col, perm = ctx.saved_tensors
        rows, cols = ctx.shape
        x_t = torch.sparse_csr_tensor(t_crow, t_col, values.index_select(0, perm), (cols, rows))
        return None, x_t @ grad, None, None, None


def entry_rows(crow: Tensor) -> Tensor:
    """The row of each stored entry of a CSR matrix with row pointers ``crow``."""
    crow = crow.long()
    return torch.repeat_interleave(torch.arange(crow.numel() - 1, device=crow.device), crow[1:] - crow[:-1])


def transpose_pattern(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """CSR structure of ``x.T`` and the permutation that maps ``x``'s values onto it."""
    crow, col = x.crow_indices().long(), x.col_indices().long()
    rows, cols = x.shape
    row = entry_rows(crow)
    perm = torch.argsort(col * rows + row)
    t_crow = torch.zeros(cols + 1, dtype=torch.long, device=crow.device)
    t_crow[1:] = torch.cumsum(torch.bincount(col, minlength=cols), 0)
    index_dtype = x.crow_indices().dtype
    return t_crow.to(index_dtype), row[perm].to(index_dtype), perm


def with_transpose(x: Tensor) -> Tensor:
    """``x`` (CSR) holding the structure of its transpose, for the backward of its products
    (:func:`csr_matmul`); computed here once, for a matrix whose pattern stays fixed."""
    setattr(x, TRANSPOSE, transpose_pattern(x))
    return x


# torch.compile cannot trace sparse CSR tensors: this runs eagerly inside a compiled model.
@torch.compiler.disable
def csr_matmul(x: Tensor, w: Tensor) -> Tensor:
    """``x @ w`` for a CSR ``x``, whose backward uses the transpose ``x`` holds (made now,
    for this call only, when ``x`` holds none)."""
    structure = getattr(x, TRANSPOSE, None) or transpose_pattern(x)
    return _CSRMatmul.apply(x, w, *structure)


class SparseAwareLinear(PyGLinear):
    """PyG's ``Linear`` that also takes a CSR input (same parameters, same state dict)."""

    def forward(self, x: Tensor) -> Tensor:
        if not is_csr(x):
            return super().forward(x)
        out = self.project(x, self.weight)
        return out if self.bias is None else out + self.bias

    def project(self, x: Tensor, weight: Tensor) -> Tensor:
        """``x @ weight.T`` for dense or CSR ``x``, with a weight derived from this layer's."""
        return csr_matmul(x, weight.t()) if is_csr(x) else F.linear(x, weight)


class FastGCNConv(GCNConv):
    """PyG's ``GCNConv`` whose sparse aggregation's backward uses the adjacency's transpose."""

    def message_and_aggregate(self, adj_t: Any, x: Tensor) -> Tensor:
        if not is_csr(adj_t) or self.aggr != "add":
            return super().message_and_aggregate(adj_t, x)
        return csr_matmul(adj_t, x)


def make_sparse_aware(conv: torch.nn.Module) -> None:
    """Let the input projections of ``conv`` take CSR features (in place, keys unchanged)."""
    for module in conv.modules():
        if type(module) is PyGLinear:
            module.__class__ = SparseAwareLinear


def edge_ones(edge_index: Tensor) -> Tensor:
    """Edge weights of one: a repeated edge then sums to its count in the CSR matrix, as the
    edge list counts it (without weights PyG's conversion keeps one copy)."""
    return torch.ones(edge_index.size(1), device=edge_index.device)


def gcn_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The GCN-normalised adjacency with self-loops, as a CSR matrix (rows are targets)."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import to_torch_csr_tensor

    adj_t = to_torch_csr_tensor(edge_index.flip(0), edge_ones(edge_index), size=(num_nodes, num_nodes))
    return csr(gcn_norm(adj_t, num_nodes=num_nodes, add_self_loops=True)[0])


def mean_adjacency(adj_t: Tensor) -> Tensor:
    """``adj_t`` with each row divided by its sum, the node's in-degree counting repeated
    edges (a node without in-edges keeps an empty row: its mean is 0, as in PyG)."""
    crow, values = adj_t.crow_indices(), adj_t.values()
    row = entry_rows(crow)
    degree = torch.zeros(adj_t.size(0), dtype=values.dtype, device=values.device).index_add_(0, row, values)
    return torch.sparse_csr_tensor(crow, adj_t.col_indices(), values / degree[row], adj_t.shape)
