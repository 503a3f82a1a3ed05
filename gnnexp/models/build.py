"""A model from its config node: a built-in architecture by name, or a user's own class."""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gnnexp.config.components import instance
from gnnexp.config.trust import import_target
from gnnexp.errors import ConfigError
from gnnexp.models.archs import NOT_ARCHITECTURE, GNNSpec, ModelSpec
from gnnexp.models.layout import PLAIN, Layout
from gnnexp.util.memory import check_fits


def model_spec(cfg: DictConfig | dict[str, Any]) -> GNNSpec | None:
    """The declared architecture ``cfg`` names, with its settings; None for a user's own
    class (``_target_``)."""
    if cfg.get("_target_"):
        return None
    spec: ModelSpec = instance("model", cfg)
    return spec if isinstance(spec, GNNSpec) else None


def _target_kwargs(cfg: DictConfig, cls: type) -> dict[str, Any]:
    """The keys of a user's model node that its class takes, checked against its signature."""
    fields = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(fields, dict)
    kwargs = {str(k): v for k, v in fields.items() if k not in NOT_ARCHITECTURE}
    params = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(k for k in kwargs if k not in params)
        if unknown:
            raise ConfigError(
                f"model._target_={cfg._target_} takes no argument {', '.join(unknown)} "
                f"(it takes {', '.join(p for p in params if p not in ('in_channels', 'out_channels'))}).",
                f"remove model.{unknown[0]} from the config, or add it to {cls.__name__}'s constructor.",
            )
    return kwargs


def build_model(
    cfg: DictConfig, in_channels: int, out_channels: int | None, layout: Layout = PLAIN
) -> torch.nn.Module:
    """Instantiate ``cfg`` (a built-in name, or ``_target_``: a user's class path).

    ``out_channels=None`` asks a built-in architecture for an encoder (see ``GNN``).
    """
    spec = model_spec(cfg)
    if spec is not None:
        _check_size(spec, in_channels, out_channels, layout)
        try:
            return spec.build(in_channels, out_channels, layout)
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"model={spec.name} cannot be built with these settings: {err}",
                "check the model.* values (gnnexp list model shows them).",
            ) from err
    cls = import_target(str(cfg._target_), "model._target_")
    kwargs = _target_kwargs(cfg, cls)
    try:
        return cls(in_channels=in_channels, out_channels=out_channels, **kwargs)
    except (RuntimeError, MemoryError) as err:
        if not isinstance(err, MemoryError) and "allocate" not in str(err):
            raise
        raise ConfigError(
            f"model={cfg.name} does not fit in memory with these settings (torch: {str(err).splitlines()[0]})",
            "lower the model's sizes (model.hidden_channels, ...).",
        ) from None
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"model={cfg.name} cannot be built with these settings: {err}",
            "check the model.* values against the model's documentation.",
        ) from err


# Bytes a parameter costs in training: its value, its gradient and Adam's two moments.
_TRAINING_BYTES_PER_PARAMETER = 16


def _check_size(spec: GNNSpec, in_channels: int, out_channels: int | None, layout: Layout) -> None:
    """Refuse a built-in model too large for this machine before allocating it: the same
    build on torch's meta device has the real shapes and no storage."""
    try:
        with torch.device("meta"):
            params = float(count_parameters(spec.build(in_channels, out_channels, layout)))
    except (RuntimeError, OverflowError) as err:
        if "overflow" not in str(err).lower():
            return  # not a size problem: the real build reports it
        params = math.inf  # a single weight's size overflows int64
    except (TypeError, ValueError):
        return
    shown = f"{int(params):,}" if math.isfinite(params) else "more than int64 counts of"
    check_fits(
        params * _TRAINING_BYTES_PER_PARAMETER,
        f"model={spec.name} has {shown} parameters with these settings; training them "
        "(weights, gradients, optimizer state)",
        "lower model.hidden_channels (or model.num_layers, model.heads).",
    )


def build_encoder(cfg: DictConfig, in_channels: int, layout: Layout = PLAIN) -> tuple[torch.nn.Module, int]:
    """A node encoder and the width of its output, for readouts and link decoders.

    A user's own class (``_target_``) is asked for ``hidden_channels`` outputs.
    """
    if cfg.get("_target_"):
        return build_model(cfg, in_channels, cfg.hidden_channels), int(cfg.hidden_channels)
    encoder = build_model(cfg, in_channels, None, layout)
    return encoder, int(encoder.out_width)  # type: ignore[arg-type]  # torch types __getattr__ as Tensor | Module


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
