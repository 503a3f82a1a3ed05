"""Settings that make no sense together, each checked where types and ranges cannot see it.

Single settings are checked against their declarations (``gnnexp.config.validate``); what
is left here are the combinations: a task that does not fit the dataset's labels, a metric
that does not fit the task, sampling without seed nodes, and so on.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from gnnexp.config.components import declared
from gnnexp.errors import ConfigError, did_you_mean
from gnnexp.metrics import METRICS

_SKIP = object()


def get(cfg: Any, key: str) -> Any:
    """``cfg``'s value at the dotted ``key``, or ``_SKIP`` when it has none (never raises)."""
    return OmegaConf.select(cfg, key, default=_SKIP, throw_on_missing=False)


def levels_of_tasks() -> dict[str, tuple[str, ...]]:
    """Dataset level -> the task kinds that apply to it (from the declared task kinds, which
    the registry loads by name: this layer imports none of them)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, cls in declared("task").items():
        for level in cls.levels:
            out[level] = (*out.get(level, ()), name)
    return out


def natural_mode(monitor: str, metric: str) -> str:
    """``min`` or ``max``: how ``trainer.monitor`` improves (``val_loss_and_metric`` reports
    the loss); an unknown metric counts as one to maximise."""
    if monitor in ("val_loss", "val_loss_and_metric"):
        return "min"
    return METRICS[metric].mode if metric in METRICS else "max"


def metric_name(cfg: DictConfig) -> str:
    """The run's main metric: the task's, or else the dataset's when the task can compute it,
    or else the task kind's own default (link prediction on a node classification dataset)."""
    if cfg.task.get("metric"):
        return str(cfg.task.metric)
    spec = declared("task").get(str(cfg.task.get("kind")))
    metric = str(cfg.dataset.metric)
    if spec is not None and spec.metrics is not None and metric not in spec.metrics and spec.default_metric:
        return spec.default_metric.format_map(cfg.task)  # "recall@{k}": at the task's own K
    return metric


def monitor_names(cfg: DictConfig) -> tuple[str, ...]:
    """Values that ``trainer.monitor`` may name."""
    return ("val_loss", "val_metric", f"val_{metric_name(cfg)}", "val_loss_and_metric")


def _check_ratios(cfg: DictConfig) -> None:
    for first, second in (
        ("dataset.train_ratio", "dataset.val_ratio"),
        ("task.val_ratio", "task.test_ratio"),
    ):
        a, b = get(cfg, first), get(cfg, second)
        if a is not _SKIP and b is not _SKIP and a + b >= 1:
            raise ConfigError(
                f"{first} + {second} = {a + b:g} leaves nothing for the remaining split.",
                f"make them sum to less than 1, e.g. {first}={min(a, 0.6)} {second}={min(b, 0.2)}.",
            )


def _check_settings_together(cfg: DictConfig) -> None:
    monitors = monitor_names(cfg)
    if cfg.trainer.monitor not in monitors:
        raise ConfigError(
            f"trainer.monitor={cfg.trainer.monitor} is not a value this run produces "
            f"({', '.join(monitors)}).{did_you_mean(cfg.trainer.monitor, monitors)}",
            "use trainer.monitor=val_loss or trainer.monitor=val_metric.",
        )
    mode, monitor = str(cfg.trainer.mode), str(cfg.trainer.monitor)
    if mode != "auto":
        natural = natural_mode(monitor, metric_name(cfg))
        if mode != natural:
            raise ConfigError(
                f"trainer.mode={mode} contradicts trainer.monitor={monitor}, which improves when it "
                f"{'falls' if natural == 'min' else 'rises'}: the best epoch would be the worst.",
                f"use trainer.mode=auto (or trainer.mode={natural}).",
            )
    warmup = get(cfg, "scheduler.warmup_epochs")
    if warmup is not _SKIP and warmup >= cfg.trainer.max_epochs:
        raise ConfigError(
            f"scheduler.warmup_epochs={warmup} is not shorter than trainer.max_epochs={cfg.trainer.max_epochs}: "
            "the schedule would never start.",
            f"use fewer warm-up epochs, e.g. scheduler.warmup_epochs={max(cfg.trainer.max_epochs // 10, 0)}.",
        )
    kind, level = cfg.task.kind, cfg.dataset.level
    allowed = levels_of_tasks().get(level, ())
    _check_knowledge_graph(cfg, kind, level, allowed)
    if kind not in allowed:
        raise ConfigError(
            f"task={kind} does not apply to dataset={cfg.dataset.name}, whose labels "
            f"belong to each {level} (it supports task={'/'.join(allowed)}).",
            f"use task={allowed[0]} or another dataset.",
        )
    model_class = declared("model").get(str(cfg.model.get("name")))
    if getattr(model_class, "hetero_only", False) and level != "hetero" and not cfg.model.get("_target_"):
        raise ConfigError(
            f"model={cfg.model.name} reads node and edge types, and dataset={cfg.dataset.name} has one of each.",
            "use a typed graph (dataset=cora_words, dataset=hetero_files) or another model.",
        )
    metric = metric_name(cfg)
    regression = cfg.dataset.target == "regression" and kind != "link"
    task_metrics = declared("task")[kind].metrics
    if task_metrics is not None and metric not in task_metrics:
        raise ConfigError(
            f"metric '{metric}' does not apply to task={kind}.",
            " or ".join(f"task.metric={m}" for m in task_metrics).join(("use ", ".")),
        )
    if METRICS[metric].entity_ranks and kind != "kg":
        raise ConfigError(
            f"metric '{metric}' ranks the entities of a knowledge graph: it applies to task=kg only.",
            "use another metric (dataset.metric=... or task.metric=...).",
        )
    if METRICS[metric].pairs_only and task_metrics is None:
        raise ConfigError(
            f"metric '{metric}' ranks held-out edges against non-edges: it applies to task=link only.",
            "use task=link, or another metric (dataset.metric=... or task.metric=...).",
        )
    if METRICS[metric].ranking and task_metrics is None:
        raise ConfigError(
            f"metric '{metric}' ranks every item for each user: it applies to task=recommend only.",
            "use task=recommend, or another metric (dataset.metric=... or task.metric=...).",
        )
    model_tasks = getattr(declared("model").get(str(cfg.model.get("name"))), "tasks", None)
    if model_tasks and kind not in model_tasks:
        raise ConfigError(
            f"model={cfg.model.name} trains under task={'/'.join(model_tasks)} only (got task={kind}).",
            f"use task={model_tasks[0]} on a user-item dataset (e.g. dataset=bipartite), or another model.",
        )
    if regression != METRICS[metric].regression:
        wanted = " or ".join(n for n, m in METRICS.items() if m.regression == regression)
        raise ConfigError(
            f"metric '{metric}' does not fit a {'regression' if regression else 'classification'} target.",
            f"use a metric among {wanted} (dataset.metric=... or task.metric=...).",
        )
    fitting = ("mse", "mae") if regression else ("cross_entropy", "bce")
    if cfg.task.loss != "auto" and cfg.task.loss not in fitting:
        raise ConfigError(
            f"task.loss={cfg.task.loss} does not fit a {'regression' if regression else 'classification'} target.",
            f"use task.loss=auto (or {' or '.join(fitting)})"
            + (
                "; for several binary targets add dataset.target=classification dataset.metric=roc_auc."
                if cfg.task.loss == "bce"
                else "."
            ),
        )
    if cfg.trainer.fold_selection == "mean_curve":
        if not cfg.trainer.folds:
            raise ConfigError(
                "trainer.fold_selection=mean_curve selects an epoch over the folds of cross-validation.",
                "add trainer.folds=10 (or drop trainer.fold_selection).",
            )
        if cfg.trainer.patience is not None:
            raise ConfigError(
                "trainer.fold_selection=mean_curve needs every fold to run every epoch, but "
                f"trainer.patience={cfg.trainer.patience} may stop folds early.",
                "add trainer.patience=null.",
            )
    if cfg.loader.kind == "neighbor":
        # Tasks with seed nodes of their own say so (typed graphs' node task).
        if not getattr(declared("task")[kind], "seed_nodes", kind == "node"):
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


def _check_knowledge_graph(cfg: DictConfig, kind: str, level: str, allowed: tuple[str, ...]) -> None:
    """Knowledge graphs (dataset level kg), their task (kg) and their models go together only."""
    if kind == "kg" and level != "kg":
        raise ConfigError(
            f"task=kg ranks the entities of a knowledge graph, and dataset={cfg.dataset.name} is a graph "
            f"with {level} labels (it supports task={'/'.join(allowed)}).",
            f"use task={allowed[0]}, or a knowledge graph (dataset=kinships, umls, nations or triples).",
        )
    if level == "kg" and kind != "kg":
        raise ConfigError(
            f"dataset={cfg.dataset.name} is a knowledge graph of (head, relation, tail) facts: task={kind} "
            "does not apply to it.",
            "use task=kg (the dataset's default).",
        )
    name = str(cfg.model.get("name"))
    model = None if cfg.model.get("_target_") else declared("model").get(name)
    kg_model = bool(getattr(model, "knowledge_graph", False))
    if kind == "kg" and not kg_model:
        models = [n for n, cls in declared("model").items() if getattr(cls, "knowledge_graph", False)]
        raise ConfigError(
            f"model={name} is not a knowledge-graph model: task=kg scores (head, relation, tail) facts.",
            f"use model={', '.join(models)}.",
        )
    if kind != "kg" and kg_model:
        raise ConfigError(
            f"model={name} scores (head, relation, tail) facts of a knowledge graph: it does not apply to task={kind}.",
            "use a GNN (model=gcn, sage, gat...), or a knowledge graph with task=kg (dataset=kinships).",
        )


def check_combinations(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first pair of settings that contradict each other."""
    _check_ratios(cfg)
    _check_settings_together(cfg)
