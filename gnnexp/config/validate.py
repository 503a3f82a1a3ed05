"""Value checks on a composed config, run before anything is built or written.

Types and key names are checked by the schemas at composition. Ranges, allowed values and
finiteness are checked against what each component declares (``option(...)``); this
module itself only knows the combinations of settings that make no sense together.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gnnexp.config.combinations import _SKIP, check_combinations, get, metric_name, natural_mode
from gnnexp.config.components import (
    GROUPS,
    accepts,
    base_of,
    declared,
    expected,
    lookup,
    non_finite,
    settings,
)
from gnnexp.config.schema import NODES, CheckpointConfig, Config
from gnnexp.errors import ConfigError, did_you_mean
from gnnexp.metrics import METRICS

# Whether a larger value of each metric is better (from the metric declarations).
METRIC_MODES = {name: metric.mode for name, metric in METRICS.items()}


def _example(default: Any) -> str:
    if isinstance(default, list):
        return "[" + ",".join(str(v) for v in default) + "]"
    return "null" if default is None else str(default)


def _check_value(key: str, value: Any, meta: dict[str, Any], kind: Any, default: Any) -> None:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if non_finite(value):
        raise ConfigError(
            f"{key}={value} is not a finite number.", f"use a finite value, e.g. {key}={_example(default)}."
        )
    if accepts(meta, value):
        return
    choices = meta.get("choices")
    if choices:
        names = [str(c) for c in choices]
        raise ConfigError(
            f"{key}={value} is not one of {', '.join(names)}.{did_you_mean(str(value), names)}",
            f"use e.g. {key}={names[0]}.",
        )
    must = expected(meta, kind)
    # A default that follows another key (``${model.lr}``) is no example of a value.
    interpolated = isinstance(default, str) and default.startswith("${")
    raise ConfigError(
        f"{key}={value} is invalid: it must be {must}.",
        f"give {key} {must}." if interpolated else f"use e.g. {key}={_example(default)}.",
    )


def check_settings(prefix: str, node: Any, cls: type) -> None:
    """Every setting of ``node`` against what ``cls`` declares for it."""
    for name, default, meta, kind in settings(cls):
        value = get(node, name) if OmegaConf.is_config(node) else node.get(name, _SKIP)
        if value is _SKIP:
            continue
        if dataclasses.is_dataclass(default):
            check_settings(f"{prefix}{name}.", value, type(default))
        elif meta.get("doc") is not None:
            _check_value(f"{prefix}{name}", value, meta, kind, default)


def component_class(group: str, node: Any) -> type:
    """The declared class a group's node chooses (the shared base for a user's own model)."""
    key = GROUPS[group]
    if group == "model" and node.get("_target_"):
        base = base_of(group)
        assert base is not None
        return base
    chosen = "pyg" if group == "dataset" and node.get("_target_") else node.get(key)
    cls = lookup(group, str(chosen))
    if cls is None:
        names = sorted(declared(group))
        extra = (
            ", or model._target_ to your own class (docs/extending.md: Adding a model)"
            if group == "model"
            else ""
        )
        raise ConfigError(
            f"{group}.{key}={chosen} is not a declared {group} ({', '.join(names)})."
            f"{did_you_mean(str(chosen), names)}",
            f"set {group}.{key} to one of them{extra}.",
        )
    return cls


def _check_declared(cfg: DictConfig) -> None:
    _check_known_keys("", cfg, Config, "the config")
    for name, default, meta, kind in settings(Config):
        value = get(cfg, name)
        if meta and value is not _SKIP:
            _check_value(name, value, meta, kind, default)
    for node, cls in NODES.items():
        if get(cfg, node) is not _SKIP:
            _check_known_keys(node, cfg[node], cls, node)
            _check_known_keys(
                f"{node}.checkpoint",
                cfg[node].get("checkpoint") or {},
                CheckpointConfig,
                "the checkpoint settings",
            )
            check_settings(f"{node}.", cfg[node], cls)
    for group in GROUPS:
        node = get(cfg, group)
        if node is _SKIP or node is None:
            continue
        if group == "logger":
            _check_loggers(node)
            continue
        if group == "transform":
            _check_transforms(node, cfg)
            continue
        cls = component_class(group, node)
        if not (group == "model" and node.get("_target_")):
            _check_known_keys(group, node, cls, f"{group}={node.get(GROUPS[group])}")
        check_settings(f"{group}.", node, cls)


def _check_known_keys(prefix: str, node: Any, cls: type, owner: str) -> None:
    """A key no declaration has (added with ``+``, or in a file) would silently do nothing."""
    known = [f.name for f in dataclasses.fields(cls)] + (["hydra"] if not prefix else [])
    for key in node:
        if key not in known:
            shown = [k for k in known if not k.startswith("_") and k != "hydra"]
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(
                f"{where} is not a setting of {owner} ({', '.join(shown)}).{did_you_mean(str(key), shown)}",
                f"remove {where} (gnnexp list shows the groups, gnnexp list GROUP OPTION the settings).",
            )


def _check_list_group(group: str, noun: str, name: Any, node: Any, fix: str) -> tuple[type, Any]:
    """A member of a list group (``logger=[...]``, ``transform=[...]``): a declared component,
    and its settings known and allowed. Returns its class and its settings as written."""
    kinds = declared(group)
    if name not in kinds:
        names = sorted(kinds)
        raise ConfigError(
            f"{group}={name} is not a known {noun} ({', '.join(names)}).{did_you_mean(str(name), names)}",
            fix.format(first=names[0]),
        )
    cls = kinds[name]
    values = node[name] or {}
    known = {setting for setting, *_ in settings(cls)}
    unknown = sorted(str(k) for k in values if k not in known)
    if unknown:
        raise ConfigError(
            f"{group}.{name}.{unknown[0]} is not a setting of the {name} {noun}"
            f" ({', '.join(sorted(known)) or 'it has none'}).",
            f"remove {group}.{name}.{unknown[0]}.",
        )
    check_settings(f"{group}.{name}.", values, cls)
    return cls, values


def _check_loggers(node: Any) -> None:
    import importlib.util

    for name in node:
        cls, _ = _check_list_group(
            "logger",
            "tracker",
            name,
            node,
            "use logger=[{first}], or declare a tracker of your own (docs/outputs.md: Trackers).",
        )
        requires: Any = getattr(cls, "requires", None)
        if requires and importlib.util.find_spec(requires[0]) is None:
            module, extra = requires
            raise ConfigError(
                f"logger={name} needs the {module} package, which is not installed.",
                f"pip install 'gnnexp[{extra}]' (or make install-{extra}), or drop {name} from logger=[...].",
            )


def _check_transforms(node: Any, cfg: DictConfig) -> None:
    """Each chosen transform: a declared one, its settings, and whether it fits the run."""
    for name in node:
        cls, values = _check_list_group(
            "transform",
            "transform",
            name,
            node,
            "use transform=[...] with declared transforms (gnnexp list transform).",
        )
        plain = OmegaConf.to_container(values, resolve=True) if OmegaConf.is_config(values) else values
        assert isinstance(plain, dict)
        cls(**{str(k): v for k, v in plain.items()}).check(str(name), cfg)


def monitor_mode(cfg: DictConfig) -> str:
    """``min`` or ``max``: the direction in which the monitored value improves."""
    if cfg.trainer.mode != "auto":
        return str(cfg.trainer.mode)
    return natural_mode(str(cfg.trainer.monitor), metric_name(cfg))


def _check_missing(cfg: DictConfig) -> None:
    # Keys of the hydra node resolve only inside a job, so they are left out.
    missing = sorted(
        key
        for top in cfg
        if top != "hydra" and OmegaConf.is_config(cfg[top])
        for key in OmegaConf.missing_keys(cfg[top])
    )
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} must be set (the config leaves {'it' if len(missing) == 1 else 'them'} as ???).",
            f"add {' '.join(f'{k}=...' for k in missing)} to the command line.",
        )


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first impossible value or combination in ``cfg``."""
    _check_missing(cfg)
    _check_declared(cfg)
    check_combinations(cfg)
