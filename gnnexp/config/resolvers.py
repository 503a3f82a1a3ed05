"""OmegaConf resolvers that gnnexp's configs use (registered before any composition)."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from gnnexp.config.combinations import natural_mode


def fresh_dir(parent: str, name: str) -> str:
    """``name``, or ``name_2``, ``name_3``...: the first that does not exist under ``parent``.

    The directory is created here, atomically, so two runs started in the same second (or
    a sweep resumed into its old directory) never write into each other's output.
    """
    root = Path(parent)
    root.mkdir(parents=True, exist_ok=True)
    # Overrides may hold paths (dataset.edges=/data/x.csv): one flat, bounded name.
    name = name.replace(os.sep, "_")[:120] or "job"
    candidate, n = name, 1
    while True:
        try:
            os.mkdir(root / candidate)
            return candidate
        except FileExistsError:
            n += 1
            candidate = f"{name}_{n}"


def direction(monitor: str, mode: str, metric: str) -> str:
    """``minimize`` or ``maximize`` for a sweeper, from what ``trainer.monitor`` watches."""
    if mode == "auto":
        mode = natural_mode(monitor, metric)
    return "minimize" if mode == "min" else "maximize"


def register_resolvers() -> None:
    """Make ``${gnnexp.fresh_dir:...}`` and ``${gnnexp.direction:...}`` available (idempotent)."""
    if not OmegaConf.has_resolver("gnnexp.fresh_dir"):
        # Cached: every later resolution in the same config (and in the jobs of a sweep,
        # which copy the cache) sees the directory created by the first.
        OmegaConf.register_new_resolver("gnnexp.fresh_dir", fresh_dir, use_cache=True)
    if not OmegaConf.has_resolver("gnnexp.direction"):
        OmegaConf.register_new_resolver("gnnexp.direction", direction)
