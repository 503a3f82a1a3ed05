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

import torch
import torch.distributed as torch_dist

from gnnexp.util.ranks import SINGLE, Dist, shard

__all__ = ["SINGLE", "Dist", "backend", "join_torchrun", "local_device", "shard", "under_torchrun"]


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
