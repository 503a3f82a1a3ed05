"""Data-parallel training on torch.distributed: ``trainer.strategy=ddp``.

The CLI launches ``trainer.num_processes`` processes itself (``torch.multiprocessing``), or
runs under ``torchrun``, which sets ``RANK``/``WORLD_SIZE``. Each process trains on a
disjoint shard of the training seed nodes with the neighbour loader, gradients are
averaged by ``DistributedDataParallel`` (gloo on CPU, NCCL on GPU), every process
evaluates the same weights (so early stopping and schedules agree without messages), and
only rank 0 prints and writes files.
"""

from __future__ import annotations

import os
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


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def join_torchrun(device: torch.device) -> Dist:
    """Join the process group that torchrun set up in the environment."""
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend(device), init_method="env://")
    return Dist(torch_dist.get_rank(), torch_dist.get_world_size())


def local_device(device: torch.device, dist: Dist) -> torch.device:
    """One GPU per process (by local rank) when training on CUDA."""
    if device.type != "cuda" or not dist.active:
        return device
    local = int(os.environ.get("LOCAL_RANK", dist.rank)) % torch.cuda.device_count()
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


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
