"""What may be imported: classes named by the user, never ones named only inside a file.

A config read back from a checkpoint or a run directory is data. Built-in components are
rebuilt from it by name; a ``_target_`` (a class path) or an ``imports`` entry (a module)
found there is imported only when the user repeats it on this command line, or says
``--trust-config``. Whoever forges a checkpoint also writes its checksum, so the checksum
proves nothing about who wrote the config.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from gnnexp.errors import ConfigError


def import_target(path: str, key: str) -> Any:
    """The class or function ``path`` (``package.module.Name``) names, as one-line errors."""
    module_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except Exception as err:
        raise ConfigError(
            f"{key}={path} cannot be imported ({type(err).__name__}: {err}).",
            "check the dotted path and that its package is importable (PYTHONPATH).",
        ) from err


def import_modules(modules: list[str] | None) -> None:
    """Import the user's modules listed under ``imports``, which register their components."""
    for name in modules or []:
        try:
            importlib.import_module(str(name))
        except Exception as err:
            raise ConfigError(
                f"imports: module {name} cannot be imported ({type(err).__name__}: {err}).",
                "check the module name and that it is on PYTHONPATH.",
            ) from err


def _code_references(node: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(key, value)`` of every ``_target_`` and ``imports`` entry inside a plain config."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if key == "_target_" and value:
                yield path, str(value)
            elif key == "imports" and not prefix and value:
                for module in value:
                    yield "imports", str(module)
            else:
                yield from _code_references(value, f"{path}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _code_references(value, f"{prefix}{i}.")


def check_stored_config(config: dict[str, Any], overrides: list[str], source: str, trusted: bool) -> None:
    """Refuse a stored config that would import code the user did not name on this command line."""
    if trusted:
        return
    said = " ".join(overrides)
    for key, value in _code_references(config):
        if value not in said:
            raise ConfigError(
                f"{source} names code to import ({key}={value}); gnnexp does not import code "
                "named only inside a file.",
                f"if you trust this file, repeat it on the command line ({key}={value}) or add --trust-config.",
            )
