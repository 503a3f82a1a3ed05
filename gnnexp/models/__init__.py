"""Model registry and the built-in architectures.

Every module in this package is imported here, so a new architecture is one module with a
``@register_model`` class (plus its YAML file); nothing else needs to list it.
"""

import importlib
import pkgutil

from gnnexp.models.registry import MODELS, build_encoder, build_model, count_parameters, register_model

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MODELS", "build_encoder", "build_model", "count_parameters", "register_model"]
