"""The layer stack of a built-in architecture that ``to_hetero`` copies per edge type
(``gnnexp.models.hetero``), with its traceable dropout."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.resolver import activation_resolver

from gnnexp.models.archs import GNNSpec
from gnnexp.models.fast import sparse as fast
from gnnexp.models.gnn import make_norm
from gnnexp.models.layout import PLAIN, Layout


class Dropout(torch.nn.Module):
    """``torch.nn.Dropout``, or with ``uniform`` its masks drawn from uniform numbers (the same
    distribution, cheaper on CPU). A module, so that ``to_hetero``'s trace keeps it a call
    that reads ``training`` when it runs."""

    def __init__(self, p: float, uniform: bool) -> None:
        super().__init__()
        self.p, self.uniform = p, uniform

    def forward(self, x: Tensor) -> Tensor:
        return fast.dropout(x, self.p, self.training, self.uniform)


class Body(torch.nn.Module):
    """A built-in architecture's layers as a plain, traceable stack (what ``to_hetero`` copies):
    dropout, convolution, then for hidden layers norm, activation and a residual; jumping
    knowledge over the hidden layers. Layers that do not pass messages (the MLP's) read each
    node's own representation only."""

    def __init__(self, spec: GNNSpec, in_channels: int, out_channels: int, layout: Layout = PLAIN) -> None:
        super().__init__()
        self.jk = None if spec.jk == "none" else spec.jk
        width = spec.hidden_width()
        self.convs = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        self.acts = torch.nn.ModuleList()
        self.residual: list[bool] = []
        channels = in_channels
        for i in range(spec.num_layers):
            last = i == spec.num_layers - 1 and self.jk is None
            self.convs.append(
                spec.init_conv(channels, out_channels if last else spec.hidden_channels, last, layout)
            )
            if not last:
                self.norms.append(make_norm(spec.norm, width))
                self.acts.append(activation_resolver(spec.act))
                self.residual.append(spec.residual and channels == width)
            channels = width
        self.passing = [isinstance(conv, MessagePassing) for conv in self.convs]
        self.dropout = Dropout(spec.dropout, layout.uniform_dropout)
        if self.jk is not None:
            self.lin = torch.nn.Linear(width * spec.num_layers if self.jk == "cat" else width, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        hidden = []
        for i, conv in enumerate(self.convs):
            x_in = x
            x = self.dropout(x)
            x = conv(x, edge_index) if self.passing[i] else conv(x)
            if i < len(self.norms):
                x = self.acts[i](self.norms[i](x))
                if self.residual[i]:
                    x = x + x_in
                hidden.append(x)
        if self.jk is None:
            return x
        if self.jk == "cat":
            x = torch.cat(hidden, dim=-1)
        elif self.jk == "max":
            x = torch.stack(hidden, dim=0).max(dim=0).values
        else:
            x = hidden[-1]
        return self.lin(self.dropout(x))
