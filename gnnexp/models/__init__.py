"""Model registry and the built-in architectures."""

from gnnexp.models import gnn  # noqa: F401  (registers the built-in architectures)
from gnnexp.models.registry import MODELS, build_encoder, build_model, count_parameters, register_model

__all__ = ["MODELS", "build_encoder", "build_model", "count_parameters", "register_model"]
