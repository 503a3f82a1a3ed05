"""``model.name`` -> class; a new architecture is one registered class plus one YAML file."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gnnexp.errors import ConfigError
from gnnexp.registry import registrar

MODELS: dict[str, type[torch.nn.Module]] = {}

# Config fields that are not constructor arguments of a model class.
NON_MODEL_KEYS = ("name", "_target_", "lr", "weight_decay", "readout")


# Class decorator: ``@register_model("gcn")`` makes the class buildable as ``model=gcn``.
register_model = registrar(MODELS)


def model_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """The constructor keyword arguments that a model config carries."""
    fields = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(fields, dict)
    return {str(k): v for k, v in fields.items() if k not in NON_MODEL_KEYS}


def build_model(cfg: DictConfig, in_channels: int, out_channels: int | None) -> torch.nn.Module:
    """Instantiate ``cfg`` (a built-in name, or ``_target_``: a user's class path).

    ``out_channels=None`` asks a built-in architecture for an encoder (see ``GNN``).
    """
    target = cfg.get("_target_")
    if target:
        from hydra.utils import get_class

        try:
            cls = get_class(target)
        except Exception as err:
            raise ConfigError(
                f"model._target_={target} cannot be imported ({err}).",
                "check the dotted path and that its package is importable (PYTHONPATH).",
            ) from err
    else:
        cls = MODELS[cfg.name]
    try:
        return cls(in_channels=in_channels, out_channels=out_channels, **model_kwargs(cfg))
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"model={cfg.name} cannot be built with these settings: {err}",
            "check the model.* values against the model's documentation.",
        ) from err


def build_encoder(cfg: DictConfig, in_channels: int) -> tuple[torch.nn.Module, int]:
    """A node encoder and the width of its output, for readouts and link decoders.

    A user's own class (``_target_``) is asked for ``hidden_channels`` outputs.
    """
    if cfg.get("_target_"):
        return build_model(cfg, in_channels, cfg.hidden_channels), int(cfg.hidden_channels)
    encoder = build_model(cfg, in_channels, None)
    return encoder, int(encoder.out_width)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
