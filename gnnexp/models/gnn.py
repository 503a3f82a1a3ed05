"""Message-passing architectures in one pattern (after PyG's ``BasicGNN``).

Every model is a stack of ``num_layers`` PyG convolutions. Each layer applies dropout to its
input (as in the GCN and GAT papers, and unlike ``BasicGNN``), the convolution, then, for
hidden layers, normalisation, activation and an optional residual connection. With
``jk`` set, all layers are hidden and a JumpingKnowledge combination feeds a final linear
layer. With ``out_channels=None`` the model is an encoder: every layer is hidden and the
(JumpingKnowledge-combined) node representation of width :attr:`GNN.out_width` is returned,
for a readout or a link decoder to use. An architecture (``gnnexp.models.archs``) only says
how to build one convolution (``init_conv``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor
from torch_geometric.nn.models import JumpingKnowledge
from torch_geometric.nn.norm import BatchNorm, LayerNorm, PairNorm
from torch_geometric.nn.resolver import activation_resolver
from torch_geometric.utils import dropout_edge, trim_to_layer

from gnnexp.models.fast import sparse as fast
from gnnexp.models.layout import PLAIN, Layout

if TYPE_CHECKING:
    from gnnexp.models.archs import GNNSpec


def make_norm(kind: str, channels: int) -> torch.nn.Module:
    """A normalisation layer: ``none``, ``batch``, ``layer`` (per node) or ``pair`` (PairNorm)."""
    if kind == "batch":
        # A batch holding one node (a one-atom molecule) would make BatchNorm raise.
        return BatchNorm(channels, allow_single_element=True)
    if kind == "layer":
        return LayerNorm(channels, mode="node")
    if kind == "pair":
        return PairNorm()
    return torch.nn.Identity()


class GNN(torch.nn.Module):
    """The shared body of every built-in architecture; ``spec`` says how to build a layer.

    ``layout`` is the input layout the model is built for (see ``gnnexp.models.layout``):
    the task prepares its inputs in the same layout.
    """

    def __init__(
        self, spec: GNNSpec, in_channels: int, out_channels: int | None, layout: Layout = PLAIN
    ) -> None:
        super().__init__()
        self.spec = spec
        self.layout = layout
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_layers = spec.num_layers
        self.dropout = spec.dropout
        self.act = activation_resolver(spec.act)
        self.jk_mode = None if spec.jk == "none" else spec.jk
        self.residual = spec.residual
        self.drop_edge = spec.drop_edge
        self.uniform_dropout = layout.uniform_dropout

        width = spec.hidden_width()
        self.convs = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        channels = in_channels
        for i in range(spec.num_layers):
            last = i == spec.num_layers - 1 and self.jk_mode is None and out_channels is not None
            out = out_channels if last and out_channels is not None else spec.hidden_channels
            self.convs.append(spec.init_conv(channels, out, last, layout))
            if not last:
                self.norms.append(make_norm(spec.norm, width))
            channels = width
        if spec.sparse_input:
            fast.make_sparse_aware(self.convs[0])
        self.out_width = width * spec.num_layers if self.jk_mode == "cat" else width
        if self.jk_mode in ("cat", "max"):
            self.jk = JumpingKnowledge(self.jk_mode, width, spec.num_layers)
        if self.jk_mode is not None and out_channels is not None:
            self.lin = torch.nn.Linear(self.out_width, out_channels)
        if out_channels is not None:
            self.out_width = out_channels

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()  # type: ignore[operator]  # torch types __getattr__ as Tensor | Module

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor | tuple[Tensor, ...],
        edge_attr: Tensor | None = None,
        hops: tuple[list[int], list[int]] | None = None,
    ) -> Tensor:
        """``edge_index``: the edges, or one CSR adjacency per layer from
        ``trimmed.per_layer_inputs`` (the output's first rows are then its targets');
        ``edge_attr``: the edges' features, for a model built with ``layout.edge_dim``;
        ``hops``: a sampled batch's nodes and edges per hop (seeds first), for a model built
        with ``layout.trim``: layer i then computes only the nodes within ``num_layers - i``
        hops of the seeds, and the rows of the seeds are exactly those of the full pass."""
        if self.drop_edge > 0 and self.training:
            edge_index, kept = dropout_edge(edge_index, p=self.drop_edge, training=True)
            edge_attr = edge_attr[kept] if edge_attr is not None else None
        uses_edges = self.layout.edge_dim is not None
        # Trimming assumes one hop per layer (the loader's settings are checked to agree).
        trim = hops if self.layout.trim and hops is not None and len(hops[1]) == self.num_layers else None
        # A tuple: one adjacency per layer, each over a prefix of the previous one's nodes
        # (trimmed.per_layer_inputs).
        per_layer = edge_index if isinstance(edge_index, tuple) else None
        assert per_layer is None or len(per_layer) == len(self.convs)
        hidden: list[Tensor] = []
        for i, conv in enumerate(self.convs):
            if trim is not None and i > 0:
                x, adjacency, edge_attr = trim_to_layer(i, trim[0], trim[1], x, edge_index, edge_attr)
                edge_index = cast(Tensor, adjacency)
            if per_layer is not None:
                edge_index = per_layer[i]
                if i > 0:
                    x = x[: edge_index.size(0)]
            x_in = x
            x = fast.dropout(x, self.dropout, self.training, self.uniform_dropout)
            x = conv(x, edge_index, edge_attr) if uses_edges else conv(x, edge_index)
            if i < len(self.norms):
                x = self.act(self.norms[i](x))
                if self.residual and x.shape == x_in.shape and not fast.is_csr(x_in):
                    x = x + x_in
                hidden.append(x)
        if self.jk_mode is None:
            return x
        # Trimmed layers differ in length; JK combines them row by row.
        if trim is not None or per_layer is not None:
            hidden = [h[: x.size(0)] for h in hidden]
        x = hidden[-1] if self.jk_mode == "last" else self.jk(hidden)
        if self.out_channels is None:
            return x
        x = fast.dropout(x, self.dropout, self.training, self.uniform_dropout)
        return self.lin(x)

    def __repr__(self) -> str:
        return (
            f"{type(self.spec).__name__}({self.in_channels}, {self.out_width}, "
            f"hidden={self.spec.hidden_width()}, layers={self.num_layers})"
        )


class NodeLinear(fast.SparseAwareLinear):
    """A linear layer with a convolution's signature; it ignores the graph."""

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        return super().forward(x)
