"""One fit of one experiment: state and callbacks set up, the loop, the final test.

``gnnexp.running.run`` calls this once for a run, or once per fold (``gnnexp.running.crossval``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.markup import escape

from gnnexp.config.validate import METRIC_MODES, metric_name, monitor_mode
from gnnexp.data.loading import unusable_values
from gnnexp.errors import GnnexpError, TrainingError
from gnnexp.models.build import count_parameters
from gnnexp.paths import METRICS_FILE
from gnnexp.reporting.console import key_value_panel
from gnnexp.reporting.files import FAILURE_FILE, write_failure
from gnnexp.running.experiment import Experiment
from gnnexp.running.fit_callbacks import fit_callbacks
from gnnexp.running.resume import (
    check_same_data,
    check_same_model,
    check_same_optimizer,
    differences,
    truncate_metrics,
)
from gnnexp.training.callbacks import Callback
from gnnexp.training.distributed import SINGLE, Dist
from gnnexp.training.early_stopping import build_stopper
from gnnexp.training.interrupt import StopOnSignal
from gnnexp.training.learning import LossWatch, ValCurve
from gnnexp.training.loop import FitSettings, NonFiniteError, evaluate, fit
from gnnexp.training.optimizers import build_optimizer
from gnnexp.training.precision import Precision
from gnnexp.training.pruning import ReportToTrial
from gnnexp.training.recorder import LAST
from gnnexp.training.schedulers import LRSchedule
from gnnexp.training.state import TrainState
from gnnexp.training.threads import Threads


class Diverged(TrainingError):
    """A non-finite loss or gradient stopped training; the best checkpoint is kept."""

    def __init__(self, problem: str, fix: str, epoch: int) -> None:
        super().__init__(problem, fix)
        self.epoch = epoch


class Interrupted(GnnexpError):
    """Ctrl-C or SIGTERM stopped training after an epoch; last.pt and failed.json say where."""

    def __init__(self, epoch: int, exit_code: int, hint: str) -> None:
        super().__init__(f"interrupted after epoch {epoch}", hint)
        self.epoch = epoch
        self.exit_code = exit_code


@dataclass
class FitResult:
    """What one training (one fold) produced."""

    best_epoch: int
    best_value: float
    epochs_run: int
    stopped_early: bool
    val: dict[str, float]
    test: dict[str, float]
    num_params: int
    train_time_s: float
    skipped_steps: int = 0
    learned: bool = True  # false: the training loss never fell and the first epoch stayed best
    pruned_epoch: int | None = None  # an Optuna trial its study's pruner stopped after this epoch
    val_curve: dict[int, dict[str, float]] = field(default_factory=dict)  # epoch -> validation results

    def record(self) -> dict[str, Any]:
        """What results.json keeps of it: everything but the per-epoch curve (metrics.csv has it)."""
        return {k: v for k, v in asdict(self).items() if k != "val_curve"}


def training_state(experiment: Experiment, dist: Dist = SINGLE) -> TrainState:
    """Optimizer, LR schedule, early stopping and precision around the experiment's model;
    DDP and/or torch.compile wrap the module that trains, whose parameter names stay."""
    cfg, model, device = experiment.cfg, experiment.model, experiment.device
    trained = model
    if dist.active:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.trainer.compile:
        trained = torch.compile(trained)  # type: ignore[assignment]
    optimizer = build_optimizer(cfg.optimizer, model)
    mode, metric = monitor_mode(cfg), metric_name(cfg)
    t = cfg.trainer
    return TrainState(
        model=model,
        trained=trained,
        optimizer=optimizer,
        schedule=LRSchedule(optimizer, cfg.scheduler, t.max_epochs, mode),
        stopper=build_stopper(t.monitor, mode, t.patience, t.min_delta, metric, METRIC_MODES[metric]),
        precision=Precision(t.precision, device),
    )


def _resume(
    state: TrainState, checkpoint: dict[str, Any], cfg: DictConfig, out_dir: Path, console: Console
) -> None:
    """Continue from ``checkpoint``: same model shape, its state restored, metrics.csv cut back."""
    current = cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True))
    check_same_model(checkpoint["config"], current, state.model.state_dict(), checkpoint["model"])
    check_same_data(checkpoint["config"], current)
    check_same_optimizer(
        checkpoint["config"],
        current,
        [len(g["params"]) for g in state.optimizer.param_groups],
        [len(g["params"]) for g in checkpoint["optimizer"]["param_groups"]],
    )
    changed = differences(checkpoint["config"], current, ignore=("trainer.resume",))
    if changed:
        console.print(f"[yellow]resuming with changed settings:[/yellow] {escape('; '.join(changed))}")
    state.restore(checkpoint)
    truncate_metrics(out_dir / METRICS_FILE, state.epoch)
    console.print(f"resuming after epoch {state.epoch} from {cfg.trainer.resume}", markup=False)


def fit_and_test(
    experiment: Experiment,
    out_dir: Path,
    console: Console,
    fold: int | None = None,
    resume: dict[str, Any] | None = None,
    intro: bool = True,
    dist: Dist = SINGLE,
    meta: dict[str, Any] | None = None,
    threads: Threads | None = None,
) -> FitResult:
    """Train the experiment's fresh model (or continue ``resume``), then test the best weights once.

    A trial of a hyperparameter search (``trial.study`` set) is not tested: the sweeper tests
    only the best trial, once, so that no one chooses among trials by their test values.

    ``intro`` prints the panel that describes model, data and output first, with the
    ``threads`` the run decided on.
    """
    cfg, task, model = experiment.cfg, experiment.task, experiment.model
    if intro:
        console.print(
            key_value_panel(
                f"gnnexp train: {cfg.model.name} on {cfg.dataset.name} ({cfg.task.kind} task)",
                {
                    "model": f"{model!r}, {count_parameters(model):,} parameters",
                    **task.describe(),
                    "device": str(experiment.device),
                    **({"threads": threads.describe()} if threads is not None else {}),
                    "output": str(out_dir.parent if fold is not None else out_dir),
                },
            )
        )
    state = training_state(experiment, dist)
    if resume is not None:
        _resume(state, resume, cfg, out_dir, console)
    out_dir.mkdir(parents=True, exist_ok=True)
    watch, curve = LossWatch(), ValCurve()
    first_epoch = state.epoch + 1
    callbacks, checkpoints, trackers = fit_callbacks(
        experiment, out_dir, console, fold, resume, dist, meta or {}
    )
    t = cfg.trainer
    settings = FitSettings(t.max_epochs, t.eval_every, t.grad_clip, t.nonfinite == "skip")
    started = time.perf_counter()
    try:
        outcome = fit(state, task, settings, [watch, curve, *callbacks])
    except NonFiniteError as err:
        stopper = state.stopper
        kept = (
            f"checkpoints/best.pt (epoch {stopper.best_epoch}) is kept"
            if stopper.best is not None
            else "no checkpoint was saved"
        )
        bad_data = unusable_values(experiment.data)
        if bad_data is not None:  # no learning rate or clipping helps: name the data
            raise Diverged(
                f"Training diverged: {err} because {bad_data}; {kept}.",
                "fix or scale those values in the data (standardise regression targets).",
                err.epoch,
            ) from None
        raise Diverged(
            f"Training diverged: {err}; {kept}.",
            "lower optimizer.lr, set trainer.grad_clip=1.0, or trainer.nonfinite=skip to skip such steps.",
            err.epoch,
        ) from None
    if outcome.interrupted:
        _interrupted(out_dir, outcome.last_epoch, callbacks, console, trial=cfg.trial.study is not None)

    if checkpoints.best_weights is None:  # a resumed run whose best.pt is gone
        raise TrainingError(f"No best weights were recorded in {out_dir}.", "start a new run.")
    model.load_state_dict(checkpoints.best_weights)
    tested = cfg.trial.study is None or fold is not None
    final = evaluate(state.trained, task, ("val", "test") if tested else ("val",), state.precision)
    final.setdefault("test", {})
    if tested and dist.is_main and hasattr(task, "save_details"):
        task.save_details(out_dir)  # what a task writes beside the results (kg: per_relation.csv)
    pruning = next((c for c in callbacks if isinstance(c, ReportToTrial)), None)
    trackers.finish(
        {
            "val": final["val"],
            "test": final["test"],
            "best_epoch": state.stopper.best_epoch,
            "pruned_epoch": pruning.pruned_epoch if pruning is not None else None,
        }
    )
    return FitResult(
        best_epoch=state.stopper.best_epoch,
        best_value=float(state.stopper.best) if state.stopper.best is not None else float("nan"),
        epochs_run=outcome.last_epoch,
        stopped_early=outcome.last_epoch < t.max_epochs and not outcome.pruned,
        val=final["val"],
        test=final["test"],
        num_params=count_parameters(model),
        train_time_s=time.perf_counter() - started,
        skipped_steps=state.skipped_steps,
        learned=watch.learned(state.stopper.best_epoch, first_epoch),
        pruned_epoch=pruning.pruned_epoch if pruning is not None else None,
        val_curve=curve.values,
    )


def _interrupted(
    out_dir: Path, epoch: int, callbacks: list[Callback], console: Console, trial: bool = False
) -> None:
    """Record the interruption, say how to resume, and stop with 128 + the signal's number.

    A trial of a search is resumed by its search: re-running it with the same sweep dir runs
    the interrupted trial's place again."""
    signals = next(c for c in callbacks if isinstance(c, StopOnSignal))
    hint = (
        f"the same gnnexp train -m command with hydra.sweep.dir={out_dir.parent}"
        if trial
        else f"gnnexp train trainer.resume={out_dir}"
    )
    error = Interrupted(epoch, signals.exit_code, hint)
    write_failure(out_dir, error, {"status": "interrupted", "epoch": epoch, "resume": hint})
    console.print(
        key_value_panel(
            "interrupted", {"last epoch": epoch, "checkpoint": str(out_dir / LAST)}, style="yellow"
        )
    )
    console.print(f"Resume with: {hint}", soft_wrap=True, highlight=False, markup=False)  # one line, to copy
    raise error


__all__ = ["FAILURE_FILE", "Diverged", "FitResult", "Interrupted", "fit_and_test", "training_state"]
