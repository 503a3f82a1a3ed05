"""The built-in architectures, each one declared class: its settings and how to build a layer.

As in PyG's ``BasicGNN``, the shared body (layers, norms, activation, dropout, residuals,
jumping knowledge) is one module, :class:`gnnexp.models.gnn.GNN`; an architecture is a
set of settings, capability flags and an ``init_conv``. This module imports neither torch
nor PyG at import time: configs are composed and listed without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from omegaconf import MISSING

from gnnexp.config.components import component, group_base, option
from gnnexp.models.layout import PLAIN, Layout

if TYPE_CHECKING:
    import torch

ACTIVATIONS = ("relu", "elu", "gelu", "leaky_relu", "prelu", "selu", "silu", "tanh", "sigmoid")


@group_base("model")
@dataclass
class ModelSpec:
    """Settings every architecture understands (a user's own class gets them too)."""

    name: str = MISSING
    # A user's own class: called with in_channels, out_channels and the other model keys.
    _target_: str | None = None
    hidden_channels: int = option(64, doc="width of each hidden layer", ge=1)
    num_layers: int = option(2, doc="message-passing layers", ge=1)
    dropout: float = option(0.5, doc="dropout on each layer's input", ge=0, lt=1)
    act: str = option("relu", doc="activation between layers", choices=ACTIVATIONS)
    norm: str = option(
        "none", doc="normalisation after each hidden layer", choices=("none", "batch", "layer", "pair")
    )
    jk: str = option(
        "none", doc="jumping knowledge over the layers' outputs", choices=("none", "cat", "max", "last")
    )
    residual: bool = option(False, doc="add each hidden layer's input to its output (same width)")
    drop_edge: float = option(0.0, doc="fraction of edges dropped at random each training step", ge=0, lt=1)
    readout: str = option(
        "mean", doc="graph tasks: how node embeddings are pooled", choices=("mean", "sum", "max")
    )
    lr: float = option(0.01, doc="recommended learning rate (optimizer.lr follows it)", gt=0)
    weight_decay: float = option(5e-4, doc="recommended L2 penalty (optimizer.weight_decay follows it)", ge=0)


# Settings of the config node that are not about the network itself.
NOT_ARCHITECTURE = ("name", "_target_", "lr", "weight_decay", "readout")


@dataclass
class GNNSpec(ModelSpec):
    """An architecture built on :class:`gnnexp.models.gnn.GNN`.

    ``sparse_input``: the first layer starts with a linear map, so CSR features work;
    ``adjacency``: the adjacency layout it runs fastest on (``gcn``, ``csr`` or ``coo``);
    ``edge_features``: its layers take ``edge_attr`` (of width ``layout.edge_dim``);
    ``one_hop``: each layer reads only its nodes and their in-neighbours, so a pass may drop
    the nodes beyond ``num_layers`` hops of those it must compute (off unless declared: a
    layer reaching K hops, like SGConv or APPNP, would need more).
    """

    sparse_input: ClassVar[bool] = False
    one_hop: ClassVar[bool] = False
    adjacency: ClassVar[str] = "coo"
    # Whether its layers take edge features (``edge_attr``) when the data has them, and
    # whether they cannot work without them.
    edge_features: ClassVar[bool] = False
    needs_edge_features: ClassVar[bool] = False

    def hidden_width(self) -> int:
        """Width of a hidden layer's output (``heads x hidden_channels`` for attention)."""
        return self.hidden_channels

    def takes_sparse_input(self) -> bool:
        """Whether the first layer can take CSR features (it starts with a linear map)."""
        return self.sparse_input

    def preferred_adjacency(self) -> str:
        """The adjacency layout its layers aggregate fastest with."""
        return self.adjacency

    def rows_independent(self) -> bool:
        """Whether a node's output depends only on its neighbourhood and not on which other
        nodes a pass computes: not when statistics run over all the layer's nodes (batch or
        pair norm) or DropEdge draws from the whole edge list."""
        return self.one_hop and self.norm not in ("batch", "pair") and self.drop_edge == 0

    def trims_exactly(self) -> bool:
        """Whether a sampled batch's seeds get the same outputs and gradients when each layer
        drops the nodes later layers no longer need."""
        return self.rows_independent()

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> torch.nn.Module:
        """One layer; ``last`` is the layer that produces ``out_channels``."""
        raise NotImplementedError

    def build(self, in_channels: int, out_channels: int | None, layout: Layout = PLAIN) -> torch.nn.Module:
        """The network; ``out_channels=None`` asks for an encoder (readouts, link decoders)."""
        from gnnexp.models.gnn import GNN

        return GNN(self, in_channels, out_channels, layout)


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


class _FollowsLocal:
    """GPS takes edge features when its local layer does: a GPS spec answers for its
    ``model.local``; the class itself names no edge-feature layer of its own (so lists of the
    architectures that use them name the layers, not GPS)."""

    def __get__(self, spec: Any, owner: type | None = None) -> bool:
        if spec is None:
            return False
        local = spec.local_spec()
        return local is not None and bool(local.edge_features)


# The built-in layers GPS may use as its local message passing ("none": attention alone).
GPS_LOCAL = ("gin", "gine", "gcn", "sage", "gat", "gatv2", "transformer", "none")


@component("model", "gps")
class GPS(GNNSpec):
    """GPS graph transformer (Rampasek et al. 2022, GPSConv): a local layer plus global attention.

    Positional encodings from ``transform=[...]`` get their own encoder (BatchNorm, linear)."""

    local: str = option(
        "gin", doc="the local message-passing layer (a built-in model's layer)", choices=GPS_LOCAL
    )
    heads: int = option(4, doc="global attention heads (hidden_channels must divide by it)", ge=1)
    # PyG's example uses 0.5; drawing the mask over every padded graph's attention matrix
    # made a MUTAG epoch 1.5x slower on one CPU thread.
    attn_dropout: float = option(0.0, doc="dropout on the global attention weights", ge=0, lt=1)
    attn_type: str = option(
        "multihead", doc="exact attention, or the linear-time Performer", choices=("multihead", "performer")
    )
    norm: str = option("batch", doc="normalisation inside each GPS layer", choices=("none", "batch", "layer"))
    pe_channels: int = option(
        8, doc="width the positional encodings are mapped to (part of hidden_channels)", ge=1
    )
    pe_norm: bool = option(True, doc="batch-normalise the positional encodings before their linear map")

    edge_features = _FollowsLocal()

    def local_spec(self) -> GNNSpec | None:
        """The built-in architecture whose layer is the local message passing (None: none)."""
        from gnnexp.config.components import lookup

        if self.local == "none":
            return None
        cls = lookup("model", self.local)
        assert cls is not None
        spec: GNNSpec = cls(hidden_channels=self.hidden_channels, act=self.act)
        return spec

    def build(self, in_channels: int, out_channels: int | None, layout: Layout = PLAIN) -> torch.nn.Module:
        from gnnexp.models.gps import GPSNet

        return GPSNet(self, in_channels, out_channels, layout)
