"""Datasets: declared in ``datasets`` (torch-free), loaded by ``loading``."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # The loading code imports torch and PyG: only on first use.
    if name in ("GraphData", "load_dataset"):
        from gnnexp.data import loading

        return getattr(loading, name)
    raise AttributeError(name)


__all__ = ["GraphData", "load_dataset"]
