"""A planted-partition graph with class-correlated features, generated from a seed.

Vectorised end to end (no Python loop over nodes or edges) so that graphs of millions of
nodes are generated in seconds; the same seed always gives the same graph.
"""

from __future__ import annotations

import torch
from torch_geometric.data import Data


def planted_partition(
    num_nodes: int,
    num_classes: int,
    num_features: int,
    avg_degree: float,
    homophily: float,
    feature_signal: float,
    train_ratio: float,
    val_ratio: float,
    seed: int,
) -> Data:
    """A random graph whose edges stay inside a class with probability ``homophily``.

    Labels are balanced; features are a class centroid scaled by ``feature_signal`` plus
    unit Gaussian noise; masks split a random permutation by ``train_ratio``/``val_ratio``.
    """
    gen = torch.Generator().manual_seed(seed)
    n, c = num_nodes, num_classes
    y = torch.arange(n) % c
    y = y[torch.randperm(n, generator=gen)]

    # Members of each class laid out contiguously: class k owns members[start[k]:start[k]+count[k]].
    members = torch.argsort(y, stable=True)
    count = torch.bincount(y, minlength=c)
    start = torch.cumsum(count, 0) - count

    num_pairs = int(round(n * avg_degree / 2))
    src = torch.randint(0, n, (num_pairs,), generator=gen)
    same = torch.rand(num_pairs, generator=gen) < homophily
    shift = torch.randint(1, max(c, 2), (num_pairs,), generator=gen)
    dst_class = torch.where(same, y[src], (y[src] + shift) % c)
    offset = (torch.rand(num_pairs, generator=gen) * count[dst_class]).long()
    dst = members[start[dst_class] + offset]

    keep = src != dst
    src, dst = src[keep], dst[keep]
    # Undirected and without duplicates: encode each directed edge as one integer and unique it.
    code = torch.cat([src * n + dst, dst * n + src]).unique()
    edge_index = torch.stack([code // n, code % n])

    centroids = torch.randn(c, num_features, generator=gen)
    x = feature_signal * centroids[y] + torch.randn(n, num_features, generator=gen)

    perm = torch.randperm(n, generator=gen)
    n_train = int(train_ratio * n)
    n_val = int(val_ratio * n)
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][perm[:n_train]] = True
    masks[1][perm[n_train : n_train + n_val]] = True
    masks[2][perm[n_train + n_val :]] = True
    return Data(x=x, edge_index=edge_index, y=y, train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])
