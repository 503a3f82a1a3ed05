"""``model=lightgcn``: PyG's LightGCN for bipartite user-item graphs (torch-free declaration).

LightGCN has no layers to configure beyond the embedding width (``hidden_channels``) and the
propagation depth (``num_layers``); it learns one embedding per user and per item and reads
no features. It runs under ``task=recommend`` and ``task=hetero_link``, which build it
(:class:`gnnexp.models.lightgcn_net.LightGCNEncoder`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from gnnexp.config.components import component, option
from gnnexp.models.archs import ModelSpec


def _unused(default: Any, what: str) -> Any:
    """A setting every model has and LightGCN does not use: refused unless left as it is."""
    return option(
        default,
        doc=f"unused: LightGCN has no {what}",
        rule=(lambda value: value == default, f"{default} (LightGCN has no {what})"),
    )


@component("model", "lightgcn")
class LightGCNSpec(ModelSpec):
    """LightGCN (He et al. 2020): user and item embeddings averaged over propagation layers."""

    hidden_channels: int = option(64, doc="embedding width of each user and item", ge=1)
    num_layers: int = option(3, doc="propagation layers (their outputs are averaged)", ge=1)
    dropout: float = _unused(0.0, "dropout")
    act: str = _unused("relu", "activation")
    norm: str = _unused("none", "normalisation")
    jk: str = _unused("none", "jumping knowledge")
    residual: bool = _unused(False, "residual connections")
    drop_edge: float = _unused(0.0, "DropEdge")
    lr: float = option(0.01, doc="recommended learning rate (optimizer.lr follows it)", gt=0)
    weight_decay: float = option(
        0.0, doc="recommended L2 penalty (the BPR loss has its own: task.lambda_reg)", ge=0
    )

    # The task kinds that can train it: it needs a user-item edge type to propagate over.
    tasks: ClassVar[tuple[str, ...]] = ("recommend", "hetero_link")
    hetero_only: ClassVar[bool] = True  # refused on a plain graph before anything loads
