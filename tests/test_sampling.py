"""The pure-torch neighbour sampler: correct edges, fan-outs, no duplicates, uniformity."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from scipy.stats import chisquare
from torch_geometric.data import Data
from torch_geometric.utils import coalesce

from gnnexp.data.neighbor_sampler import TorchNeighborSampler, neighbor_loader, sample_without_replacement
from tests.conftest import REPO


def random_graph(num_nodes: int, num_edges: int, seed: int) -> Data:
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    # A few hubs so that every sampling regime (take all, sort keys, rejection) is hit.
    hubs = torch.stack(
        [
            torch.randint(0, num_nodes, (num_edges // 2,), generator=gen),
            torch.zeros(num_edges // 2, dtype=torch.long),
        ]
    )
    edge_index = coalesce(torch.cat([edge_index, hubs], dim=1), num_nodes=num_nodes)
    return Data(x=torch.randn(num_nodes, 3, generator=gen), edge_index=edge_index, num_nodes=num_nodes)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fanouts", [[3], [5, 2], [-1, 4], [1, 1, 1]])
def test_sampled_edges_exist_and_fanout_is_min_of_degree_and_k(seed, fanouts):
    torch.manual_seed(seed)
    graph = random_graph(200, 800, seed)
    sampler = TorchNeighborSampler(graph, fanouts)
    edges = set(map(tuple, graph.edge_index.t().tolist()))
    in_degree = torch.bincount(graph.edge_index[1], minlength=200)
    seeds = torch.randperm(200)[:20]
    out = sampler.sample(seeds)
    node = out.node
    assert torch.equal(node[:20], seeds)  # seeds first
    assert node.unique().numel() == node.numel()  # each node once
    src, dst = node[out.row], node[out.col]
    assert all((s, d) in edges for s, d in zip(src.tolist(), dst.tolist(), strict=True))
    # The global edge ids point at exactly these edges.
    assert torch.equal(graph.edge_index[:, out.edge], torch.stack([src, dst]))
    start = 0
    frontier = seeds
    for hop, k in enumerate(fanouts):
        count = out.num_sampled_edges[hop]
        hop_dst, hop_src = dst[start : start + count], src[start : start + count]
        pairs = hop_dst * 200 + hop_src
        assert pairs.unique().numel() == pairs.numel()  # without replacement
        per_node = torch.bincount(hop_dst, minlength=200)
        limit = in_degree if k < 0 else in_degree.clamp(max=k)
        assert torch.equal(per_node[frontier], limit[frontier])
        mask = torch.ones(200, dtype=torch.bool)
        mask[frontier] = False
        assert int(per_node[mask].sum()) == 0  # only the frontier is expanded
        start += count
        hop_nodes = out.num_sampled_nodes[hop + 1]
        offset = sum(out.num_sampled_nodes[: hop + 1])
        frontier = node[offset : offset + hop_nodes]


@pytest.mark.parametrize(("degree", "k"), [(10, 3), (10, 9), (50, 3)])
def test_sampling_is_uniform_on_a_star(degree, k):
    """Chi-square over many draws: every leaf of a star is chosen equally often."""
    torch.manual_seed(0)
    leaves = torch.arange(1, degree + 1)
    star = Data(edge_index=torch.stack([leaves, torch.zeros(degree, dtype=torch.long)]), num_nodes=degree + 1)
    sampler = TorchNeighborSampler(star, [k])
    counts = torch.zeros(degree + 1)
    draws = 4000
    for _ in range(draws):
        out = sampler.sample(torch.tensor([0]))
        counts[out.node[1:]] += 1
    observed = counts[1:].numpy()
    assert observed.sum() == draws * k
    assert chisquare(observed).pvalue > 1e-3


def test_sample_without_replacement_regimes():
    torch.manual_seed(0)
    degree = torch.tensor([0, 2, 5, 7, 40, 1000])
    owner, offset = sample_without_replacement(degree, 5)
    counts = torch.bincount(owner, minlength=6)
    assert counts.tolist() == [0, 2, 5, 5, 5, 5]
    assert bool((offset < degree[owner]).all()) and bool((offset >= 0).all())
    pairs = owner * 10_000 + offset
    assert pairs.unique().numel() == pairs.numel()


def test_loader_batches_hold_the_requested_seeds_first():
    torch.manual_seed(0)
    graph = random_graph(300, 1500, 1)
    graph.y = torch.arange(300)
    train = torch.zeros(300, dtype=torch.bool)
    train[:250] = True
    loader = neighbor_loader(graph, train, [4, 3], batch_size=64, shuffle=True, backend="torch")
    seen = []
    for batch in loader:
        assert batch.batch_size == min(64, 250 - len(seen))
        seeds = batch.n_id[: batch.batch_size]
        seen.extend(seeds.tolist())
        assert torch.equal(batch.x, graph.x[batch.n_id])
        assert torch.equal(batch.y[: batch.batch_size], seeds)  # y follows n_id, seeds first
        assert batch.edge_index.max() < batch.num_nodes
    assert sorted(seen) == list(range(250))


def _peak_growth(num_nodes: int, train_ratio: float, batch_size: int) -> int:

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.helpers.memory_probe",
            str(num_nodes),
            str(train_ratio),
            str(batch_size),
            "12",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        # glibc keeps freed blocks mapped, so the resident peak would depend on the heap's
        # history; with mmap'd large blocks and one thread it follows the live tensors.
        env={
            **os.environ,
            "MALLOC_MMAP_THRESHOLD_": "65536",
            "MALLOC_TRIM_THRESHOLD_": "0",
            "OMP_NUM_THREADS": "1",
        },
    )
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc")
def test_peak_memory_grows_with_batch_size_not_with_training_nodes():
    small = _peak_growth(200_000, 0.1, 256)
    many_train_nodes = _peak_growth(200_000, 0.9, 256)
    big_batches = _peak_growth(200_000, 0.1, 2048)
    # 8x the batch size: the peak grows several-fold. 9x the training nodes: only the
    # per-epoch shuffled index and its copies grow (~6 MB of ~45 MB).
    assert small > 10_000, small  # a 2-hop batch of 256 seeds and its gradients: tens of MB
    assert big_batches > 3 * small, (small, big_batches)
    assert many_train_nodes - small < 0.25 * (big_batches - small), (small, many_train_nodes, big_batches)
