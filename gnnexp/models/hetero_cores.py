"""The cores of the native heterogeneous architectures (``gnnexp.models.hetero_archs``): HGT's
and R-GCN's layers over the encoded node types."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.resolver import activation_resolver

from gnnexp.models.hetero_inputs import EdgeType


class HGTCore(torch.nn.Module):
    """HGTConv layers (dropout before each, activation after) and a linear output per type."""

    def __init__(self, spec: Any, metadata: tuple[list[str], list[EdgeType]], hidden: int, out: int) -> None:
        from torch_geometric.nn import HGTConv

        super().__init__()
        self.dropout = spec.dropout
        self.act = activation_resolver(spec.act)
        self.convs = torch.nn.ModuleList(
            HGTConv(hidden, hidden, metadata, heads=spec.heads) for _ in range(spec.num_layers)
        )
        self.out = torch.nn.ModuleDict({t: torch.nn.Linear(hidden, out) for t in metadata[0]})

    def forward(self, h: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> dict[str, Tensor]:
        for conv in self.convs:
            h = {t: F.dropout(v, self.dropout, self.training) for t, v in h.items()}
            h = {t: self.act(v) for t, v in conv(h, edge_index_dict).items() if v is not None}
        return {t: self.out[t](F.dropout(v, self.dropout, self.training)) for t, v in h.items()}


class RGCNCore(torch.nn.Module):
    """RGCNConv layers over the typed graph laid out as one graph with an edge type per edge."""

    def __init__(self, spec: Any, metadata: tuple[list[str], list[EdgeType]], hidden: int, out: int) -> None:
        from torch_geometric.nn import RGCNConv

        super().__init__()
        self.node_types, self.edge_types = list(metadata[0]), list(metadata[1])
        self.dropout = spec.dropout
        self.act = activation_resolver(spec.act)
        relations = len(self.edge_types)
        bases = spec.num_bases or None
        self.convs = torch.nn.ModuleList(
            RGCNConv(
                hidden,
                out if i == spec.num_layers - 1 else hidden,
                relations,
                num_bases=bases,
                aggr=spec.aggr,
            )
            for i in range(spec.num_layers)
        )

    def forward(self, h: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> dict[str, Tensor]:
        offsets, start = {}, 0
        for t in self.node_types:
            offsets[t], start = start, start + h[t].size(0)
        x = torch.cat([h[t] for t in self.node_types])
        edges, kinds = [], []
        for i, (src, rel, dst) in enumerate(self.edge_types):
            ei = edge_index_dict[(src, rel, dst)]
            shift = torch.tensor([[offsets[src]], [offsets[dst]]], device=ei.device)
            edges.append(ei + shift)
            kinds.append(torch.full((ei.size(1),), i, dtype=torch.long, device=ei.device))
        edge_index, edge_type = torch.cat(edges, 1), torch.cat(kinds)
        for i, conv in enumerate(self.convs):
            x = conv(F.dropout(x, self.dropout, self.training), edge_index, edge_type)
            if i < len(self.convs) - 1:
                x = self.act(x)
        return {t: x[offsets[t] : offsets[t] + h[t].size(0)] for t in self.node_types}
