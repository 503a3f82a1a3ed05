"""``dataset=bipartite``: users and items with planted taste groups, generated locally.

Each user and each item belongs to one of ``num_groups`` groups; a user rates
``interactions_per_user`` distinct items, a share ``in_group`` of them (in expectation) from its
own group, every pick weighted by the item's popularity (Zipf-like). A model that reads the
graph finds the groups; ranking items by popularity alone cannot. The declaration is
torch-free; the generator is ``gnnexp.data.bipartite_graph``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gnnexp.config.components import component, option
from gnnexp.data.datasets import DatasetSpec

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData

# The node and edge types of the generated graph (``task.edge_type=[user,rates,item]``).
USER, ITEM, RATES = "user", "item", "rates"


@component("dataset", "bipartite")
class Bipartite(DatasetSpec):
    """Users rating items, with planted taste groups: a recommendation graph (no download)."""

    level: str = option(
        "hetero", doc="what the labels belong to (typed nodes and edges)", choices=("hetero",)
    )
    num_users: int = option(300, doc="user nodes", ge=2)
    num_items: int = option(200, doc="item nodes", ge=2)
    num_groups: int = option(5, doc="taste groups of users and items", ge=1)
    interactions_per_user: int = option(12, doc="distinct items each user rates", ge=1)
    in_group: float = option(0.8, doc="share of a user's ratings inside its group", ge=0, le=1)
    popularity: float = option(0.5, doc="Zipf exponent of item popularity (0: uniform)", ge=0)
    num_features: int = option(0, doc="feature columns per node (0: none; learned embeddings)", ge=0)
    reverse: bool = option(True, doc="also store item -> user edges as rev_rates")
    data_seed: int = option(0, doc="seed of the generated graph", ge=0)

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.bipartite_graph import load_bipartite

        return load_bipartite(cfg)
