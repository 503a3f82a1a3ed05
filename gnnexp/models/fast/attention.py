"""GAT's attention over a fixed graph as sparse products (the ``attention`` adjacency).

PyG's ``GATConv`` gathers every edge's source features (edges x heads x channels), scales
them by the attention coefficients and scatters them back with atomic-free but serial
``scatter_add``; on a CPU that is most of a GAT epoch. Here the graph's edges, self-loops
included, are kept in CSR order (rows are targets) once: the softmax runs over each row's
segment, and the weighted sum of the neighbours is one CSR product over all heads at once
(a block-diagonal matrix with one block per head), whose backward reuses a precomputed
transpose. Same function, same parameters as ``GATConv``; dropout on the coefficients
draws its mask over the same entries. These structures depend on the graph and the number
of heads only: the adjacency holds them, made with it (:func:`with_patterns`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATConv, GATv2Conv

from gnnexp.models.fast.sparse import SparseAwareLinear, dropout, entry_rows, is_csr, transpose_pattern


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
    """A CSR adjacency repeated once per head as one block matrix over (node, head) pairs:
    row ``i * heads + h`` holds node i's entries for head h, so the heads' features, a
    (nodes, heads, channels) tensor, are its dense operand without any transposition. With
    each entry's row and column and the transpose's structure (computed once)."""

    def __init__(self, adj: Tensor, heads: int) -> None:
        crow, col = adj.crow_indices().long(), adj.col_indices().long()
        n, e, device = adj.size(0), col.numel(), crow.device
        degree = crow[1:] - crow[:-1]
        row = entry_rows(crow)
        head = torch.arange(heads, device=device)
        # Entry k of node i for head h sits at crow[i] * heads + h * degree[i] + k.
        offset = torch.arange(e, device=device) - crow[row]
        position = (crow[row] * heads + offset).view(-1, 1) + head.view(1, -1) * degree[row].view(-1, 1)
        self.block_col = torch.empty(e * heads, dtype=torch.long, device=device)
        self.block_col[position.view(-1)] = (col.view(-1, 1) * heads + head.view(1, -1)).view(-1)
        self.block_row = torch.empty(e * heads, dtype=torch.long, device=device)
        self.block_row[position.view(-1)] = (row.view(-1, 1) * heads + head.view(1, -1)).view(-1)
        starts = (crow[:-1] * heads).repeat_interleave(heads) + head.repeat(n) * degree.repeat_interleave(
            heads
        )
        self.block_crow = torch.cat([starts, crow[-1:] * heads])
        self.shape = (heads * n, heads * n)
        # 32-bit copies for the sparse products, which would convert 64-bit ones every call.
        self.crow32, self.col32 = self.block_crow.int(), self.block_col.int()
        ones = torch.ones(heads * e, device=device)
        block = torch.sparse_csr_tensor(self.crow32, self.col32, ones, self.shape)
        self.t_crow, self.t_col, self.perm = transpose_pattern(block)
        # GATv2 scores each edge for all heads at once, gathering (edges, heads * channels)
        # rows: an eighth of the indices of a gather per (edge, head). ``to_block`` puts those
        # (edge, head) scores in block order and ``from_block`` takes them back (its backward).
        self.edge_src, self.edge_dst = col, row
        self.from_block = position.view(-1)
        self.to_block = torch.empty_like(self.from_block)
        self.to_block[self.from_block] = torch.arange(e * heads, device=device)
        # Gathering rows by edge is a product with a 0/1 matrix; its backward sums each
        # edge's gradient into its row, here as CSR products rather than a scatter.
        t_crow, _, perm = transpose_pattern(adj)
        edge_ones, edges = torch.ones(e, device=device), torch.arange(e, device=device).int()
        self.src_sums = torch.sparse_csr_tensor(t_crow.int(), perm.int(), edge_ones, (n, e))
        self.dst_sums = torch.sparse_csr_tensor(crow.int(), edges, edge_ones, (n, e))


# The attribute of an attention adjacency that holds its patterns, by number of heads.
PATTERNS = "gnnexp_attention_patterns"


def with_patterns(adj: Tensor, heads: set[int]) -> Tensor:
    """``adj`` (an attention adjacency) holding its pattern for each number of ``heads`` the
    model's layers have, computed here once."""
    setattr(adj, PATTERNS, {h: _Pattern(adj, h) for h in heads})
    return adj


class _Gather(torch.autograd.Function):
    """``x.index_select(0, index)`` whose backward is the product with ``sums``, the CSR
    matrix that adds every gathered row's gradient back to the row it came from."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, index: Tensor, sums: Tensor) -> Tensor:
        ctx.sums, ctx.shape = sums, x.shape
        return x.index_select(0, index)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        flat = grad.contiguous().view(grad.size(0), -1)
        return torch.sparse.mm(ctx.sums, flat).view(ctx.shape), None, None


class _Reorder(torch.autograd.Function):
    """``x.index_select(0, index)`` for a permutation ``index``; its backward gathers with the
    inverse permutation instead of scattering."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, index: Tensor, inverse: Tensor) -> Tensor:
        ctx.inverse = inverse
        return x.index_select(0, index)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad.index_select(0, ctx.inverse), None, None


class _BlockMatmul(torch.autograd.Function):
    """``B @ dense`` for the block matrix ``B`` of ``pattern`` holding ``values``; gradients
    for both ``values`` and ``dense``."""

    @staticmethod
    def forward(ctx: Any, values: Tensor, dense: Tensor, pattern: _Pattern) -> Tensor:
        ctx.save_for_backward(values, dense)
        ctx.pattern = pattern
        matrix = torch.sparse_csr_tensor(pattern.crow32, pattern.col32, values, pattern.shape)
        return torch.sparse.mm(matrix, dense)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        values, dense = ctx.saved_tensors
        p: _Pattern = ctx.pattern
        grad_values = grad_dense = None
        if ctx.needs_input_grad[0]:
            # Each entry's gradient is a dot product of two rows: a sampled dense-dense product.
            pattern = torch.sparse_csr_tensor(p.crow32, p.col32, values, p.shape)
            grad_values = torch.sparse.sampled_addmm(pattern, grad.contiguous(), dense.t(), beta=0.0).values()
        if ctx.needs_input_grad[1]:
            transposed = torch.sparse_csr_tensor(p.t_crow, p.t_col, values.index_select(0, p.perm), p.shape)
            grad_dense = torch.sparse.mm(transposed, grad.contiguous())
        return grad_values, grad_dense, None


def _attend(scores: Tensor, values: Tensor, p: _Pattern, drop: float, training: bool) -> Tensor:
    """Softmax of the (target, head) rows' ``scores`` as PyG's (its max shift and its 1e-16),
    attention dropout, and the weighted sums of ``values`` (``(nodes * heads, channels)``)."""
    top = torch.segment_reduce(scores.detach(), "max", offsets=p.block_crow, axis=0)
    exp = (scores - top.index_select(0, p.block_row)).exp()
    total = torch.zeros_like(top).index_add_(0, p.block_row, exp)
    alpha = exp / (total.index_select(0, p.block_row) + 1e-16)
    # The attention layout comes with the fast layouts' dropout masks (same distribution).
    alpha = dropout(alpha, drop, training, fast=True)
    return _BlockMatmul.apply(alpha, values, p)


class _CSRAttention:
    """What both attention convolutions share: when to take the CSR path, and its pattern."""

    heads: int
    out_channels: int
    concat: bool
    bias: Any

    def heads_out(self, out: Tensor, n: int) -> Tensor:
        """The ``(nodes * heads, channels)`` sums as the layer's output: heads concatenated
        or averaged, plus the bias."""
        out = out.view(n, self.heads, self.out_channels)
        out = out.reshape(n, -1) if self.concat else out.mean(dim=1)
        return out if self.bias is None else out + self.bias

    def pattern(self, adj: Tensor, heads: int) -> _Pattern:
        """The pattern ``adj`` holds (made now, for this call only, if it holds none)."""
        pattern: _Pattern | None = getattr(adj, PATTERNS, {}).get(heads)
        return pattern if pattern is not None else _Pattern(adj, heads)

    res: Any

    # torch.compile cannot trace sparse CSR tensors: this runs eagerly inside a compiled model.
    @torch.compiler.disable
    def forward(self, x: Any, edge_index: Any, edge_attr: Any = None, **kwargs: Any) -> Any:
        """The CSR path for plain inputs on an ``attention`` adjacency; PyG's conv otherwise."""
        plain = isinstance(x, Tensor) and edge_attr is None and not kwargs and self.res is None
        if not (plain and is_csr(edge_index)):
            return super().forward(x, edge_index, edge_attr, **kwargs)  # type: ignore[misc]
        return self.attend(x, self.pattern(edge_index, self.heads))

    def attend(self, x: Tensor, p: _Pattern) -> Tensor:
        """The layer's output for ``x`` over the pattern ``p``."""
        raise NotImplementedError


class CSRGATConv(_CSRAttention, GATConv):
    """PyG's ``GATConv`` (no edge features, no residual) computed on an ``attention``
    adjacency (see :func:`attention_adjacency`); other inputs go to ``GATConv`` itself."""

    def attend(self, x: Tensor, p: _Pattern) -> Tensor:
        heads, channels = self.heads, self.out_channels
        lin = self.lin
        assert lin is not None
        # (x W_h) . a_h = x (W_h^T a_h): the attention vectors folded into the projection give
        # each node's scores in the same product as its features, where broadcasting them
        # over the (nodes, heads, channels) features cost more than the product itself.
        att = torch.stack([self.att_src.view(heads, channels), self.att_dst.view(heads, channels)], dim=1)
        folded = torch.bmm(att, lin.weight.view(heads, channels, -1))  # (heads, 2, in)
        weight = torch.cat([lin.weight, folded.view(2 * heads, -1)])
        out = lin.project(x, weight) if isinstance(lin, SparseAwareLinear) else F.linear(x, weight)
        # split, not slicing: its backward joins the gradients in one copy.
        h, scores = torch.split(out, [heads * channels, 2 * heads], dim=1)
        n = h.size(0)
        scores = scores.reshape(n, heads, 2)
        alpha_src = scores[..., 0].reshape(-1)  # (node, head) pairs, node-major
        alpha_dst = scores[..., 1].reshape(-1)
        # index_select rather than indexing: its backward is an index_add, not an index_put.
        scores = alpha_src.index_select(0, p.block_col) + alpha_dst.index_select(0, p.block_row)
        scores = F.leaky_relu(scores, self.negative_slope)
        return self.heads_out(
            _attend(scores, h.reshape(n * heads, channels), p, self.dropout, self.training), n
        )


class CSRGATv2Conv(_CSRAttention, GATv2Conv):
    """PyG's ``GATv2Conv`` (no edge features, no residual) on an ``attention`` adjacency:
    each entry's score needs both endpoints' features (that is GATv2), the softmax and the
    weighted sum run as in :class:`CSRGATConv`."""

    def attend(self, x: Tensor, p: _Pattern) -> Tensor:
        heads, channels = self.heads, self.out_channels
        x_l, x_r = self._project(x)
        n = x_l.size(0)
        pair = _Gather.apply(x_l, p.edge_src, p.src_sums) + _Gather.apply(x_r, p.edge_dst, p.dst_sums)
        pair = F.leaky_relu(pair, self.negative_slope).view(-1, heads, channels)
        scores = (pair * self.att.view(1, heads, channels)).sum(-1)  # (edge, head), edge-major
        scores = _Reorder.apply(scores.view(-1), p.to_block, p.from_block)
        return self.heads_out(_attend(scores, x_l.reshape(-1, channels), p, self.dropout, self.training), n)

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``lin_l(x)`` and ``lin_r(x)``; two weights in one product, which reads ``x`` once."""
        lin_l, lin_r = self.lin_l, self.lin_r
        if self.share_weights:
            x_l = lin_l(x)
            return x_l, x_l
        weight = torch.cat([lin_l.weight, lin_r.weight])
        out = lin_l.project(x, weight) if isinstance(lin_l, SparseAwareLinear) else F.linear(x, weight)
        if lin_l.bias is not None and lin_r.bias is not None:
            out = out + torch.cat([lin_l.bias, lin_r.bias])
        elif lin_l.bias is not None or lin_r.bias is not None:
            return lin_l(x), lin_r(x)
        x_l, x_r = torch.split(out, [lin_l.weight.size(0), lin_r.weight.size(0)], dim=1)
        return x_l, x_r
