"""Value checks on a composed config, run before anything is built or written.

Types and key names are checked by the schemas at composition; this module checks what a
type cannot express: ranges, choices among strings, and combinations that make no sense.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gnnexp.errors import ConfigError, did_you_mean

ACTIVATIONS = ("relu", "elu", "gelu", "leaky_relu", "prelu", "selu", "silu", "tanh", "sigmoid")
NORMS = ("none", "batch", "layer", "pair")
JK_MODES = ("none", "cat", "max", "last")
READOUTS = ("mean", "sum", "max")
SAGE_AGGRS = ("mean", "max", "sum")
DEVICES = ("auto", "cpu", "cuda")
MODES = ("auto", "min", "max")
TASKS_FOR_LEVEL = {"node": ("node", "link"), "graph": ("graph",)}
TARGETS = ("classification", "regression")
LOSSES = ("auto", "cross_entropy", "mse", "mae")
LOADERS = ("full", "neighbor")
DECODERS = ("dot", "mlp")

# Whether a larger value of a metric is better; torch-free so that config checks stay cheap.
METRIC_MODES = {
    "accuracy": "max",
    "f1_macro": "max",
    "roc_auc": "max",
    "ap": "max",
    "mae": "min",
    "rmse": "min",
}
REGRESSION_METRICS = ("mae", "rmse")

_SKIP = object()


@dataclass(frozen=True)
class Rule:
    """``key`` must satisfy ``ok``; ``expected`` says what is allowed, ``example`` a fix."""

    key: str
    ok: Callable[[Any], bool]
    expected: str
    example: Any


def _in_unit(v: float) -> bool:
    return 0.0 <= v < 1.0


RULES = [
    Rule("seed", lambda v: v >= 0, "an integer >= 0", 0),
    Rule("model.hidden_channels", lambda v: v >= 1, "an integer >= 1", 64),
    Rule("model.num_layers", lambda v: v >= 1, "an integer >= 1", 2),
    Rule("model.dropout", _in_unit, "a probability in [0, 1)", 0.5),
    Rule("model.drop_edge", _in_unit, "a probability in [0, 1)", 0.0),
    Rule("model.heads", lambda v: v >= 1, "an integer >= 1", 8),
    Rule("model.out_heads", lambda v: v >= 1, "an integer >= 1", 1),
    Rule("model.attn_dropout", _in_unit, "a probability in [0, 1)", 0.6),
    Rule("model.mlp_layers", lambda v: v >= 1, "an integer >= 1", 2),
    Rule("optimizer.lr", lambda v: v > 0, "a number > 0", 0.01),
    Rule("optimizer.weight_decay", lambda v: v >= 0, "a number >= 0", 5e-4),
    Rule("optimizer.momentum", _in_unit, "a number in [0, 1)", 0.9),
    Rule("optimizer.dampening", _in_unit, "a number in [0, 1)", 0.0),
    Rule("optimizer.eps", lambda v: v > 0, "a number > 0", 1e-8),
    Rule(
        "optimizer.betas",
        lambda v: len(v) == 2 and all(0 <= b < 1 for b in v),
        "two numbers in [0, 1)",
        "[0.9,0.999]",
    ),
    Rule("scheduler.warmup_epochs", lambda v: v >= 0, "an integer >= 0", 10),
    Rule("scheduler.warmup_start_factor", lambda v: 0 < v <= 1, "a number in (0, 1]", 0.1),
    Rule("scheduler.step_size", lambda v: v >= 1, "an integer >= 1", 50),
    Rule("scheduler.gamma", lambda v: 0 < v <= 1, "a number in (0, 1]", 0.5),
    Rule(
        "scheduler.milestones",
        lambda v: len(v) > 0 and all(m >= 1 for m in v) and list(v) == sorted(set(v)),
        "increasing epochs >= 1",
        "[100,150]",
    ),
    Rule("scheduler.t_max", lambda v: v is None or v >= 1, "null or an integer >= 1", 200),
    Rule("scheduler.eta_min", lambda v: v >= 0, "a number >= 0", 0.0),
    Rule("scheduler.factor", lambda v: 0 < v < 1, "a number in (0, 1)", 0.5),
    Rule("scheduler.patience", lambda v: v >= 0, "an integer >= 0", 10),
    Rule("scheduler.min_lr", lambda v: v >= 0, "a number >= 0", 0.0),
    Rule("trainer.max_epochs", lambda v: v >= 1, "an integer >= 1", 200),
    Rule("trainer.patience", lambda v: v is None or v >= 1, "null or an integer >= 1", 100),
    Rule("trainer.min_delta", lambda v: v >= 0, "a number >= 0", 0.0),
    Rule("trainer.eval_every", lambda v: v >= 1, "an integer >= 1", 1),
    Rule("trainer.log_every", lambda v: v >= 1, "an integer >= 1", 1),
    Rule("trainer.grad_clip", lambda v: v is None or v > 0, "null or a number > 0", 1.0),
    Rule("dataset.num_nodes", lambda v: v >= 2, "an integer >= 2", 2000),
    Rule("dataset.num_classes", lambda v: v >= 2, "an integer >= 2", 4),
    Rule("dataset.num_features", lambda v: v >= 1, "an integer >= 1", 32),
    Rule("dataset.avg_degree", lambda v: v > 0, "a number > 0", 8.0),
    Rule("dataset.homophily", lambda v: 0 <= v <= 1, "a number in [0, 1]", 0.8),
    Rule("dataset.train_ratio", lambda v: 0 < v < 1, "a number in (0, 1)", 0.6),
    Rule("dataset.val_ratio", lambda v: 0 < v < 1, "a number in (0, 1)", 0.2),
    Rule("dataset.num_graphs", lambda v: v >= 10, "an integer >= 10", 300),
    Rule("dataset.min_nodes", lambda v: v >= 2, "an integer >= 2", 8),
    Rule("task.batch_size", lambda v: v >= 1, "an integer >= 1", 32),
    Rule("task.val_ratio", lambda v: 0 < v < 1, "a number in (0, 1)", 0.1),
    Rule("task.test_ratio", lambda v: 0 < v < 1, "a number in (0, 1)", 0.1),
    Rule("task.neg_ratio", lambda v: v > 0, "a number > 0", 1.0),
    Rule("task.hits_k", lambda v: v >= 1, "an integer >= 1", 50),
    Rule(
        "loader.num_neighbors",
        lambda v: len(v) > 0 and all(k == -1 or k >= 1 for k in v),
        "a list of fan-outs >= 1 (or -1 for all neighbours)",
        "[15,10]",
    ),
    Rule("loader.batch_size", lambda v: v >= 1, "an integer >= 1", 512),
    Rule("loader.eval_batch_size", lambda v: v >= 1, "an integer >= 1", 2048),
    Rule("loader.num_workers", lambda v: v >= 0, "an integer >= 0", 0),
    # One fold tests, the next validates: at least one more is needed to train on.
    Rule("trainer.folds", lambda v: v is None or v >= 3, "null or an integer >= 3", 10),
    Rule("trainer.checkpoint.every_n_epochs", lambda v: v >= 0, "an integer >= 0", 10),
    Rule("trainer.num_processes", lambda v: v >= 1, "an integer >= 1", 2),
    Rule("trainer.checkpoint.best_min_interval_s", lambda v: v >= 0, "a number >= 0 (seconds)", 1.0),
]

CHOICES = {
    "model.act": ACTIVATIONS,
    "model.norm": NORMS,
    "model.jk": JK_MODES,
    "model.readout": READOUTS,
    "model.aggr": SAGE_AGGRS,
    "device.type": DEVICES,
    "trainer.mode": MODES,
    "dataset.level": tuple(TASKS_FOR_LEVEL),
    "dataset.target": TARGETS,
    "dataset.metric": tuple(METRIC_MODES),
    "task.kind": ("node", "graph", "link"),
    "task.loss": LOSSES,
    "task.decoder": DECODERS,
    "loader.kind": LOADERS,
    "loader.backend": ("auto", "torch", "pyg"),
    "loader.eval": ("full", "sampled"),
    "trainer.nonfinite": ("stop", "skip"),
    "trainer.precision": ("32", "bf16", "16"),
    "trainer.strategy": ("single", "ddp"),
}


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=_SKIP, throw_on_missing=False)


def _check_rules(cfg: DictConfig) -> None:
    for rule in RULES:
        value = _get(cfg, rule.key)
        if value is _SKIP:
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value)
        if not rule.ok(value):
            raise ConfigError(
                f"{rule.key}={value} is invalid: it must be {rule.expected}.",
                f"use e.g. {rule.key}={rule.example}.",
            )
    for key, options in CHOICES.items():
        value = _get(cfg, key)
        if value is _SKIP or value in options:
            continue
        raise ConfigError(
            f"{key}={value} is not one of {', '.join(options)}.{did_you_mean(str(value), options)}",
            f"use e.g. {key}={options[0]}.",
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


# Optional trackers: logger name -> (module that must be importable, extra that installs it).
TRACKER_PACKAGES = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}


def _check_trackers(cfg: DictConfig) -> None:
    import importlib.util

    for name in cfg.get("logger") or {}:
        module, extra = TRACKER_PACKAGES.get(str(name), (None, None))
        if module and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"logger={name} needs the {module} package, which is not installed.",
                f"pip install 'gnnexp[{extra}]' (or make install-{extra}), or drop {name} from logger=[...].",
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
    allowed = TASKS_FOR_LEVEL[level]
    if kind not in allowed:
        raise ConfigError(
            f"task={kind} does not apply to dataset={cfg.dataset.name}, whose labels "
            f"belong to each {level} (it supports task={'/'.join(allowed)}).",
            f"use task={allowed[0]} or another dataset.",
        )
    metric = metric_name(cfg)
    regression = cfg.dataset.target == "regression" and kind != "link"
    if metric not in METRIC_MODES:
        raise ConfigError(
            f"metric '{metric}' is unknown ({', '.join(METRIC_MODES)}).{did_you_mean(metric, METRIC_MODES)}",
            "set task.metric or dataset.metric to one of them.",
        )
    if kind == "link" and metric not in ("roc_auc", "ap"):
        raise ConfigError(
            f"metric '{metric}' does not apply to link prediction.",
            "use task.metric=roc_auc or task.metric=ap.",
        )
    if regression != (metric in REGRESSION_METRICS):
        wanted = "mae or rmse" if regression else "accuracy, f1_macro, roc_auc or ap"
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
    if cfg.model.get("_target_") is None:
        # Imported here, not at the top: the registry pulls in torch, which
        # `gnnexp list` and `--cfg` must not pay for.
        from gnnexp.models import MODELS

        if cfg.model.name not in MODELS:
            names = sorted(MODELS)
            raise ConfigError(
                f"model.name={cfg.model.name} is not a built-in architecture "
                f"({', '.join(names)}).{did_you_mean(cfg.model.name, names)}",
                "set model.name to one of them, or model._target_ to your own class.",
            )


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first impossible value or combination in ``cfg``."""
    _check_missing(cfg)
    _check_rules(cfg)
    _check_ratios(cfg)
    _check_trackers(cfg)
    _check_combinations(cfg)
