"""The native heterogeneous architectures (HGT, R-GCN on the typed graph), declared (torch-free).

Every built-in architecture also runs on a typed graph through PyG's ``to_hetero``
(``gnnexp.models.hetero``); these two read node and edge types themselves, so they run on
typed graphs only (``hetero_only``: refused on a plain graph before anything loads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from gnnexp.config.components import component, option
from gnnexp.models.archs import ModelSpec

if TYPE_CHECKING:
    import torch


class HeteroSpec(ModelSpec):
    """A model that reads node and edge types itself (``core`` builds it after the encoders)."""

    hetero_only: ClassVar[bool] = True

    def core(self, metadata: Any, hidden: int, out_channels: int) -> torch.nn.Module:
        """Node-type dict in (each of width ``hidden``) -> node-type dict out (``out_channels``)."""
        raise NotImplementedError


@component("model", "hgt")
class HGT(HeteroSpec):
    """Heterogeneous graph transformer (Hu et al. 2020, PyG's HGTConv): attention per edge type."""

    heads: int = option(2, doc="attention heads (must divide hidden_channels)", ge=1)

    def core(self, metadata: Any, hidden: int, out_channels: int) -> Any:
        from gnnexp.models.hetero_cores import HGTCore

        if hidden % self.heads:
            raise ValueError(f"model.hidden_channels={hidden} is not a multiple of model.heads={self.heads}")
        return HGTCore(self, metadata, hidden, out_channels)


@component("model", "rgcn_hetero")
class RGCNHetero(HeteroSpec):
    """Relational GCN (Schlichtkrull et al. 2018, PyG's RGCNConv) on a typed graph: a weight per edge type."""

    num_bases: int = option(0, doc="basis matrices shared by the relations (0: a full weight each)", ge=0)
    aggr: str = option("mean", doc="neighbour aggregation per relation", choices=("mean", "sum", "max"))

    def core(self, metadata: Any, hidden: int, out_channels: int) -> Any:
        from gnnexp.models.hetero_cores import RGCNCore

        return RGCNCore(self, metadata, hidden, out_channels)
