"""Exact fast paths for full-graph training (``trainer.fast_paths``, on by default).

Each one computes the same function, with the same distribution of dropout masks, as the
plain path; only the data layout changes:

- Sparse input features (bag-of-words citation graphs are ~1% non-zero) are kept as a CSR
  matrix. Dropout then draws masks for the stored values only (dropping a zero is a no-op),
  and the first layer's product is a sparse-dense product whose backward reuses a cached
  transpose instead of re-sorting the indices every step.
- The adjacency is given in the layout each layer is fastest on: a CSR matrix with the GCN
  normalisation computed once (transductive graphs do not change), a plain CSR matrix for
  sum/mean aggregators, the edge list for attention. GCN's sparse product also reuses a
  cached transpose in its backward.
- Dropout masks are drawn as ``uniform >= p`` rather than with ``torch.bernoulli``, which
  is three times slower on CPU; both keep each entry with probability ``1 - p``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GCNConv
from torch_geometric.nn.dense.linear import Linear as PyGLinear

from gnnexp.models.layout import PLAIN, Layout

if TYPE_CHECKING:
    from gnnexp.models.archs import ModelSpec

# Features denser than this stay dense: the sparse product stops paying off.
MAX_SPARSE_DENSITY = 0.1


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
    return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape)


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


class PatternCache:
    """Structures derived from a CSR pattern, kept for the few patterns a model meets (the
    full graph's, and the training and evaluation nodes' per-layer adjacencies); keyed by
    the index tensors' storage, which the task holds for the whole run."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: dict[tuple[int, ...], Any] = {}

    def get(self, x: Tensor, make: Callable[[], Any], *extra: int) -> Any:
        key = (x.crow_indices().data_ptr(), x.col_indices().data_ptr(), x.values().numel(), *x.shape, *extra)
        if key not in self._items:
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = make()
        return self._items[key]


class CSRMatmul:
    """``x @ w`` for CSR matrices ``x`` that keep their pattern from call to call.

    torch's own backward re-sorts the indices of ``x.T`` on every step; here the transpose
    is computed once per pattern and its values gathered by a permutation.
    """

    def __init__(self) -> None:
        self._transposes = PatternCache()

    @torch.compiler.disable
    def __call__(self, x: Tensor, w: Tensor) -> Tensor:
        return _CSRMatmul.apply(x, w, *self._transposes.get(x, lambda: transpose_pattern(x)))


class SparseAwareLinear(PyGLinear):
    """PyG's ``Linear`` that also takes a CSR input (same parameters, same state dict)."""

    _matmul: CSRMatmul | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not is_csr(x):
            return super().forward(x)
        out = self.project(x, self.weight)
        return out if self.bias is None else out + self.bias

    def project(self, x: Tensor, weight: Tensor) -> Tensor:
        """``x @ weight.T`` for dense or CSR ``x``, with a weight derived from this layer's
        (the CSR transpose is cached here, per input pattern)."""
        if not is_csr(x):
            return F.linear(x, weight)
        if self._matmul is None:
            self._matmul = CSRMatmul()
        return self._matmul(x, weight.t())


class FastGCNConv(GCNConv):
    """PyG's ``GCNConv`` whose sparse aggregation reuses a cached transpose in backward."""

    _matmul: CSRMatmul | None = None

    def message_and_aggregate(self, adj_t: Any, x: Tensor) -> Tensor:
        if not is_csr(adj_t) or self.aggr != "add":
            return super().message_and_aggregate(adj_t, x)
        if self._matmul is None:
            self._matmul = CSRMatmul()
        return self._matmul(adj_t, x)


def make_sparse_aware(conv: torch.nn.Module) -> None:
    """Let the input projections of ``conv`` take CSR features (in place, keys unchanged)."""
    for module in conv.modules():
        if type(module) is PyGLinear:
            module.__class__ = SparseAwareLinear


def _ones(edge_index: Tensor) -> Tensor:
    """Edge weights of one: a repeated edge then sums to its count in the CSR matrix, as the
    edge list counts it (without weights PyG's conversion keeps one copy)."""
    return torch.ones(edge_index.size(1), device=edge_index.device)


def gcn_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The GCN-normalised adjacency with self-loops, as a CSR matrix (rows are targets)."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import to_torch_csr_tensor

    adj_t = to_torch_csr_tensor(edge_index.flip(0), _ones(edge_index), size=(num_nodes, num_nodes))
    return csr(gcn_norm(adj_t, num_nodes=num_nodes, add_self_loops=True)[0])


def choose_layout(spec: ModelSpec | None, x: Tensor, allowed: bool, edge_dim: int | None = None) -> Layout:
    """The fastest exact layout for a built-in architecture on a fixed graph.

    ``spec`` is None for a user's own class (always plain); ``allowed`` is false when the
    run turned the fast layouts off, samples mini-batches, or uses mixed precision (torch's
    CPU sparse kernels take float32 only). With ``edge_dim`` (edge features the model
    takes) the edges stay a list, aligned with their features.
    """
    from gnnexp.models.archs import GNNSpec

    if not allowed or not isinstance(spec, GNNSpec):
        return PLAIN if edge_dim is None else Layout(edge_dim=edge_dim)
    sparse = (
        spec.takes_sparse_input()
        and x.numel() > 0
        and int(torch.count_nonzero(x)) <= MAX_SPARSE_DENSITY * x.numel()
    )
    # DropEdge samples the edge list; edge features belong to it.
    adjacency = "coo" if spec.drop_edge > 0 or edge_dim is not None else spec.preferred_adjacency()
    return Layout(
        sparse_features=sparse,
        adjacency=adjacency,
        uniform_dropout=True,
        edge_dim=edge_dim,
        reorder=True,
    )


def sampled_layout(spec: ModelSpec | None, allowed: bool) -> Layout:
    """The layout for neighbour-sampled mini-batches: edge lists and dense features as the
    loader makes them; linear maps reordered; and each layer trimmed to the nodes later
    layers need, where that keeps the seeds' outputs (``GNNSpec.trims_exactly``)."""
    from gnnexp.models.archs import GNNSpec

    if not allowed or not isinstance(spec, GNNSpec):
        return PLAIN
    return Layout(uniform_dropout=True, reorder=True, trim=spec.trims_exactly())


def prepare(
    x: Tensor, edge_index: Tensor, num_nodes: int, layout: Layout, edge_attr: Tensor | None = None
) -> tuple[Tensor, ...]:
    """Features and adjacency of a fixed graph in ``layout`` (new tensors; nothing is changed),
    and the edge features when the layout has them."""
    if layout.sparse_features:
        x = csr(x)
    if layout.edge_dim is not None:
        assert edge_attr is not None
        return x, edge_index, edge_attr
    if layout.adjacency == "gcn":
        return x, gcn_adjacency(edge_index, num_nodes)
    if layout.adjacency == "attention":
        from gnnexp.models.fast.attention import attention_adjacency

        return x, attention_adjacency(edge_index, num_nodes)
    if layout.adjacency in ("csr", "mean"):
        from torch_geometric.utils import to_torch_csr_tensor

        adj_t = csr(to_torch_csr_tensor(edge_index.flip(0), _ones(edge_index), size=(num_nodes, num_nodes)))
        return x, mean_adjacency(adj_t) if layout.adjacency == "mean" else adj_t
    return x, edge_index


def mean_adjacency(adj_t: Tensor) -> Tensor:
    """``adj_t`` with each row divided by its sum, the node's in-degree counting repeated
    edges (a node without in-edges keeps an empty row: its mean is 0, as in PyG)."""
    crow, values = adj_t.crow_indices(), adj_t.values()
    row = entry_rows(crow)
    degree = torch.zeros(adj_t.size(0), dtype=values.dtype, device=values.device).index_add_(0, row, values)
    return torch.sparse_csr_tensor(crow, adj_t.col_indices(), values / degree[row], adj_t.shape)
