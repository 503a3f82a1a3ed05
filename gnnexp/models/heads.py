"""Task heads around a node encoder: graph-level readout and link decoders."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.nn.models import MLP

READOUTS = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}


class GraphModel(torch.nn.Module):
    """Encoder -> readout over each graph's nodes -> MLP head (GIN's "readout + MLP").

    With a JumpingKnowledge ``cat`` encoder and ``sum`` readout this is the GIN paper's
    graph representation: the sum-pooled representation of every layer, concatenated.
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        width: int,
        readout: str,
        hidden: int,
        out_channels: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.readout = readout
        self.pool = READOUTS[readout]
        self.head = MLP([width, hidden, out_channels], dropout=dropout, norm=None)

    def forward(
        self, x: Tensor, edge_index: Tensor, batch: Tensor, edge_attr: Tensor | None = None
    ) -> Tensor:
        """``edge_attr`` goes to the encoder only when given (a model built with edge features)."""
        # An encoder with global attention (GPS) attends within each graph: it takes ``batch``.
        extra = {"batch": batch} if getattr(self.encoder, "takes_batch", False) else {}
        nodes = (
            self.encoder(x, edge_index, **extra)
            if edge_attr is None
            else self.encoder(x, edge_index, edge_attr, **extra)
        )
        return self.head(self.pool(nodes, batch))

    def __repr__(self) -> str:
        return f"GraphModel({self.encoder!r} -> {self.readout} pool -> MLP)"


class LinkModel(torch.nn.Module):
    """Encoder -> node embeddings; a pair's score is a dot product or an MLP of their product."""

    def __init__(self, encoder: torch.nn.Module, width: int, decoder: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.mlp = MLP([width, width, 1], norm=None) if decoder == "mlp" else None

    def encode(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.encoder(x, edge_index)

    def decode(self, z: Tensor, pairs: Tensor) -> Tensor:
        """Logit of an edge for each column ``(i, j)`` of ``pairs``."""
        h = z[pairs[0]] * z[pairs[1]]
        return h.sum(dim=-1) if self.mlp is None else self.mlp(h).view(-1)

    def forward(self, x: Tensor, edge_index: Tensor, pairs: Tensor) -> Tensor:
        return self.decode(self.encode(x, edge_index), pairs)

    def __repr__(self) -> str:
        return f"LinkModel({self.encoder!r} -> {self.decoder} decoder)"
