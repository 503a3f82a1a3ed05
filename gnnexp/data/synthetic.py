"""A planted-partition graph with class-correlated features, generated from a seed.

Vectorised end to end (no Python loop over nodes or edges) so that graphs of millions of
nodes are generated in seconds; the same seed always gives the same graph.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data


def planted_partition(
    num_nodes: int,
    num_classes: int,
    num_features: int,
    avg_degree: float,
    homophily: float,
    feature_signal: float,
    seed: int,
) -> Data:
    """A random graph whose edges stay inside a class with probability ``homophily``.

    Labels are balanced; features are a class centroid scaled by ``feature_signal`` plus
    unit Gaussian noise.
    """
    gen = torch.Generator().manual_seed(seed)
    n, c = num_nodes, num_classes
    y = torch.arange(n) % c
    y = y[torch.randperm(n, generator=gen)]

    # Members of each class laid out contiguously: class k owns members[start[k]:start[k]+count[k]].
    members = torch.argsort(y, stable=True)
    count = torch.bincount(y, minlength=c)
    start = torch.cumsum(count, 0) - count

    num_pairs = round(n * avg_degree / 2)
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
    return Data(x=x, edge_index=edge_index, y=y)


def node_regression_target(data: Data, seed: int) -> Tensor:
    """A smooth real target: the neighbourhood mean of a random projection of the features."""
    gen = torch.Generator().manual_seed(seed + 1)
    score = data.x @ torch.randn(data.x.size(1), generator=gen)
    src, dst = data.edge_index
    total = torch.zeros(data.num_nodes).index_add_(0, dst, score[src])
    count = torch.zeros(data.num_nodes).index_add_(0, dst, torch.ones_like(score[src]))
    y = 0.5 * score + total / count.clamp(min=1)
    y = y + 0.1 * torch.randn(data.num_nodes, generator=gen)
    return (y - y.mean()) / y.std()


def random_graphs(
    num_graphs: int, min_nodes: int, max_nodes: int, num_features: int, regression: bool, seed: int
) -> list[Data]:
    """Erdos-Renyi graphs, sparse (edge probability 0.1-0.25) or dense (0.35-0.5).

    Classification label: dense or not; regression target: the mean node degree.
    """
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(num_graphs):
        n = int(torch.randint(min_nodes, max_nodes + 1, (1,), generator=gen))
        dense = bool(torch.rand(1, generator=gen) < 0.5)
        p = (0.35 if dense else 0.1) + 0.15 * float(torch.rand(1, generator=gen))
        upper = torch.triu(torch.rand(n, n, generator=gen) < p, diagonal=1)
        src, dst = upper.nonzero().t()
        edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
        mean_degree = 2 * src.numel() / n
        x = 1 + 0.1 * torch.randn(n, num_features, generator=gen)
        y = torch.tensor([mean_degree], dtype=torch.float) if regression else torch.tensor([int(dense)])
        graphs.append(Data(x=x, edge_index=edge_index, y=y))
    return graphs
