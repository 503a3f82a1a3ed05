"""Message-passing architectures in one pattern (after PyG's ``BasicGNN``).

Every model is a stack of ``num_layers`` PyG convolutions. Each layer applies dropout to its
input (as in the GCN and GAT papers, and unlike ``BasicGNN``), the convolution, then, for
hidden layers, normalisation, activation and an optional residual connection. With
``jk`` set, all layers are hidden and a JumpingKnowledge combination feeds a final linear
layer. With ``out_channels=None`` the model is an encoder: every layer is hidden and the
(JumpingKnowledge-combined) node representation of width :attr:`GNN.out_width` is returned,
for a readout or a link decoder to use. A subclass only says how to build one convolution
(:meth:`GNN.init_conv`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.nn import GATConv, GATv2Conv, GINConv, SAGEConv
from torch_geometric.nn.models import MLP, JumpingKnowledge
from torch_geometric.nn.norm import BatchNorm, LayerNorm, PairNorm
from torch_geometric.nn.resolver import activation_resolver
from torch_geometric.utils import dropout_edge

from gnnexp.models import fast
from gnnexp.models.registry import register_model


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
    """Base class: ``num_layers`` convolutions from ``in_channels`` to ``out_channels``.

    Two class attributes describe what the fast paths (``gnnexp.models.fast``) may give
    the model: ``sparse_input`` (its first operation is a linear map, so CSR features
    work) and ``adjacency`` (``gcn``: pre-normalised CSR, ``csr``, or ``coo`` edge list).
    """

    sparse_input: ClassVar[bool] = False
    adjacency: ClassVar[str] = "coo"

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None,
        hidden_channels: int = 64,
        num_layers: int = 2,
        dropout: float = 0.5,
        act: str = "relu",
        norm: str = "none",
        jk: str = "none",
        residual: bool = False,
        drop_edge: float = 0.0,
        **conv_kwargs: Any,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.act = activation_resolver(act)
        self.jk_mode = None if jk == "none" else jk
        self.residual = residual
        self.drop_edge = drop_edge
        self.conv_kwargs = conv_kwargs
        self.fast_dropout = False  # set by gnnexp.models.fast.prepare_inputs

        width = self.hidden_width()
        self.convs = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        channels = in_channels
        for i in range(num_layers):
            last = i == num_layers - 1 and self.jk_mode is None and out_channels is not None
            self.convs.append(self.init_conv(channels, out_channels if last else hidden_channels, last))
            if not last:
                self.norms.append(make_norm(norm, width))
            channels = width
        if self.sparse_input:
            fast.make_sparse_aware(self.convs[0])
        self.out_width = width * num_layers if self.jk_mode == "cat" else width
        if self.jk_mode in ("cat", "max"):
            self.jk = JumpingKnowledge(self.jk_mode, width, num_layers)
        if self.jk_mode is not None and out_channels is not None:
            self.lin = torch.nn.Linear(self.out_width, out_channels)
        if out_channels is not None:
            self.out_width = out_channels

    def hidden_width(self) -> int:
        """Width of a hidden layer's output (``heads x hidden_channels`` for attention)."""
        return self.hidden_channels

    def init_conv(self, in_channels: int, out_channels: int, last: bool) -> torch.nn.Module:
        """One convolution; ``last`` is the layer that produces ``out_channels``."""
        raise NotImplementedError

    def take_normalized_adjacency(self) -> None:
        """Expect an adjacency that already carries the layer's normalisation."""
        raise NotImplementedError(f"{type(self).__name__} has no normalised adjacency")

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        if self.drop_edge > 0 and self.training:
            edge_index, _ = dropout_edge(edge_index, p=self.drop_edge, training=True)
        hidden: list[Tensor] = []
        for i, conv in enumerate(self.convs):
            x_in = x
            x = fast.dropout(x, self.dropout, self.training, self.fast_dropout)
            x = conv(x, edge_index)
            if i < len(self.norms):
                x = self.act(self.norms[i](x))
                if self.residual and x.shape == x_in.shape and not fast.is_csr(x_in):
                    x = x + x_in
                hidden.append(x)
        if self.jk_mode is None:
            return x
        x = hidden[-1] if self.jk_mode == "last" else self.jk(hidden)
        if self.out_channels is None:
            return x
        x = fast.dropout(x, self.dropout, self.training, self.fast_dropout)
        return self.lin(x)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_width}, "
            f"hidden={self.hidden_width()}, layers={self.num_layers})"
        )


@register_model("gcn")
class GCN(GNN):
    """Graph convolutional network (Kipf & Welling 2017)."""

    sparse_input = True
    adjacency = "gcn"

    def init_conv(self, in_channels: int, out_channels: int, last: bool) -> torch.nn.Module:
        return fast.FastGCNConv(in_channels, out_channels)

    def take_normalized_adjacency(self) -> None:
        for conv in self.convs:
            conv.normalize = False


@register_model("gat")
class GAT(GNN):
    """Graph attention network (Velickovic et al. 2018); heads concatenated in hidden layers."""

    conv_cls: type = GATConv
    sparse_input = True

    def hidden_width(self) -> int:
        return self.hidden_channels * self.conv_kwargs.get("heads", 8)

    def init_conv(self, in_channels: int, out_channels: int, last: bool) -> torch.nn.Module:
        heads = self.conv_kwargs.get("out_heads", 1) if last else self.conv_kwargs.get("heads", 8)
        return self.conv_cls(
            in_channels,
            out_channels,
            heads=heads,
            concat=not last,
            dropout=self.conv_kwargs.get("attn_dropout", 0.0),
        )


@register_model("gatv2")
class GATv2(GAT):
    """GATv2 (Brody et al. 2022): attention that depends on both endpoints jointly."""

    conv_cls = GATv2Conv


@register_model("sage")
class GraphSAGE(GNN):
    """GraphSAGE (Hamilton et al. 2017) with a root weight and configurable aggregation."""

    adjacency = "csr"

    def init_conv(self, in_channels: int, out_channels: int, last: bool) -> torch.nn.Module:
        return SAGEConv(in_channels, out_channels, aggr=self.conv_kwargs.get("aggr", "mean"))


@register_model("gin")
class GIN(GNN):
    """Graph isomorphism network (Xu et al. 2019): sum aggregation and an MLP update."""

    adjacency = "csr"

    def init_conv(self, in_channels: int, out_channels: int, last: bool) -> torch.nn.Module:
        depth = self.conv_kwargs.get("mlp_layers", 2)
        mlp = MLP(
            [in_channels] + [out_channels] * depth,
            act=self.act,
            norm="batch_norm" if not last else None,
            norm_kwargs={"allow_single_element": True},
            plain_last=True,
        )
        return GINConv(mlp, train_eps=self.conv_kwargs.get("train_eps", False))


class NodeLinear(fast.SparseAwareLinear):
    """A linear layer with a convolution's signature; it ignores the graph."""

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        return super().forward(x)


@register_model("mlp")
class NodeMLP(GNN):
    """Multi-layer perceptron on node features only: the no-graph baseline."""

    sparse_input = True

    def init_conv(self, in_channels: int, out_channels: int, last: bool) -> torch.nn.Module:
        return NodeLinear(in_channels, out_channels)
