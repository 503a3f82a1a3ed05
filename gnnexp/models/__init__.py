"""Models: the built-in architectures (``archs``, ``conv_archs``, ``gps_arch``), their shared body (``gnn``) and task heads.

Importing this package imports no torch: ``register_model`` and the architectures'
settings are needed to compose configs. ``build_model`` and friends load torch on first use.
"""

from __future__ import annotations

from typing import Any

from gnnexp.config.components import component, declared, option
from gnnexp.models.archs import GNNSpec, ModelSpec
from gnnexp.models.layout import PLAIN, Layout


def register_model(name: str) -> Any:
    """``@register_model("graphconv")`` makes a ``GNNSpec`` subclass selectable as ``model=graphconv``."""
    return component("model", name)


def __getattr__(name: str) -> Any:
    # The builders import torch: loaded on first use only.
    if name in ("build_model", "build_encoder", "count_parameters", "model_spec"):
        from gnnexp.models import build

        return getattr(build, name)
    if name == "MODELS":
        return declared("model")
    raise AttributeError(name)


__all__ = ["PLAIN", "GNNSpec", "Layout", "ModelSpec", "declared", "option", "register_model"]
