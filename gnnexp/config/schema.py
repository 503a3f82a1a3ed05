"""The top-level config, the trainer and the device, and the schemas Hydra composes with.

The components (model, dataset, task, loader, optimizer, scheduler, logger) declare their
own settings (``gnnexp.config.components``). Each YAML option starts with
``defaults: [base_<name>, _self_]`` so that a misspelled key or a value of the wrong type
fails at composition, before anything runs. Torch-free: ``gnnexp list`` and ``--help`` use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from gnnexp.config.components import option


@dataclass
class CheckpointConfig:
    """What is kept on disk, and how often."""

    save_best: bool = option(True, doc="keep checkpoints/best.pt (the best validation epoch)")
    save_last: bool = option(True, doc="keep checkpoints/last.pt (to resume from)")
    # A killed run loses at most this many epochs.
    every_n_epochs: int = option(10, doc="also refresh last.pt every n epochs (0: only at the end)", ge=0)
    # A best.pt write costs more than a small model's epoch; the newest best waits in memory
    # and is always written at the end, on Ctrl-C and on failure.
    best_min_interval_s: float = option(
        1.0, doc="rewrite best.pt at most this often, in seconds (0: every time)", ge=0
    )


def _threads(value: str) -> bool:
    return value == "auto" or (value.isdigit() and int(value) >= 1)


def _folds(value: int) -> bool:
    return value >= 3  # one fold tests, the next validates: at least one more to train on


@dataclass
class TrainerConfig:
    """How training runs: epochs, stopping, checkpoints, precision, processes."""

    max_epochs: int = option(200, doc="epochs at most", ge=1)
    patience: int | None = option(
        100, doc="evaluations without improvement before stopping (null: never)", ge=1
    )
    monitor: str = option(
        "val_loss", doc="val_loss, val_metric (or val_<metric>), or val_loss_and_metric (GAT's rule)"
    )
    mode: str = option(
        "auto", doc="whether the monitored value should go down or up", choices=("auto", "min", "max")
    )
    min_delta: float = option(0.0, doc="smallest change that counts as an improvement", ge=0)
    eval_every: int = option(1, doc="evaluate every n epochs", ge=1)
    grad_clip: float | None = option(None, doc="clip the gradient norm to this (null: no clipping)", gt=0)
    log_every: int = option(1, doc="print every n-th epoch's row", ge=1)
    folds: int | None = option(
        None,
        doc="k-fold cross-validation (graph tasks; null: one split)",
        rule=(_folds, "null or an integer >= 3"),
    )
    fold_selection: str = option(
        "per_fold",
        doc="per_fold: each fold picks its epoch on a validation fold and is tested on another; "
        "mean_curve: Xu et al.'s protocol, k-1 folds train, the epoch with the best mean held-out "
        "metric over the folds is reported (optimistic: it selects on the test folds)",
        choices=("per_fold", "mean_curve"),
    )
    nonfinite: str = option(
        "stop", doc="on a NaN/inf loss or gradient: stop the run, or skip the step", choices=("stop", "skip")
    )
    resume: str | None = option(None, doc="continue a run: its directory, a checkpoint, or latest")
    fast_paths: bool = option(True, doc="exact layout optimisations for full-graph training")
    precision: str = option(
        "32", doc="32-bit, or mixed precision (bf16, or 16 with loss scaling)", choices=("32", "bf16", "16")
    )
    compile: bool = option(False, doc="torch.compile the model")
    num_threads: str = option(
        "auto",
        doc="torch threads of this job: auto (its share of the cores, docs/speed.md: Parallel jobs) or a number",
        rule=(_threads, "auto or an integer >= 1"),
    )
    strategy: str = option("single", doc="one process, or DistributedDataParallel", choices=("single", "ddp"))
    num_processes: int = option(1, doc="processes the CLI launches for strategy=ddp", ge=1)
    curves: bool = option(True, doc="draw curves.png (losses, metric, LR by epoch) at the end")
    deterministic: bool = option(True, doc="use torch's deterministic algorithms (warns where none exists)")
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)


@dataclass
class TrialConfig:
    """The Optuna trial this run is (gnnexp's Optuna sweeper sets it; docs/sweeps-and-search.md)."""

    study: str | None = option(None, doc="the study's name (null: the run is no trial)")
    storage: str | None = option(None, doc="the study's storage: an RDB URL or a journal file")
    number: int | None = option(None, doc="the trial's number in the study", ge=0)


@dataclass
class DeviceConfig:
    """Where the run computes."""

    type: str = option("auto", doc="auto (cuda when available), cpu or cuda", choices=("auto", "cpu", "cuda"))


@dataclass
class Config:
    """The composed experiment."""

    model: Any = MISSING
    dataset: Any = MISSING
    task: Any = MISSING
    loader: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    trial: TrialConfig = field(default_factory=TrialConfig)
    logger: Any = None  # tracker name -> settings (logger=[csv,tensorboard,mlflow])
    transform: Any = None  # transform name -> settings, in order (transform=[to_undirected,random_walk_pe])
    seed: int = option(0, doc="seed of weights, dropout and sampling", ge=0)
    data_dir: str = option("data", doc="where datasets live")
    # The user's modules that register components of their own (see docs/extending.md: Adding a model).
    overwrite: bool = option(False, doc="let a new run replace the finished run in its hydra.run.dir")
    imports: list[str] = option(
        doc="modules to import first (they register your own components)", factory=list
    )


# Top-level nodes that are not components, with their schemas (validation, gnnexp list and
# the docs tables read them from here).
NODES: dict[str, type] = {"trainer": TrainerConfig, "device": DeviceConfig, "trial": TrialConfig}


SCHEMA_GROUPS = ("trainer", "device")  # top-level nodes that are option groups too


def schema_class(path: str) -> tuple[type, bool] | None:
    """The class of the schema at ``path`` (``base_config``, or ``<group>/base_<name>``: the
    trainer, the device, every declared component) and whether it is open to keys of its
    own; None when there is none.

    Each YAML option names its schema first (``defaults: [base_gat, _self_]``); Hydra reads it
    through ``hydra_plugins.gnnexp_schemas`` rather than its ConfigStore, which it copies
    whole for every composition (for every trial of a search, and every group ``--help``
    lists), at a cost that grew with each component declared here."""
    from gnnexp.config.components import SCHEMA_PREFIX, component_schema

    group, _, name = path.removesuffix(".yaml").rpartition("/")
    if not name.startswith(SCHEMA_PREFIX):
        return None
    name = name[len(SCHEMA_PREFIX) :]
    if group == "":
        return (Config, False) if name == "config" else None
    if group in SCHEMA_GROUPS:
        return (NODES[group], False) if name == group else None
    return component_schema(group, name)


def schema_node(path: str) -> Any:
    """The schema at ``path`` as a new config node (None: there is none)."""
    from gnnexp.config.components import structured

    found = schema_class(path)
    return None if found is None else structured(*found)


def schema_groups() -> set[str]:
    """The option groups that have schemas."""
    from gnnexp.config.components import GROUPS

    return {*GROUPS, *SCHEMA_GROUPS}
