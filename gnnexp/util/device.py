"""``device.type`` -> a torch device, refusing CUDA where there is none."""

from __future__ import annotations

import torch

from gnnexp.errors import ConfigError


def resolve_device(kind: str) -> torch.device:
    """``auto`` picks CUDA when present; ``cuda`` without a GPU is a clear error."""
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise ConfigError(
            f"device=cuda was requested but no CUDA GPU is available (torch {torch.__version__} is {build}).",
            "use device=cpu or device=auto, or install a CUDA build of torch on a GPU machine.",
        )
    return torch.device(kind)
