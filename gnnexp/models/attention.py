"""GAT's attention over a fixed graph as sparse products (the ``attention`` adjacency).

PyG's ``GATConv`` gathers every edge's source features (edges x heads x channels), scales
them by the attention coefficients and scatters them back with atomic-free but serial
``scatter_add``; on a CPU that is most of a GAT epoch. Here the graph's edges, self-loops
included, are kept in CSR order (rows are targets) once: the softmax runs over each row's
segment, and the weighted sum of the neighbours is one CSR product over all heads at once
(a block-diagonal matrix with one block per head), whose backward reuses a precomputed
transpose. Same function, same parameters as ``GATConv``; dropout on the coefficients
draws its mask over the same entries.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATConv

from gnnexp.models.fast import is_csr, transpose_pattern


def attention_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The edges with GAT's self-loops (existing ones removed, one per node added), as a CSR
    matrix of ones whose rows are targets; repeated edges stay separate entries, as GAT
    gives each its own coefficient."""
    src, dst = edge_index
    keep = src != dst
    nodes = torch.arange(num_nodes, device=edge_index.device)
    src, dst = torch.cat([src[keep], nodes]), torch.cat([dst[keep], nodes])
    order = torch.argsort(dst * num_nodes + src, stable=True)
    crow = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    crow[1:] = torch.cumsum(torch.bincount(dst, minlength=num_nodes), 0)
    ones = torch.ones(order.numel(), device=edge_index.device)
    return torch.sparse_csr_tensor(crow, src[order], ones, (num_nodes, num_nodes))


class _Pattern:
    """A CSR adjacency repeated once per head as a block-diagonal matrix, with each entry's
    row and the transpose's structure (computed once per adjacency)."""

    def __init__(self, adj: Tensor, heads: int) -> None:
        crow, col = adj.crow_indices().long(), adj.col_indices().long()
        n, e = adj.size(0), col.numel()
        self.crow, self.col = crow, col
        self.row = torch.repeat_interleave(torch.arange(n, device=crow.device), crow[1:] - crow[:-1])
        offsets = torch.arange(heads, device=crow.device)
        block_crow = torch.cat([crow[:-1] + h * e for h in range(heads)] + [crow[-1:] + (heads - 1) * e])
        self.block_crow = block_crow
        self.block_col = (col.view(1, -1) + (offsets * n).view(-1, 1)).reshape(-1)
        self.block_row = (self.row.view(1, -1) + (offsets * n).view(-1, 1)).reshape(-1)
        ones = torch.ones(heads * e, device=crow.device)
        block = torch.sparse_csr_tensor(self.block_crow, self.block_col, ones, (heads * n,) * 2)
        self.t_crow, self.t_col, self.perm = transpose_pattern(block)
        self.shape = (heads * n, heads * n)


class _BlockMatmul(torch.autograd.Function):
    """``B @ dense`` for the block matrix ``B`` of ``pattern`` holding ``values``; gradients
    for both ``values`` and ``dense``."""

    @staticmethod
    def forward(ctx: Any, values: Tensor, dense: Tensor, pattern: _Pattern) -> Tensor:
        ctx.save_for_backward(values, dense)
        ctx.pattern = pattern
        matrix = torch.sparse_csr_tensor(pattern.block_crow, pattern.block_col, values, pattern.shape)
        return torch.sparse.mm(matrix, dense)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        values, dense = ctx.saved_tensors
        p: _Pattern = ctx.pattern
        grad_values = grad_dense = None
        if ctx.needs_input_grad[0]:
            grad_values = (grad[p.block_row] * dense[p.block_col]).sum(-1)
        if ctx.needs_input_grad[1]:
            transposed = torch.sparse_csr_tensor(p.t_crow, p.t_col, values[p.perm], p.shape)
            grad_dense = torch.sparse.mm(transposed, grad.contiguous())
        return grad_values, grad_dense, None


class CSRGATConv(GATConv):
    """PyG's ``GATConv`` (no edge features, no residual) computed on an ``attention``
    adjacency (see :func:`attention_adjacency`); other inputs go to ``GATConv`` itself."""

    _pattern: _Pattern | None = None
    _key: tuple[int, int, int, int] | None = None

    # torch.compile cannot trace sparse CSR tensors: this runs eagerly inside a compiled model.
    @torch.compiler.disable
    def forward(self, x: Any, edge_index: Any, edge_attr: Any = None, **kwargs: Any) -> Any:
        if not is_csr(edge_index) or edge_attr is not None or kwargs or self.res is not None:
            return super().forward(x, edge_index, edge_attr, **kwargs)
        heads, channels = self.heads, self.out_channels
        key = (
            edge_index.crow_indices().data_ptr(),
            edge_index.col_indices().data_ptr(),
            edge_index.values().numel(),
            heads,
        )
        if self._key != key:
            self._key, self._pattern = key, _Pattern(edge_index, heads)
        p = self._pattern
        assert p is not None and self.lin is not None
        h = self.lin(x).view(-1, heads, channels)
        alpha_src = (h * self.att_src).sum(-1)
        alpha_dst = (h * self.att_dst).sum(-1)
        scores = F.leaky_relu(alpha_src[p.col] + alpha_dst[p.row], self.negative_slope)
        # Softmax over each target's entries, as PyG's softmax (its max shift and its 1e-16).
        offsets = p.crow
        top = torch.segment_reduce(scores.detach(), "max", offsets=offsets, axis=0)
        exp = (scores - top[p.row]).exp()
        total = torch.zeros_like(top).index_add_(0, p.row, exp)
        alpha = exp / (total[p.row] + 1e-16)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        n = h.size(0)
        dense = h.transpose(0, 1).reshape(heads * n, channels)
        out = _BlockMatmul.apply(alpha.t().reshape(-1), dense, p).view(heads, n, channels).transpose(0, 1)
        out = out.reshape(n, heads * channels) if self.concat else out.mean(dim=1)
        return out if self.bias is None else out + self.bias
