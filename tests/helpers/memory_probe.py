"""Peak memory of neighbour-sampled training steps, measured in a fresh process.

Usage: python -m tests.helpers.memory_probe NUM_NODES TRAIN_RATIO BATCH_SIZE STEPS
Prints the growth of the peak resident set (KiB) over the training steps alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def main() -> None:
    from gnnexp.data.neighbor_sampler import neighbor_loader
    from gnnexp.data.splits import random_node_masks
    from gnnexp.data.synthetic import planted_partition
    from gnnexp.models import MODELS

    num_nodes, train_ratio, batch_size, steps = (
        int(sys.argv[1]),
        float(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    torch.manual_seed(0)
    graph = planted_partition(num_nodes, 4, 32, 10.0, 0.8, 1.0, seed=0)
    train, _, _ = random_node_masks(num_nodes, train_ratio, 0.05, seed=0)
    loader = neighbor_loader(graph, train, [15, 10], batch_size, shuffle=True, backend="torch")
    model = MODELS["sage"](hidden_channels=64, num_layers=2).build(32, 4)
    optimizer = torch.optim.Adam(model.parameters())

    def train(steps: int) -> None:
        for step, batch in enumerate(loader):
            if step == steps:
                break
            optimizer.zero_grad()
            out = model(batch.x, batch.edge_index)[: batch.batch_size]
            F.cross_entropy(out, batch.y[: batch.batch_size]).backward()
            optimizer.step()

    # One-off allocations (autograd engine, optimizer state, allocator pools) are made
    # before measuring; they would otherwise swamp the per-batch differences.
    train(2)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    before = rss_kib("VmRSS")
    train(steps)
    print(rss_kib("VmHWM") - before)


if __name__ == "__main__":
    main()
