"""The callbacks of one fit (``gnnexp.running.fit``): the side effects around the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from gnnexp.errors import GnnexpError
from gnnexp.loggers import build_loggers
from gnnexp.loggers.base import Trackers
from gnnexp.paths import METRICS_FILE
from gnnexp.reporting.console import EpochTable
from gnnexp.reporting.curves import Curves
from gnnexp.reporting.files import MetricsCSV
from gnnexp.running.experiment import Experiment
from gnnexp.training.callbacks import Callback
from gnnexp.training.checkpoint import load_checkpoint
from gnnexp.training.distributed import Dist
from gnnexp.training.interrupt import StopOnSignal
from gnnexp.training.pruning import ReportToTrial
from gnnexp.training.recorder import BEST, Checkpoints


def fit_callbacks(
    experiment: Experiment,
    out_dir: Path,
    console: Console,
    fold: int | None,
    resume: dict[str, Any] | None,
    dist: Dist,
    meta: dict[str, Any],
) -> tuple[list[Callback], Checkpoints, Trackers]:
    """The callbacks of one fit, in their order: metrics.csv, trackers, the epoch table, checkpoints,
    curves, the stop on a signal, and the report to an Optuna trial; with the checkpoints and
    trackers, which the fit reads when it ends."""
    cfg, task = experiment.cfg, experiment.task
    config = cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True))
    # What the weights expect (gnnexp predict checks a new dataset against it).
    shape = {"in_channels": task.in_channels, "out_channels": getattr(task, "out_channels", None)}
    best_weights = None
    if resume is not None:  # the best weights so far sit next to the checkpoint resumed from
        best = Path(cfg.trainer.resume).with_name(BEST.name)
        best_weights = load_checkpoint(best)["model"] if best.is_file() else None
    checkpoints = Checkpoints(
        out_dir, config, cfg.trainer.checkpoint, str(cfg.trainer.monitor), fold, shape, best_weights
    )
    fold_meta = {**meta, "fold": None if fold is None else fold + 1}  # numbered from 1, as the dirs
    # One tracker run per training: DDP's other ranks train alike and would duplicate it.
    loggers = build_loggers(cfg.get("logger"), out_dir, fold_meta) if dist.is_main else []
    trackers = Trackers(loggers, config, task.metric)
    callbacks: list[Callback] = [
        MetricsCSV(out_dir / METRICS_FILE, task.metric, append=resume is not None),
        trackers,
        EpochTable(console, task.metric, cfg.trainer.max_epochs, cfg.trainer.log_every),
        checkpoints,
    ]
    if cfg.trainer.curves and dist.is_main:
        # Before StopOnSignal: drawn while a Ctrl-C still means "stop after this step", so a
        # finished run cannot lose its results to one while matplotlib imports.
        title = f"{cfg.model.name} on {cfg.dataset.name}"
        callbacks.append(Curves(out_dir / METRICS_FILE, out_dir / "curves.png", task.metric, title))
    callbacks.append(StopOnSignal(dist.any))  # every rank stops together
    if cfg.trial.study is not None and fold is None and dist.is_main:
        # Folds restart the epochs, which a pruner cannot compare: cross-validated trials run out.
        callbacks.append(_report_to_trial(cfg))
    return callbacks, checkpoints, trackers


def _report_to_trial(cfg: DictConfig) -> ReportToTrial:
    from gnnexp.search.studies import load_trial

    t = cfg.trial
    if t.storage is None or t.number is None:
        raise GnnexpError(
            "trial.study is set without trial.storage and trial.number.", "leave trial.* to the sweeper."
        )
    trial = load_trial(str(t.storage), str(t.study), int(t.number))
    return ReportToTrial(trial, prune=len(trial.study.directions) == 1)
