"""The GPS graph transformer, declared (``gnnexp.models.archs``): a built-in model's layer as
its local message passing, plus global attention. No torch or PyG at import time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gnnexp.config.components import component, option
from gnnexp.models.archs import GNNSpec
from gnnexp.models.layout import PLAIN, Layout

if TYPE_CHECKING:
    import torch


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
