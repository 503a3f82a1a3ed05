"""Tasks: what a batch is, how the loss is computed and how a split is evaluated.

The kinds are declared in ``kinds`` (torch-free); ``build_task`` loads torch on first use.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("Task", "build_task"):
        from gnnexp.tasks import base

        return getattr(base, name)
    raise AttributeError(name)


__all__ = ["Task", "build_task"]
