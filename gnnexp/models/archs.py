"""What every architecture is, each one declared class: ``ModelSpec`` (the settings every model
understands) and ``GNNSpec`` (settings, capability flags and how to build a layer).

As in PyG's ``BasicGNN``, the shared body (layers, norms, activation, dropout, residuals,
jumping knowledge) is one module, :class:`gnnexp.models.gnn.GNN`; an architecture is a
set of settings, capability flags and an ``init_conv``. The built-in architectures are
declared in ``gnnexp.models.conv_archs`` and ``gnnexp.models.gps_arch``. These modules import
neither torch nor PyG at import time: configs are composed and listed without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from omegaconf import MISSING

from gnnexp.config.components import group_base, option
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
