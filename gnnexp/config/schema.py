"""Typed schemas of every config group, registered in Hydra's ConfigStore.

Each YAML option starts with ``defaults: [base_<kind>, _self_]`` so that a misspelled key
or a value of the wrong type fails at composition, before anything runs. This module must
stay free of torch imports: ``gnnexp --help`` and ``gnnexp list`` compose configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

# ---------------------------------------------------------------- model


@dataclass
class ModelConfig:
    """Fields every architecture understands (see ``gnnexp.models``)."""

    name: str = MISSING
    # A user's own class: called with in_channels, out_channels and these fields.
    _target_: str | None = None
    hidden_channels: int = 64
    num_layers: int = 2
    dropout: float = 0.5
    act: str = "relu"
    norm: str = "none"
    jk: str = "none"
    residual: bool = False
    drop_edge: float = 0.0
    readout: str = "mean"
    # Recommended optimizer settings for the architecture; `optimizer.*` interpolates them.
    lr: float = 0.01
    weight_decay: float = 5e-4


@dataclass
class GATConfig(ModelConfig):
    heads: int = 8
    out_heads: int = 1
    attn_dropout: float = 0.6


@dataclass
class SAGEConfig(ModelConfig):
    aggr: str = "mean"


@dataclass
class GINConfig(ModelConfig):
    train_eps: bool = False
    mlp_layers: int = 2


# ---------------------------------------------------------------- dataset


@dataclass
class DatasetConfig:
    """A graph dataset; ``source`` names the loader in ``gnnexp.data.sources``.

    ``_target_`` (any PyG dataset class) takes precedence over ``source``; its constructor
    gets ``root``, ``name`` when it takes one, and ``kwargs``. Datasets without split
    masks are split at random by ``train_ratio``/``val_ratio`` with ``split_seed``.
    """

    name: str = MISSING
    source: str = MISSING
    _target_: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    level: str = "node"  # what the labels belong to: node or graph
    target: str = "classification"  # or regression
    metric: str = "accuracy"
    normalize_features: bool = False
    train_ratio: float = 0.6
    val_ratio: float = 0.2
    split_seed: int = 0


@dataclass
class PlanetoidConfig(DatasetConfig):
    pyg_name: str = MISSING
    split: str = "public"


@dataclass
class TUConfig(DatasetConfig):
    """Any TU Dortmund graph collection; graphs without node features get one-hot degrees."""

    pyg_name: str = MISSING
    use_node_attr: bool = False


@dataclass
class FilesConfig(DatasetConfig):
    """A user's graph: an edge list CSV plus node features and labels (CSV or .npy)."""

    edges: str = MISSING
    features: str | None = None
    labels: str | None = MISSING  # null: an unlabelled graph (for gnnexp predict)
    undirected: bool = True


@dataclass
class SyntheticConfig(DatasetConfig):
    """A planted-partition graph generated from ``data_seed`` (no download)."""

    num_nodes: int = 2000
    num_classes: int = 4
    num_features: int = 32
    avg_degree: float = 8.0
    homophily: float = 0.8
    feature_signal: float = 0.2
    data_seed: int = 0


@dataclass
class SyntheticGraphsConfig(DatasetConfig):
    """Many small random graphs: dense or sparse, or (regression) their mean degree."""

    num_graphs: int = 300
    min_nodes: int = 8
    max_nodes: int = 24
    num_features: int = 4
    data_seed: int = 0


# ---------------------------------------------------------------- task


@dataclass
class TaskConfig:
    """What to predict; ``metric`` (null: the dataset's) and ``loss`` (auto: by target)."""

    kind: str = "node"
    metric: str | None = None
    loss: str = "auto"


@dataclass
class GraphTaskConfig(TaskConfig):
    batch_size: int = 128
    val_ratio: float = 0.1
    test_ratio: float = 0.1
    split_seed: int = 0


@dataclass
class LinkTaskConfig(TaskConfig):
    val_ratio: float = 0.05
    test_ratio: float = 0.1
    decoder: str = "dot"  # dot or mlp
    neg_ratio: float = 1.0
    hits_k: int = 50
    split_seed: int = 0
    weight_decay: float = 0.0  # replaces the model's recommended decay (see optimizer/*.yaml)


# ---------------------------------------------------------------- loader


@dataclass
class LoaderConfig:
    """How node-level training batches are formed: the full graph, or sampled subgraphs."""

    kind: str = "full"


@dataclass
class NeighborLoaderConfig(LoaderConfig):
    num_neighbors: list[int] = field(default_factory=lambda: [15, 10])
    batch_size: int = 512
    shuffle: bool = True
    num_workers: int = 0
    backend: str = "auto"  # auto, torch (ours) or pyg (needs pyg-lib or torch-sparse)
    eval: str = "full"  # full-graph or sampled evaluation
    eval_batch_size: int = 2048


# ---------------------------------------------------------------- optimizer


@dataclass
class OptimizerConfig:
    name: str = MISSING
    lr: float = 0.01
    weight_decay: float = 0.0


@dataclass
class AdamConfig(OptimizerConfig):
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    amsgrad: bool = False


@dataclass
class SGDConfig(OptimizerConfig):
    momentum: float = 0.9
    nesterov: bool = False
    dampening: float = 0.0


# ---------------------------------------------------------------- scheduler


@dataclass
class SchedulerConfig:
    """``warmup_epochs`` > 0 ramps the LR linearly before any scheduler takes over."""

    name: str = MISSING
    warmup_epochs: int = 0
    warmup_start_factor: float = 0.1


@dataclass
class StepLRConfig(SchedulerConfig):
    step_size: int = 50
    gamma: float = 0.5


@dataclass
class MultiStepLRConfig(SchedulerConfig):
    milestones: list[int] = field(default_factory=lambda: [100, 150])
    gamma: float = 0.1


@dataclass
class ExponentialLRConfig(SchedulerConfig):
    gamma: float = 0.99


@dataclass
class CosineLRConfig(SchedulerConfig):
    t_max: int | None = None  # None: the epochs left after warm-up
    eta_min: float = 0.0


@dataclass
class PlateauLRConfig(SchedulerConfig):
    factor: float = 0.5
    patience: int = 10
    threshold: float = 1e-4
    min_lr: float = 0.0


# ---------------------------------------------------------------- trainer, device


@dataclass
class CheckpointConfig:
    save_best: bool = True
    save_last: bool = True
    # Also refresh last.pt every n epochs (0: only at the end or on Ctrl-C/SIGTERM), so a
    # killed run loses at most n epochs.
    every_n_epochs: int = 10
    # best.pt is rewritten on improvement, but at most this often (the newest best waits in
    # memory and is always written at the end, on Ctrl-C and on failure). 0: every time.
    best_min_interval_s: float = 1.0


@dataclass
class TrainerConfig:
    max_epochs: int = 200
    patience: int | None = 100  # evaluations without improvement; null: never stop early
    monitor: str = "val_loss"  # val_loss, val_metric (or val_<metric name>), val_loss_and_metric (GAT's rule)
    mode: str = "auto"  # auto, min or max
    min_delta: float = 0.0
    eval_every: int = 1
    grad_clip: float | None = None
    log_every: int = 1
    folds: int | None = None  # k-fold cross-validation (graph classification)
    nonfinite: str = "stop"  # a NaN/inf loss or gradient: stop the run, or skip the step
    resume: str | None = None  # a run dir, a checkpoint, or "latest"
    fast_paths: bool = True  # exact layout optimisations for full-graph training (gnnexp.models.fast)
    precision: str = "32"  # 32, bf16 or 16 (mixed precision; fp16 with loss scaling)
    compile: bool = False  # torch.compile the model (see make bench for when it pays off)
    strategy: str = "single"  # single process, or ddp (DistributedDataParallel)
    num_processes: int = 1  # processes the CLI launches for strategy=ddp
    curves: bool = True  # draw curves.png (losses, metric, LR by epoch) at the end
    deterministic: bool = True
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)


@dataclass
class DeviceConfig:
    type: str = "auto"  # auto, cpu or cuda


# ---------------------------------------------------------------- top level


@dataclass
class Config:
    model: Any = MISSING
    dataset: Any = MISSING
    task: Any = MISSING
    loader: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    logger: Any = None  # tracker name -> settings (logger=[csv,tensorboard,mlflow])
    seed: int = 0
    data_dir: str = "data"


# Schemas per group: (group, name, node). Option files refer to them as `base_<kind>`.
SCHEMAS: list[tuple[str | None, str, type]] = [
    (None, "base_config", Config),
    ("model", "base_model", ModelConfig),
    ("model", "base_gat", GATConfig),
    ("model", "base_sage", SAGEConfig),
    ("model", "base_gin", GINConfig),
    ("dataset", "base_dataset", DatasetConfig),
    ("dataset", "base_planetoid", PlanetoidConfig),
    ("dataset", "base_synthetic", SyntheticConfig),
    ("dataset", "base_synthetic_graphs", SyntheticGraphsConfig),
    ("dataset", "base_tu", TUConfig),
    ("dataset", "base_files", FilesConfig),
    ("task", "base_task", TaskConfig),
    ("task", "base_graph_task", GraphTaskConfig),
    ("task", "base_link_task", LinkTaskConfig),
    ("loader", "base_loader", LoaderConfig),
    ("loader", "base_neighbor", NeighborLoaderConfig),
    ("optimizer", "base_adam", AdamConfig),
    ("optimizer", "base_sgd", SGDConfig),
    ("scheduler", "base_scheduler", SchedulerConfig),
    ("scheduler", "base_step", StepLRConfig),
    ("scheduler", "base_multistep", MultiStepLRConfig),
    ("scheduler", "base_exponential", ExponentialLRConfig),
    ("scheduler", "base_cosine", CosineLRConfig),
    ("scheduler", "base_plateau", PlateauLRConfig),
    ("trainer", "base_trainer", TrainerConfig),
    ("device", "base_device", DeviceConfig),
]

SCHEMA_PREFIX = "base_"


def register_schemas() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for group, name, node in SCHEMAS:
        cs.store(group=group, name=name, node=node)
