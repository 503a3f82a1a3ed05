"""The built-in message-passing architectures (GCN, GAT, GATv2, GraphSAGE, GIN, GINE, graph
transformer, and the MLP baseline), each one declared class (``gnnexp.models.archs``). No
torch or PyG at import time: each imports its layer when it builds one."""

from __future__ import annotations

from typing import Any, ClassVar

from gnnexp.config.components import component, option
from gnnexp.models.archs import GNNSpec
from gnnexp.models.layout import Layout


@component("model", "gcn")
class GCN(GNNSpec):
    """Graph convolutional network (Kipf & Welling 2017)."""

    one_hop = True
    sparse_input = True
    adjacency = "gcn"

    def trims_exactly(self) -> bool:
        return False  # its normalisation counts a neighbour's own in-edges, which trimming drops

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from gnnexp.models.fast.sparse import FastGCNConv

        # The gcn layout hands over the adjacency with the normalisation already applied.
        return FastGCNConv(in_channels, out_channels, normalize=layout.adjacency != "gcn")


@component("model", "gat")
class GAT(GNNSpec):
    """Graph attention network (Velickovic et al. 2018); heads concatenated in hidden layers."""

    heads: int = option(8, doc="attention heads of each hidden layer (concatenated)", ge=1)
    out_heads: int = option(1, doc="attention heads of the output layer (averaged)", ge=1)
    attn_dropout: float = option(0.6, doc="dropout on the attention coefficients", ge=0, lt=1)

    one_hop = True
    sparse_input = True
    edge_features = True
    v2: ClassVar[bool] = False

    def hidden_width(self) -> int:
        return self.hidden_channels * self.heads

    def preferred_adjacency(self) -> str:
        return "attention"

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from torch_geometric.nn import GATConv, GATv2Conv

        conv = GATv2Conv if self.v2 else GATConv
        if layout.adjacency == "attention":
            from gnnexp.models.fast.attention import CSRGATConv, CSRGATv2Conv

            conv = CSRGATv2Conv if self.v2 else CSRGATConv
        heads = self.out_heads if last else self.heads
        return conv(
            in_channels,
            out_channels,
            heads=heads,
            concat=not last,
            dropout=self.attn_dropout,
            edge_dim=layout.edge_dim,
        )


@component("model", "gatv2")
class GATv2(GAT):
    """GATv2 (Brody et al. 2022): attention that depends on both endpoints jointly."""

    v2 = True


@component("model", "sage")
class GraphSAGE(GNNSpec):
    """GraphSAGE (Hamilton et al. 2017) with a root weight and configurable aggregation."""

    aggr: str = option("mean", doc="neighbour aggregation", choices=("mean", "max", "sum"))

    one_hop = True
    adjacency = "csr"

    def takes_sparse_input(self) -> bool:
        return self.aggr != "max"  # max does not commute with the projection

    def preferred_adjacency(self) -> str:
        # A CSR entry holds a repeated edge's count, which max must not multiply in.
        return {"mean": "mean", "sum": "csr"}.get(self.aggr, "coo")

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from torch_geometric.nn import SAGEConv

        if layout.reorder:
            from gnnexp.models.fast.reordered import ReorderedSAGEConv

            return ReorderedSAGEConv(in_channels, out_channels, self.aggr, layout.adjacency == "mean")
        return SAGEConv(in_channels, out_channels, aggr=self.aggr)


@component("model", "gin")
class GIN(GNNSpec):
    """Graph isomorphism network (Xu et al. 2019): sum aggregation and an MLP update."""

    train_eps: bool = option(False, doc="learn GIN's epsilon (the weight of a node's own features)")
    mlp_layers: int = option(2, doc="layers of each GIN update MLP", ge=1)

    one_hop = True
    sparse_input = True
    adjacency = "csr"

    def rows_independent(self) -> bool:
        return False  # every hidden layer's MLP batch-normalises over the nodes of the pass

    def trims_exactly(self) -> bool:
        # A sampled batch's statistics are the batch's anyway: only a last layer (2 layers,
        # no jumping knowledge), which does not normalise, may be trimmed.
        return super().rows_independent() and self.num_layers <= 2 and self.jk == "none"

    def update_mlp(
        self, in_channels: int, out_channels: int, last: bool, bias_only_first: bool = False
    ) -> Any:
        """GIN's update: an MLP (batch-normalised inside, except in the output layer).
        ``bias_only_first``: its first layer adds only its bias, for a conv that applies
        that layer's weight itself (``ReorderedGINConv``)."""
        from torch_geometric.nn.models import MLP
        from torch_geometric.nn.resolver import activation_resolver

        mlp = MLP(
            [in_channels] + [out_channels] * self.mlp_layers,
            act=activation_resolver(self.act),
            norm="batch_norm" if not last else None,
            norm_kwargs={"allow_single_element": True},
            plain_last=True,
        )
        if bias_only_first:
            from gnnexp.models.fast.reordered import BiasOnly

            mlp.lins[0].__class__ = BiasOnly  # same parameters and keys; PyG's MLP makes Linear
        return mlp

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from torch_geometric.nn import GINConv

        if layout.reorder:
            from gnnexp.models.fast.reordered import ReorderedGINConv

            mlp = self.update_mlp(in_channels, out_channels, last, bias_only_first=True)
            return ReorderedGINConv(mlp, self.train_eps, in_channels, out_channels)
        return GINConv(self.update_mlp(in_channels, out_channels, last), train_eps=self.train_eps)


@component("model", "gine")
class GINE(GIN):
    """GIN with edge features (Hu et al. 2020, GINEConv): each message adds its edge's features."""

    edge_features = True
    needs_edge_features = True
    sparse_input = False  # edge features enter before the MLP: no reordering

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from torch_geometric.nn import GINEConv

        if layout.edge_dim is None:
            raise ValueError("gine needs edge features (edge_attr), and this data has none: use model=gin")
        mlp = self.update_mlp(in_channels, out_channels, last)
        return GINEConv(mlp, train_eps=self.train_eps, edge_dim=layout.edge_dim)


@component("model", "transformer")
class Transformer(GNNSpec):
    """Graph transformer layers (Shi et al. 2021, TransformerConv): attention over neighbours,
    with edge features in keys and values when the data has them."""

    heads: int = option(4, doc="attention heads of each hidden layer (concatenated)", ge=1)
    attn_dropout: float = option(0.1, doc="dropout on the attention coefficients", ge=0, lt=1)

    one_hop = True
    edge_features = True

    def hidden_width(self) -> int:
        return self.hidden_channels * self.heads

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from torch_geometric.nn import TransformerConv

        return TransformerConv(
            in_channels,
            out_channels,
            heads=1 if last else self.heads,
            concat=not last,
            dropout=self.attn_dropout,
            edge_dim=layout.edge_dim,
        )


@component("model", "mlp")
class MLP(GNNSpec):
    """Multi-layer perceptron on node features only: the no-graph baseline."""

    one_hop = True
    sparse_input = True

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from gnnexp.models.gnn import NodeLinear

        return NodeLinear(in_channels, out_channels)
