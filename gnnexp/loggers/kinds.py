"""The experiment trackers, each one declared class: its settings and the tracker it builds.

``logger=[csv,tensorboard]`` selects several at once; each option file holds one tracker's
settings under its name. Torch-free: a missing package is reported before anything loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gnnexp.config.components import component, option

if TYPE_CHECKING:
    from gnnexp.loggers.base import Logger


@dataclass
class LoggerSpec:
    """A tracker; ``requires`` is (module to import, extra that installs it), if any."""

    requires: ClassVar[tuple[str, str] | None] = None

    def build(self, out_dir: Path, meta: dict[str, Any]) -> Logger | None:
        return None


@component("logger", "csv")
class CSVLogger(LoggerSpec):
    """metrics.csv in the run dir (always written; listed so logger=[csv,...] reads naturally)."""


@component("logger", "tensorboard")
class TensorBoard(LoggerSpec):
    """TensorBoard event files in <run dir>/<dir> (needs the [tensorboard] extra)."""

    dir: str = option("tensorboard", doc="folder of the event files, inside the run dir")

    requires = ("tensorboard", "tensorboard")

    def build(self, out_dir: Path, meta: dict[str, Any]) -> Logger | None:
        from gnnexp.loggers.trackers import TensorBoardLogger

        return TensorBoardLogger(self, out_dir, meta)


@component("logger", "mlflow")
class MLflow(LoggerSpec):
    """An MLflow run with params, per-epoch metrics and results (needs the [mlflow] extra)."""

    tracking_uri: str = option(
        "sqlite:///outputs/mlflow.db", doc="where runs are stored (a SQLite file or a server)"
    )
    experiment: str = option("gnnexp", doc="the MLflow experiment the runs belong to")

    requires = ("mlflow", "mlflow")

    def build(self, out_dir: Path, meta: dict[str, Any]) -> Logger | None:
        from gnnexp.loggers.trackers import MLflowLogger

        return MLflowLogger(self, out_dir, meta)


@component("logger", "wandb")
class WandB(LoggerSpec):
    """A Weights & Biases run: config, per-epoch metrics, results, curves (needs the [wandb] extra)."""

    project: str = option("gnnexp", doc="the W&B project the runs belong to")
    entity: str | None = option(None, doc="the W&B team or user (null: your default entity)")
    group: str | None = option(
        None, doc="the runs' group (null: one per sweep or search, and a run's folds together)"
    )
    name: str | None = option(None, doc="the run's name (null: its directory's name)")
    tags: list[str] = option(doc="tags of every run (a pruned trial gets 'pruned' too)", factory=list)
    mode: str | None = option(
        None,
        doc="online, offline (files in <run dir>/wandb, for wandb sync) or disabled;"
        " null: WANDB_MODE, else online",
        choices=("online", "offline", "disabled"),
    )

    requires = ("wandb", "wandb")

    def build(self, out_dir: Path, meta: dict[str, Any]) -> Logger | None:
        from gnnexp.loggers.wandb_tracker import WandbLogger

        return WandbLogger(self, out_dir, meta)
