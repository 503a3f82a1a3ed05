"""Value checks on a composed config, run before anything is built or written.

Types and key names are checked by the schemas at composition. Ranges, allowed values and
finiteness are checked against what each component declares (``option(...)``); this
module itself only knows the combinations of settings that make no sense together.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, OmegaConf

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
from gnnexp.config.schema import Config, DeviceConfig, TrainerConfig
from gnnexp.errors import ConfigError, did_you_mean
from gnnexp.metrics import METRICS
from gnnexp.tasks.kinds import levels_of_tasks

# Whether a larger value of each metric is better (from the metric declarations).
METRIC_MODES = {name: metric.mode for name, metric in METRICS.items()}

_SKIP = object()

# Top-level nodes that are not components, with their schemas.
FIXED_NODES: dict[str, type] = {"trainer": TrainerConfig, "device": DeviceConfig}


def _get(cfg: Any, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=_SKIP, throw_on_missing=False)


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
    raise ConfigError(
        f"{key}={value} is invalid: it must be {expected(meta, kind)}.",
        f"use e.g. {key}={_example(default)}.",
    )


def check_settings(prefix: str, node: Any, cls: type) -> None:
    """Every setting of ``node`` against what ``cls`` declares for it."""
    for name, default, meta, kind in settings(cls):
        value = _get(node, name) if OmegaConf.is_config(node) else node.get(name, _SKIP)
        if value is _SKIP:
            continue
        if dataclasses.is_dataclass(default):
            check_settings(f"{prefix}{name}.", value, type(default))
        elif meta.get("doc") is not None:
            _check_value(f"{prefix}{name}", value, meta, kind, default)


def component_class(group: str, node: Any) -> type:
    """The declared class a group's node chooses (the shared base for a user's own model)."""
    key = GROUPS[group][0]
    if group == "model" and node.get("_target_"):
        base = base_of(group)
        assert base is not None
        return base
    chosen = "pyg" if group == "dataset" and node.get("_target_") else node.get(key)
    cls = lookup(group, str(chosen))
    if cls is None:
        names = sorted(declared(group))
        extra = ", or model._target_ to your own class (README: Adding a model)" if group == "model" else ""
        raise ConfigError(
            f"{group}.{key}={chosen} is not a declared {group} ({', '.join(names)})."
            f"{did_you_mean(str(chosen), names)}",
            f"set {group}.{key} to one of them{extra}.",
        )
    return cls


def _check_declared(cfg: DictConfig) -> None:
    for name, default, meta, kind in settings(Config):
        value = _get(cfg, name)
        if meta and value is not _SKIP:
            _check_value(name, value, meta, kind, default)
    for node, cls in FIXED_NODES.items():
        if _get(cfg, node) is not _SKIP:
            check_settings(f"{node}.", cfg[node], cls)
    for group in GROUPS:
        node = _get(cfg, group)
        if node is _SKIP or node is None:
            continue
        if group == "logger":
            _check_loggers(node)
        else:
            check_settings(f"{group}.", node, component_class(group, node))


def _check_loggers(node: Any) -> None:
    import importlib.util

    kinds = declared("logger")
    for name in node:
        if name not in kinds:
            names = sorted(kinds)
            raise ConfigError(
                f"logger={name} is not a known tracker ({', '.join(names)}).{did_you_mean(str(name), names)}",
                f"use logger=[{names[0]}], or declare a tracker of your own (README: Trackers).",
            )
        cls = kinds[name]
        values = node[name] or {}
        known = {setting for setting, *_ in settings(cls)}
        unknown = sorted(str(k) for k in values if k not in known)
        if unknown:
            raise ConfigError(
                f"logger.{name}.{unknown[0]} is not a setting of the {name} tracker"
                f" ({', '.join(sorted(known)) or 'it has none'}).",
                f"remove logger.{name}.{unknown[0]}.",
            )
        check_settings(f"logger.{name}.", values, cls)
        if cls.requires and importlib.util.find_spec(cls.requires[0]) is None:
            module, extra = cls.requires
            raise ConfigError(
                f"logger={name} needs the {module} package, which is not installed.",
                f"pip install 'gnnexp[{extra}]' (or make install-{extra}), or drop {name} from logger=[...].",
            )


def metric_name(cfg: DictConfig) -> str:
    """The run's main metric: the task's, or else the dataset's."""
    return str(cfg.task.get("metric") or cfg.dataset.metric)


def monitor_names(cfg: DictConfig) -> tuple[str, ...]:
    """Values that ``trainer.monitor`` may name."""
    return ("val_loss", "val_metric", f"val_{metric_name(cfg)}", "val_loss_and_metric")


def monitor_mode(cfg: DictConfig) -> str:
    """``min`` or ``max``: the direction in which the monitored value improves."""
    if cfg.trainer.mode != "auto":
        return str(cfg.trainer.mode)
    if cfg.trainer.monitor in ("val_loss", "val_loss_and_metric"):  # the latter reports the loss
        return "min"
    return METRIC_MODES[metric_name(cfg)]


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


def _check_ratios(cfg: DictConfig) -> None:
    for first, second in (
        ("dataset.train_ratio", "dataset.val_ratio"),
        ("task.val_ratio", "task.test_ratio"),
    ):
        a, b = _get(cfg, first), _get(cfg, second)
        if a is not _SKIP and b is not _SKIP and a + b >= 1:
            raise ConfigError(
                f"{first} + {second} = {a + b:g} leaves nothing for the remaining split.",
                f"make them sum to less than 1, e.g. {first}={min(a, 0.6)} {second}={min(b, 0.2)}.",
            )


def _check_combinations(cfg: DictConfig) -> None:
    monitors = monitor_names(cfg)
    if cfg.trainer.monitor not in monitors:
        raise ConfigError(
            f"trainer.monitor={cfg.trainer.monitor} is not a value this run produces "
            f"({', '.join(monitors)}).{did_you_mean(cfg.trainer.monitor, monitors)}",
            "use trainer.monitor=val_loss or trainer.monitor=val_metric.",
        )
    kind, level = cfg.task.kind, cfg.dataset.level
    allowed = levels_of_tasks().get(level, ())
    if kind not in allowed:
        raise ConfigError(
            f"task={kind} does not apply to dataset={cfg.dataset.name}, whose labels "
            f"belong to each {level} (it supports task={'/'.join(allowed)}).",
            f"use task={allowed[0]} or another dataset.",
        )
    metric = metric_name(cfg)
    regression = cfg.dataset.target == "regression" and kind != "link"
    task_metrics = declared("task")[kind].metrics
    if task_metrics is not None and metric not in task_metrics:
        raise ConfigError(
            f"metric '{metric}' does not apply to task={kind}.",
            " or ".join(f"task.metric={m}" for m in task_metrics).join(("use ", ".")),
        )
    if regression != METRICS[metric].regression:
        wanted = " or ".join(n for n, m in METRICS.items() if m.regression == regression)
        raise ConfigError(
            f"metric '{metric}' does not fit a {'regression' if regression else 'classification'} target.",
            f"use a metric among {wanted} (dataset.metric=... or task.metric=...).",
        )
    if cfg.task.loss != "auto" and (cfg.task.loss == "cross_entropy") == regression:
        raise ConfigError(
            f"task.loss={cfg.task.loss} does not fit a {'regression' if regression else 'classification'} target.",
            "use task.loss=auto.",
        )
    if cfg.loader.kind == "neighbor":
        if kind != "node":
            raise ConfigError(
                f"loader=neighbor samples neighbourhoods of seed nodes, which task={kind} does not have"
                + (" (graph datasets are mini-batched by whole graphs)." if kind == "graph" else "."),
                "use loader=full"
                + (" and task.batch_size=... for graph batches." if kind == "graph" else "."),
            )
        hops = len(cfg.loader.num_neighbors)
        if hops != cfg.model.num_layers:
            raise ConfigError(
                f"loader.num_neighbors has {hops} hops but model.num_layers={cfg.model.num_layers}: "
                "each layer needs one hop of sampled neighbours.",
                f"give {cfg.model.num_layers} fan-outs (e.g. loader.num_neighbors=[{','.join(['10'] * cfg.model.num_layers)}]) "
                f"or set model.num_layers={hops}.",
            )
    if cfg.trainer.strategy == "ddp" and (kind != "node" or cfg.loader.kind != "neighbor"):
        raise ConfigError(
            "trainer.strategy=ddp splits the training seed nodes across processes, so it needs "
            f"task=node with loader=neighbor (got task={kind}, loader={cfg.loader.kind}).",
            "add loader=neighbor (node tasks), or use trainer.strategy=single.",
        )
    if cfg.trainer.get("resume") and cfg.trainer.folds is not None:
        raise ConfigError(
            "trainer.resume does not support cross-validation runs (trainer.folds).",
            "re-run the cross-validation, or resume a single-split run.",
        )
    if cfg.trainer.folds is not None and kind != "graph":
        raise ConfigError(
            f"trainer.folds={cfg.trainer.folds} applies to graph classification; task={kind} on "
            f"dataset={cfg.dataset.name} uses the dataset's fixed (or generated) split.",
            "drop trainer.folds, or run several seeds with -m seed=0,1,2,...",
        )


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first impossible value or combination in ``cfg``."""
    _check_missing(cfg)
    _check_declared(cfg)
    _check_ratios(cfg)
    _check_combinations(cfg)
