"""Declared components: each option of a config group is one class whose fields are its settings.

A component is a dataclass registered with :func:`component`. Its fields carry their default,
their type, and (through :func:`option`) the allowed values or range and a one-line help
text. Everything else is derived from these declarations: the schemas Hydra composes with
(``base_<name>``), value checks and their messages, ``gnnexp list`` and the docs tables.

The declaration modules stay free of torch: ``gnnexp --help``, ``gnnexp list`` and config
composition import them, and the classes import torch and PyG only inside the methods that
build something.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from omegaconf import MISSING, OmegaConf

T = TypeVar("T")

# group -> the key that names the chosen component (the declarations: gnnexp.registry); "":
# a list group (logger=[csv,mlflow]), whose node maps each chosen name to its settings
GROUPS: dict[str, str] = {
    "model": "name",
    "dataset": "source",
    "task": "kind",
    "loader": "kind",
    "optimizer": "name",
    "scheduler": "name",
    "logger": "",
    "transform": "",
}

SCHEMA_PREFIX = "base_"

_REGISTRY: dict[str, dict[str, type]] = {group: {} for group in GROUPS}
_BASES: dict[str, type] = {}


def option(
    default: Any = MISSING,
    *,
    doc: str,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
    rule: tuple[Callable[[Any], bool], str] | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A setting: its default, a one-line ``doc``, and what values it accepts.

    ``ge``/``gt``/``le``/``lt`` bound a number (each item of a list of numbers); ``choices``
    lists the allowed values; ``rule`` is ``(check, "what it must be")`` for anything else.
    """
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "rule": rule}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def component(group: str, name: str) -> Callable[[type[T]], type[T]]:
    """Register a dataclass as option ``name`` of ``group`` (``model=name`` on the command line).

    The class's first docstring line is its description; its ``name`` (or ``kind``/``source``)
    field defaults to ``name``, so option files need not repeat it.
    """

    def register(cls: type[T]) -> type[T]:
        if "__dataclass_fields__" not in cls.__dict__:  # a subclass: its own fields too
            cls = dataclasses.dataclass(cls)
        key = GROUPS[group]
        own = cls.__dict__["__dataclass_fields__"]
        if key in own:
            # A copy: an inherited Field object is shared with the parent class.
            own[key] = field = copy.copy(own[key])
            field.default = name
            setattr(cls, key, name)
        cls.__component__ = (group, name)  # type: ignore[attr-defined]
        _REGISTRY[group][name] = cls
        return cls

    return register


def group_base(group: str) -> Callable[[type[T]], type[T]]:
    """Register the settings every option of ``group`` shares, as ``<group>/base_<group>``:
    the schema of a user's own option file (``defaults: [base_model, _self_]``)."""

    def register(cls: type[T]) -> type[T]:
        _BASES[group] = cls
        return cls

    return register


def base_of(group: str) -> type | None:
    return _BASES.get(group)


def declared(group: str) -> dict[str, type[Any]]:
    """Name -> class of every component of ``group`` (built-in and registered by the user)."""
    return dict(_REGISTRY[group])


def lookup(group: str, name: str) -> type[Any] | None:
    return _REGISTRY[group].get(name)


def description(cls: type) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def settings(cls: type) -> Iterator[tuple[str, Any, dict[str, Any], Any]]:
    """``(name, default, metadata, type)`` of each setting of a component class."""
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        yield f.name, default, dict(f.metadata), f.type


def expected(meta: dict[str, Any], kind: Any) -> str:
    """What a setting must be, in words (the text of its error message)."""
    if meta.get("rule"):
        return str(meta["rule"][1])
    if meta.get("choices"):
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    integer = "int" in str(kind) and "float" not in str(kind)
    noun = "an integer" if integer else "a number"
    low = (
        ("[", meta["ge"])
        if meta.get("ge") is not None
        else ("(", meta["gt"])
        if meta.get("gt") is not None
        else None
    )
    high = (
        ("]", meta["le"])
        if meta.get("le") is not None
        else (")", meta["lt"])
        if meta.get("lt") is not None
        else None
    )
    if low and high:
        return f"{noun} in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{noun} {'>=' if low[0] == '[' else '>'} {low[1]:g}"
    if high:
        return f"{noun} {'<=' if high[0] == ']' else '<'} {high[1]:g}"
    return ""


def accepts(meta: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is allowed by a setting's metadata (``None`` always is: the type says
    whether it may be null)."""
    if value is None:
        return True
    if meta.get("rule") and not meta["rule"][0](value):
        return False
    if meta.get("choices") and value not in meta["choices"]:
        return False
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        if meta.get("ge") is not None and not item >= meta["ge"]:
            return False
        if meta.get("gt") is not None and not item > meta["gt"]:
            return False
        if meta.get("le") is not None and not item <= meta["le"]:
            return False
        if meta.get("lt") is not None and not item < meta["lt"]:
            return False
    return True


def non_finite(value: Any) -> bool:
    """A NaN or infinite number, alone or inside a list."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return any(isinstance(v, float) and not math.isfinite(v) for v in items)


def component_schema(group: str, name: str) -> tuple[type, bool] | None:
    """The class of the schema ``<group>/base_<name>`` and whether it is open to keys of its
    own (None: no such schema): a declared component's settings, or the open base a user's
    own option file starts from (``base_<group>``), whose class (``_target_``) may take more
    settings, checked against its constructor's signature when it is built."""
    cls = declared(group).get(name) if group in GROUPS else None
    if cls is not None:
        return cls, False
    if name == group and group in _BASES:
        return _BASES[group], True
    return None


def structured(cls: type, open_keys: bool = False) -> Any:
    """``OmegaConf.structured(cls)`` (``open_keys``: not in struct mode), a new node each call;
    a copy of the class's first one, which costs a quarter of making it again (a search
    composes every trial's schemas)."""
    node = copy.deepcopy(_first_node(cls))
    if open_keys:
        OmegaConf.set_struct(node, False)
    return node


@functools.cache
def _first_node(cls: type) -> Any:
    return OmegaConf.structured(cls)


def instance(group: str, node: Any) -> Any:
    """The declared component a config node chooses, with the node's settings."""
    from omegaconf import OmegaConf

    values = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    assert isinstance(values, dict)
    key = GROUPS[group]
    cls = declared(group)[str(values[key])]
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{str(k): v for k, v in values.items() if k in known})
