"""The one way a run is built: config -> validated config (once) -> device, data, task, model.

``gnnexp train``, ``eval``, ``predict``, resume, the benchmarks and the tests all build
through :func:`build_experiment`; a config read back from a checkpoint goes through
:func:`stored_config` first, which checks it exactly like a command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NewType

import torch
from omegaconf import DictConfig

from gnnexp.config.trust import check_stored_config, import_modules
from gnnexp.config.validate import validate
from gnnexp.data.loading import GraphData, load_dataset
from gnnexp.paths import resolve_data_dir
from gnnexp.tasks.base import Task, build_task
from gnnexp.training.distributed import SINGLE, Dist
from gnnexp.util.device import resolve_device
from gnnexp.util.seeding import seed_everything

# A config that went through every check (:func:`checked`): what builds a run. Each run
# validates once, where its config enters (run.train, a Hydra run's ValidateConfig, a
# checkpoint's stored_config), and passes the result on.
Checked = NewType("Checked", DictConfig)


@dataclass
class Experiment:
    """The parts of a run, ready to train or evaluate."""

    cfg: Checked
    device: torch.device
    data: GraphData
    task: Task
    model: torch.nn.Module


def checked(cfg: DictConfig) -> Checked:
    """``cfg`` after importing the user's modules (``imports``) and every value check."""
    import_modules(list(cfg.get("imports") or []))
    validate(cfg)
    return Checked(cfg)


def build_experiment(
    cfg: Checked,
    fold: int | None = None,
    dist: Dist = SINGLE,
    device: torch.device | None = None,
    data: GraphData | None = None,
    seed: int | None = None,
) -> Experiment:
    """Build what ``cfg`` (validated: :func:`checked`) describes.

    ``fold`` (k-fold CV) and ``dist`` (this process's DDP rank) choose the part of the data
    this run trains on; ``data`` reuses a dataset already loaded (folds of one run);
    ``seed`` seeds every generator right before the weights are drawn.
    """
    device = device or resolve_device(cfg.device.type)
    data = data or load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir), cfg.get("transform"))
    # Mixed precision runs the plain path: torch's CPU sparse kernels take float32 only.
    fast = bool(cfg.trainer.fast_paths) and str(cfg.trainer.precision) == "32"
    task = build_task(cfg, data, device, fold=fold, dist=dist, fast=fast)
    if seed is not None:
        seed_everything(seed)
    model = task.build_model(cfg.model).to(device)
    return Experiment(cfg, device, data, task, model)


def stored_config(
    state: dict[str, Any], overrides: list[str], source: Path, trusted: bool = False
) -> Checked:
    """The config a checkpoint was trained with, changed by ``overrides``, checked like a
    command line. Code it names (``_target_``, ``imports``) is refused unless the user
    repeats it in ``overrides`` or passes ``trusted`` (``--trust-config``)."""
    from gnnexp.config.compose import apply_overrides
    from gnnexp.errors import CheckpointError

    stored = state.get("config")
    if not isinstance(stored, dict):
        raise CheckpointError(f"{source} holds no config.", "give a checkpoint written by gnnexp train.")
    check_stored_config(stored, overrides, str(source), trusted)
    import_modules(list(stored.get("imports") or []))  # the user's components, before the schemas
    return checked(apply_overrides(stored, overrides))
