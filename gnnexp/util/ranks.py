"""This process's place in a data-parallel group, and its share of the training nodes.

It sits below the tasks, which shard their seed nodes by it; ``gnnexp.training.distributed``
joins the group itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import Tensor


@dataclass(frozen=True)
class Dist:
    """This process's place in the group (a single process is rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank (a collective call)."""
        if not self.active:
            return flag
        value = torch.tensor([int(flag)])
        torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MAX)
        return bool(value.item())


SINGLE = Dist()


def shard(nodes: Tensor, dist: Dist) -> Tensor:
    """This rank's share of ``nodes`` (indices): disjoint, and equal in size on every rank.

    Like ``DistributedSampler``, the list wraps around to pad the last shards, so every
    rank runs the same number of batches (DDP steps must line up).
    """
    if not dist.active:
        return nodes
    per_rank = -(-nodes.numel() // dist.world_size)
    padded = torch.cat([nodes, nodes[: per_rank * dist.world_size - nodes.numel()]])
    return padded[dist.rank :: dist.world_size]
