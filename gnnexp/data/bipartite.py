"""``dataset=bipartite``: users and items with planted taste groups, generated locally.

Each user and each item belongs to one of ``num_groups`` groups; a user rates
``interactions_per_user`` distinct items, a share ``in_group`` of them (in expectation) from its
own group, every pick weighted by the item's popularity (Zipf-like). A model that reads the
graph finds the groups; ranking items by popularity alone cannot. The declaration is
torch-free; the generator imports torch when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
        return load_bipartite(cfg)


def load_bipartite(cfg: DictConfig) -> GraphData:
    from gnnexp.data.loading import GraphData
    from gnnexp.errors import ConfigError
    from gnnexp.util.memory import check_fits

    if cfg.interactions_per_user > cfg.num_items:
        raise ConfigError(
            f"dataset.interactions_per_user={cfg.interactions_per_user} exceeds "
            f"dataset.num_items={cfg.num_items}: a user rates each item at most once.",
            "lower dataset.interactions_per_user (or raise dataset.num_items).",
        )
    # The users x items table of pick weights, while drawing.
    check_fits(
        8.0 * cfg.num_users * cfg.num_items,
        f"dataset=bipartite with {cfg.num_users:,} users and {cfg.num_items:,} items",
        "lower dataset.num_users or dataset.num_items.",
    )
    graph = planted_bipartite(
        cfg.num_users,
        cfg.num_items,
        cfg.num_groups,
        cfg.interactions_per_user,
        cfg.in_group,
        cfg.popularity,
        cfg.num_features,
        cfg.reverse,
        cfg.data_seed,
    )
    return GraphData(cfg.name, "hetero", graph, cfg.num_features, 0)


def planted_bipartite(
    num_users: int,
    num_items: int,
    num_groups: int,
    per_user: int,
    in_group: float,
    popularity: float,
    num_features: int = 0,
    reverse: bool = True,
    seed: int = 0,
) -> Any:
    """A ``HeteroData`` of users rating items; ``graph[USER].group`` and ``graph[ITEM].group``
    hold the planted groups, features (when asked for) are noise plus a weak group signal."""
    import torch
    from torch_geometric.data import HeteroData

    gen = torch.Generator().manual_seed(seed)
    user_group = torch.randint(num_groups, (num_users,), generator=gen)
    item_group = torch.randint(num_groups, (num_items,), generator=gen)
    rank = torch.randperm(num_items, generator=gen).float() + 1
    weight = rank.pow(-popularity)
    same = user_group.view(-1, 1) == item_group.view(1, -1)
    inside = (weight * same).sum(1, keepdim=True).clamp(min=1e-12)
    # Each user's pick probabilities: in_group of the mass on its group, the rest on all items.
    probs = in_group * weight * same / inside + (1 - in_group) * weight / weight.sum()
    probs = torch.where(same.any(1, keepdim=True), probs, weight.expand_as(probs))
    items = torch.multinomial(probs, per_user, replacement=False, generator=gen)
    users = torch.arange(num_users).repeat_interleave(per_user)
    graph = HeteroData()
    for node_type, groups, count in ((USER, user_group, num_users), (ITEM, item_group, num_items)):
        graph[node_type].num_nodes = count
        graph[node_type].group = groups
        if num_features:
            signal = torch.nn.functional.one_hot(groups % num_features, num_features).float()
            graph[node_type].x = torch.randn(count, num_features, generator=gen) + 0.5 * signal
    edges = torch.stack([users, items.reshape(-1)])
    graph[USER, RATES, ITEM].edge_index = edges
    if reverse:
        graph[ITEM, f"rev_{RATES}", USER].edge_index = edges.flip(0)
    return graph
