"""The GPS graph transformer (Rampasek et al. 2022) on PyG's ``GPSConv``, as PyG's
``examples/graph_gps.py`` builds it: node features and positional encodings are encoded
apart and concatenated, then each layer adds a local message-passing layer's output and
global attention's (within each graph of a batch), followed by an MLP.

The positional encodings are the last ``layout.pe_dim`` input columns (what
``transform=[random_walk_pe]`` appends); they go through an optional BatchNorm and their own
linear map to ``pe_channels`` columns of the hidden width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch_geometric.nn import GPSConv
from torch_geometric.nn.models import JumpingKnowledge
from torch_geometric.nn.norm import BatchNorm
from torch_geometric.utils import dropout_edge

from gnnexp.models.layout import PLAIN, Layout

if TYPE_CHECKING:
    from gnnexp.models.gps_arch import GPS

NORMS = {"none": None, "batch": "batch_norm", "layer": "layer_norm"}


class GPSNet(torch.nn.Module):
    """Input encoders, ``num_layers`` GPS layers, and a linear output (none for an encoder)."""

    # The graph readout passes each node's graph (``batch``): attention stays within a graph.
    takes_batch = True

    def __init__(self, spec: GPS, in_channels: int, out_channels: int | None, layout: Layout = PLAIN) -> None:
        super().__init__()
        hidden = spec.hidden_channels
        if hidden % spec.heads:
            raise ValueError(f"model.hidden_channels={hidden} is not divisible by model.heads={spec.heads}")
        self.spec = spec
        self.in_channels = in_channels
        self.pe_dim = layout.pe_dim
        features = in_channels - self.pe_dim
        pe_out = 0
        if self.pe_dim:
            pe_out = spec.pe_channels if features else hidden
            if pe_out >= hidden and features:
                raise ValueError(f"model.pe_channels={pe_out} must be below model.hidden_channels={hidden}")
            self.pe_norm = (
                BatchNorm(self.pe_dim, allow_single_element=True) if spec.pe_norm else torch.nn.Identity()
            )
            self.pe_lin = torch.nn.Linear(self.pe_dim, pe_out)
        self.x_lin = torch.nn.Linear(features, hidden - pe_out) if features else None
        local = spec.local_spec()
        # The local layer takes edge features when the data has some and its layer can use them.
        self.uses_edges = local is not None and layout.edge_dim is not None and local.edge_features
        local_layout = Layout(edge_dim=layout.edge_dim if self.uses_edges else None)
        self.layers = torch.nn.ModuleList(
            GPSConv(
                hidden,
                None if local is None else local.init_conv(hidden, hidden, True, local_layout),
                heads=spec.heads,
                dropout=spec.dropout,
                act=spec.act,
                norm=NORMS[spec.norm],
                # A batch holding one node (a one-atom molecule) is normalised, not refused, as GIN's MLPs do.
                norm_kwargs={"allow_single_element": True} if spec.norm == "batch" else None,
                attn_type=spec.attn_type,
                attn_kwargs={"dropout": spec.attn_dropout},
            )
            for _ in range(spec.num_layers)
        )
        # Jumping knowledge and DropEdge as in the other models (gnnexp.models.gnn.GNN).
        self.jk = None if spec.jk in ("none", "last") else JumpingKnowledge(spec.jk, hidden, spec.num_layers)
        width = hidden * spec.num_layers if spec.jk == "cat" else hidden
        self.out = None if out_channels is None else torch.nn.Linear(width, out_channels)
        self.out_width = width if out_channels is None else out_channels

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None, batch: Tensor | None = None
    ) -> Tensor:
        """``batch``: each node's graph in a mini-batch of graphs (None: one graph)."""
        x = x.to_dense() if x.is_sparse or x.layout == torch.sparse_csr else x
        parts = []
        if self.x_lin is not None:
            parts.append(self.x_lin(x[:, : x.size(1) - self.pe_dim]))
        if self.pe_dim:
            parts.append(self.pe_lin(self.pe_norm(x[:, x.size(1) - self.pe_dim :])))
        h = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        if self.spec.drop_edge > 0 and self.training:
            edge_index, kept = dropout_edge(edge_index, p=self.spec.drop_edge, training=True)
            edge_attr = edge_attr[kept] if edge_attr is not None else None
        extra = {"edge_attr": edge_attr} if self.uses_edges and edge_attr is not None else {}
        hidden = []
        for layer in self.layers:
            h = layer(h, edge_index, batch, **extra)
            hidden.append(h)
        if self.jk is not None:
            h = self.jk(hidden)
        return h if self.out is None else self.out(h)

    def __repr__(self) -> str:
        return (
            f"GPS({self.in_channels}, {self.out_width}, hidden={self.spec.hidden_channels}, "
            f"layers={len(self.layers)}, local={self.spec.local}, pe={self.pe_dim})"
        )
