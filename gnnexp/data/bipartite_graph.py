"""The generator behind ``dataset=bipartite`` (``gnnexp.data.bipartite``): users rating items
with planted taste groups, as a ``HeteroData``."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch_geometric.data import HeteroData

from gnnexp.data.bipartite import ITEM, RATES, USER
from gnnexp.data.loading import GraphData
from gnnexp.errors import ConfigError
from gnnexp.util.memory import check_fits


def load_bipartite(cfg: DictConfig) -> GraphData:
    """The graph ``cfg`` (the dataset node) describes, checked before it is drawn."""
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
) -> HeteroData:
    """A ``HeteroData`` of users rating items; ``graph[USER].group`` and ``graph[ITEM].group``
    hold the planted groups, features (when asked for) are noise plus a weak group signal."""
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
