"""One training run, top to bottom: config -> data, task, model, optimizer -> loop -> files.

This module knows nothing of Hydra: it takes a composed config and an output directory, so
the same code serves the CLI, sweeps and tests. With ``trainer.folds=k`` the same steps run
once per fold, each fold in its own sub-directory, and results.json reports mean and std.
"""

from __future__ import annotations

import errno
import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from gnnexp import __version__
from gnnexp.checkpoint import load_checkpoint
from gnnexp.config.validate import METRIC_MODES, metric_name, monitor_mode
from gnnexp.data.sources import load_dataset
from gnnexp.device import resolve_device
from gnnexp.errors import GnnexpError, TrainingError
from gnnexp.experiment import Experiment, build_experiment, checked
from gnnexp.loggers import build_loggers
from gnnexp.models.build import count_parameters
from gnnexp.paths import resolve_data_dir
from gnnexp.reporting.console import EpochTable, key_value_panel
from gnnexp.reporting.files import (
    FAILURE_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    MetricsCSV,
    write_failure,
    write_json_atomic,
)
from gnnexp.reporting.painter import PAINTER
from gnnexp.resume import check_same_model, differences, truncate_metrics
from gnnexp.seeding import set_deterministic, set_rng_state
from gnnexp.training.distributed import SINGLE, Dist, backend, join_torchrun, local_device, under_torchrun
from gnnexp.training.early_stopping import build_stopper
from gnnexp.training.interrupt import StopOnSignal
from gnnexp.training.loop import NonFiniteError, evaluate, fit
from gnnexp.training.optim import LRSchedule, build_optimizer
from gnnexp.training.precision import Precision
from gnnexp.training.recorder import BEST, LAST, Recorder


class OutputError(GnnexpError):
    """The run directory cannot be written (permissions, read-only or full disk)."""


class Diverged(TrainingError):
    """A non-finite loss or gradient stopped training; the best checkpoint is kept."""

    def __init__(self, problem: str, fix: str, epoch: int) -> None:
        super().__init__(problem, fix)
        self.epoch = epoch


def check_writable(out_dir: Path) -> None:
    """Fail before any training when ``out_dir`` cannot take files."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{time.time_ns()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise OutputError(
            f"Cannot write to the output directory {out_dir} ({err.strerror or err}).",
            "choose a writable place with hydra.run.dir=... (or hydra.sweep.dir=... for -m).",
        ) from err


def _output_error(err: OSError, out_dir: Path) -> OutputError:
    full = err.errno in (errno.ENOSPC, errno.EDQUOT)
    return OutputError(
        f"{'The disk is full' if full else 'Writing failed'} while writing into {out_dir} "
        f"({err.strerror or err}); results.json was not written.",
        "free some space or set hydra.run.dir to another disk; checkpoints/ keeps the last good files.",
    )


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


def fit_and_test(
    experiment: Experiment,
    out_dir: Path,
    console: Console,
    fold: int | None = None,
    resume: dict[str, Any] | None = None,
    intro: bool = True,
    dist: Dist = SINGLE,
    meta: dict[str, Any] | None = None,
) -> FitResult:
    """Train the experiment's fresh model (or continue ``resume``), then test the best weights once.

    ``intro`` prints the panel that describes model, data and output first.
    """
    cfg, task, model, device = experiment.cfg, experiment.task, experiment.model, experiment.device
    trained = _wrap(model, cfg, device, dist)
    if intro:
        run_dir = out_dir.parent if fold is not None else out_dir
        console.print(
            key_value_panel(
                f"gnnexp train: {cfg.model.name} on {cfg.dataset.name} ({cfg.task.kind} task)",
                {
                    "model": f"{model!r}, {count_parameters(model):,} parameters",
                    **task.describe(),
                    "device": str(device),
                    "output": str(run_dir),
                },
            )
        )
    parts = _training_parts(cfg, model, device)
    optimizer, schedule, stopper, precision = (
        parts[k] for k in ("optimizer", "schedule", "stopper", "precision")
    )
    start_epoch = 1
    if resume is not None:
        start_epoch = _restore(resume, parts, cfg, out_dir, console)

    out_dir.mkdir(parents=True, exist_ok=True)
    table = EpochTable(console, task.metric, cfg.trainer.max_epochs, cfg.trainer.log_every)
    csv = MetricsCSV(out_dir / METRICS_FILE, task.metric, append=resume is not None)
    loggers = build_loggers(cfg.get("logger"), out_dir, meta or {})
    # What the weights expect (gnnexp predict checks a new dataset against it).
    shape = {"in_channels": task.in_channels, "out_channels": getattr(task, "out_channels", None)}
    recorder = Recorder(out_dir, cfg, table, csv, parts, fold, loggers, shape)
    for logger in loggers:
        logger.log_hparams(recorder.config)
    if resume is not None:  # the best weights so far sit next to the checkpoint resumed from
        best = Path(cfg.trainer.resume).with_name(BEST.name)
        if best.is_file():
            recorder.best_weights = load_checkpoint(best)["model"]
    started = time.perf_counter()
    try:
        with table, StopOnSignal() as stop:
            outcome = fit(
                trained,
                task,
                optimizer,
                schedule,
                stopper,
                max_epochs=cfg.trainer.max_epochs,
                eval_every=cfg.trainer.eval_every,
                grad_clip=cfg.trainer.grad_clip,
                skip_nonfinite=cfg.trainer.nonfinite == "skip",
                precision=precision,
                start_epoch=start_epoch,
                on_batch=table.batch,
                on_epoch_end=recorder.on_epoch_end,
                stop_requested=(lambda: dist.any(stop())) if dist.active else stop,  # all ranks stop together
            )
    except BaseException as err:
        for logger in loggers:  # the tracker's run ends too, marked as not finished
            logger.close(failed=True)
        if not isinstance(err, NonFiniteError):
            raise
        kept = (
            f"checkpoints/best.pt (epoch {stopper.best_epoch}) is kept"
            if stopper.best is not None
            else "no checkpoint was saved"
        )
        raise Diverged(
            f"Training diverged: {err}; {kept}.",
            "lower optimizer.lr, set trainer.grad_clip=1.0, or trainer.nonfinite=skip to skip such steps.",
            err.epoch,
        ) from None
    finally:
        csv.close()
        recorder.flush()  # a best checkpoint still waiting for its write interval
        if cfg.trainer.curves and dist.is_main:
            title = f"{cfg.model.name} on {cfg.dataset.name}"
            PAINTER.draw(
                out_dir / METRICS_FILE, out_dir / "curves.png", task.metric, stopper.best_epoch, title
            )
    recorder.save_last(outcome.last_epoch)
    if outcome.interrupted:
        for logger in loggers:
            logger.close(failed=True)
        _stop_interrupted(out_dir, outcome.last_epoch, stop.exit_code, console)

    if recorder.best_weights is None:  # a resumed run whose best.pt is gone
        raise TrainingError(f"No best weights were recorded in {out_dir}.", "start a new run.")
    model.load_state_dict(recorder.best_weights)
    final = evaluate(trained, task, ("val", "test"), precision)
    for logger in loggers:
        logger.log_results({"val": final["val"], "test": final["test"], "best_epoch": stopper.best_epoch})
        logger.close()
    return FitResult(
        best_epoch=stopper.best_epoch,
        best_value=float(stopper.best) if stopper.best is not None else float("nan"),
        epochs_run=outcome.last_epoch,
        stopped_early=outcome.last_epoch < cfg.trainer.max_epochs,
        val=final["val"],
        test=final["test"],
        num_params=count_parameters(model),
        train_time_s=time.perf_counter() - started,
        skipped_steps=recorder.skipped_steps,
    )


def _wrap(model: torch.nn.Module, cfg: DictConfig, device: torch.device, dist: Dist) -> torch.nn.Module:
    """The module that trains: DDP and/or torch.compile around ``model``, which keeps the
    parameter names checkpoints use."""
    trained = model
    if dist.active:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.trainer.compile:
        trained = torch.compile(trained)  # type: ignore[assignment]  # an OptimizedModule for a Module
    return trained


def _training_parts(cfg: DictConfig, model: torch.nn.Module, device: torch.device) -> dict[str, Any]:
    """Optimizer, LR schedule, early stopping and precision: what a checkpoint must capture."""
    optimizer = build_optimizer(cfg.optimizer, model.parameters())
    mode = monitor_mode(cfg)
    metric = metric_name(cfg)
    return {
        "model": model,
        "optimizer": optimizer,
        "schedule": LRSchedule(optimizer, cfg.scheduler, cfg.trainer.max_epochs, mode),
        "stopper": build_stopper(
            cfg.trainer.monitor,
            mode,
            cfg.trainer.patience,
            cfg.trainer.min_delta,
            metric,
            METRIC_MODES[metric],
        ),
        "precision": Precision(cfg.trainer.precision, device),
    }


def _restore(
    state: dict[str, Any], parts: dict[str, Any], cfg: DictConfig, out_dir: Path, console: Console
) -> int:
    """Load a checkpoint into the freshly built parts; returns the epoch to continue with."""
    current = cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True))
    assert isinstance(current, dict)
    check_same_model(state["config"], current, parts["model"].state_dict(), state["model"])
    changed = differences(state["config"], current, ignore=("trainer.resume",))
    if changed:
        console.print(f"[yellow]resuming with changed settings:[/yellow] {'; '.join(changed)}")
    parts["model"].load_state_dict(state["model"])
    parts["optimizer"].load_state_dict(state["optimizer"])
    parts["schedule"].load_state_dict(state["scheduler"])
    parts["stopper"].load_state_dict(state["early_stopping"])
    parts["precision"].load_state_dict(state.get("scaler"))
    set_rng_state(state["rng"])
    truncate_metrics(out_dir / METRICS_FILE, state["epoch"])
    console.print(f"resuming after epoch {state['epoch']} from {cfg.trainer.resume}")
    return int(state["epoch"]) + 1


def _stop_interrupted(out_dir: Path, epoch: int, exit_code: int, console: Console) -> None:
    """Record the interruption, say how to resume, and exit with 128 + signal number."""
    hint = f"gnnexp train trainer.resume={out_dir}"
    write_failure(
        out_dir,
        TrainingError(f"interrupted after epoch {epoch}", hint),
        {"status": "interrupted", "epoch": epoch, "resume": hint},
    )
    console.print(
        key_value_panel(
            "interrupted", {"last epoch": epoch, "checkpoint": str(out_dir / LAST)}, style="yellow"
        )
    )
    console.print(f"Resume with: {hint}", soft_wrap=True, highlight=False)  # one line, to copy
    raise SystemExit(exit_code)


def _mean_std(dicts: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    keys = dicts[0].keys()
    mean = {k: statistics.fmean(d[k] for d in dicts) for k in keys}
    std = {k: statistics.stdev([d[k] for d in dicts]) if len(dicts) > 1 else 0.0 for k in keys}
    return mean, std


def _folds_table(results: list[FitResult], metric: str) -> Table:
    table = Table(title="cross-validation", title_justify="left")
    for column in ("fold", "best epoch", f"val {metric}", f"test {metric}"):
        table.add_column(column, justify="right")
    for i, r in enumerate(results):
        table.add_row(str(i), str(r.best_epoch), f"{r.val[metric]:.4f}", f"{r.test[metric]:.4f}")
    val_mean, val_std = _mean_std([r.val for r in results])
    test_mean, test_std = _mean_std([r.test for r in results])
    table.add_row(
        "mean ± std",
        "",
        f"{val_mean[metric]:.4f} ± {val_std[metric]:.4f}",
        f"{test_mean[metric]:.4f} ± {test_std[metric]:.4f}",
        style="bold",
    )
    return table


def train(
    cfg: DictConfig,
    out_dir: Path,
    meta: dict[str, Any] | None = None,
    console: Console | None = None,
    dist: Dist | None = None,
) -> float:
    """Train as ``cfg`` says, writing everything into ``out_dir``.

    Returns the best monitored validation value (its mean over folds), which is what a
    Hydra sweeper optimises. ``meta`` (config choices, overrides) goes into results.json.
    With ``trainer.strategy=ddp`` this launches the processes (or joins torchrun's); in
    each of them ``dist`` says which rank it is, and only rank 0 writes into ``out_dir``.
    """
    started = time.perf_counter()
    meta = meta or {}
    checked(cfg)
    set_deterministic(bool(cfg.trainer.deterministic))
    device = resolve_device(cfg.device.type)
    if cfg.trainer.strategy == "ddp" and dist is None:
        if not under_torchrun():
            check_writable(out_dir)
            return launch(cfg, out_dir, meta)
        dist = join_torchrun(device)
    dist = dist or SINGLE
    device = local_device(device, dist)
    with tempfile.TemporaryDirectory(prefix="gnnexp-rank-") as scratch:
        if not dist.is_main:  # the other ranks train alike but keep their files to themselves
            out_dir, console = Path(scratch), Console(file=io.StringIO())
        console = console or Console()
        resume = load_checkpoint(Path(cfg.trainer.resume)) if cfg.trainer.resume else None
        check_writable(out_dir)
        data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir))
        # DDP starts every rank from rank 0's weights (the seed differs only for sampling).
        first = build_experiment(
            cfg, 0 if cfg.trainer.folds else None, dist, device, data, seed=cfg.seed + dist.rank
        )
        with _failures_recorded(out_dir, first.task.metric, meta):
            return _train_and_report(cfg, out_dir, meta, console, started, first, resume, dist)


@contextmanager
def _failures_recorded(out_dir: Path, metric: str, meta: dict[str, Any]) -> Iterator[None]:
    """A diverged run records its failure in results.json; a failed write becomes one line."""
    try:
        yield
    except Diverged as err:
        failure = {"status": "failed", "error": str(err), "failed_epoch": err.epoch, "metric": metric, **meta}
        write_json_atomic(out_dir / RESULTS_FILE, failure)
        raise
    except OSError as err:
        raise _output_error(err, out_dir) from err


def _train_and_report(
    cfg: DictConfig,
    out_dir: Path,
    meta: dict[str, Any],
    console: Console,
    started: float,
    first: Experiment,
    resume: dict[str, Any] | None,
    dist: Dist,
) -> float:
    """Train (once, or once per fold) and write results.json and the summary panel."""
    folds = cfg.trainer.folds
    metric = first.task.metric
    if folds:
        fold_results = []
        for fold in range(folds):
            console.rule(f"fold {fold + 1} of {folds}")
            experiment = (
                first
                if fold == 0
                else build_experiment(cfg, fold, dist, first.device, first.data, seed=cfg.seed + dist.rank)
            )
            fold_results.append(
                fit_and_test(
                    experiment,
                    out_dir / f"fold_{fold}",
                    console,
                    fold=fold,
                    intro=fold == 0,
                    meta=meta,
                )
            )
        console.print(_folds_table(fold_results, metric))
        val, val_std = _mean_std([r.val for r in fold_results])
        test, test_std = _mean_std([r.test for r in fold_results])
        best_value = statistics.fmean(r.best_value for r in fold_results)
        summary: dict[str, Any] = {
            "folds": [{"fold": i, **asdict(r)} for i, r in enumerate(fold_results)],
            "val_std": val_std,
            "test_std": test_std,
            "num_params": fold_results[0].num_params,
            "train_time_s": sum(r.train_time_s for r in fold_results),
        }
        best_epoch = None
    else:
        result = fit_and_test(first, out_dir, console, resume=resume, dist=dist, meta=meta)
        val, test, best_value = result.val, result.test, result.best_value
        summary = {k: v for k, v in asdict(result).items() if k not in ("val", "test", "best_value")}
        best_epoch = result.best_epoch

    results = {
        "status": "completed",
        "task": cfg.task.kind,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "metric": metric,
        "monitor": cfg.trainer.monitor,
        "mode": monitor_mode(cfg),
        "best_value": best_value,
        "val": val,
        "test": test,
        **summary,
        "seed": cfg.seed,
        "wall_time_s": time.perf_counter() - started,
        "checkpoint": None if folds or not cfg.trainer.checkpoint.save_best else str(BEST),
        "gnnexp_version": __version__,
        **meta,
    }
    write_json_atomic(out_dir / RESULTS_FILE, results)
    (out_dir / FAILURE_FILE).unlink(missing_ok=True)  # left by an interruption this run resumed
    rows = {
        "best epoch": f"{best_epoch} of {summary['epochs_run']}"
        + (" (stopped early)" if summary["stopped_early"] else "")
        if best_epoch is not None
        else f"per fold: {', '.join(str(f['best_epoch']) for f in summary['folds'])}",
        f"val {metric}": f"{val[metric]:.4f}" + (f" ± {summary['val_std'][metric]:.4f}" if folds else ""),
        f"test {metric}": f"{test[metric]:.4f}" + (f" ± {summary['test_std'][metric]:.4f}" if folds else ""),
    }
    if results["checkpoint"]:
        rows["checkpoint"] = str(out_dir / BEST)
    rows["results"] = str(out_dir / RESULTS_FILE)
    rows["wall time"] = f"{results['wall_time_s']:.2f} s"
    console.print(key_value_panel("result", rows, style="green"))
    return float(best_value)


# trainer.strategy=ddp outside torchrun: the CLI spawns the processes, each of which trains.
# (Here rather than in gnnexp.training.distributed, which sits below this module.)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(
    rank: int, world_size: int, config: dict[str, Any], out_dir: str, meta: dict[str, Any], port: int
) -> None:
    import sys

    import torch.distributed as torch_dist

    from gnnexp.errors import report

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cfg = OmegaConf.create(config)
    torch_dist.init_process_group(backend(resolve_device(cfg.device.type)), rank=rank, world_size=world_size)
    console = None if rank == 0 else Console(file=open(os.devnull, "w"))  # noqa: SIM115
    try:
        train(cfg, Path(out_dir), meta, console, dist=Dist(rank, world_size))
    except GnnexpError as err:
        if rank == 0:
            report(err)
        sys.exit(err.exit_code)
    finally:
        torch_dist.destroy_process_group()


def launch(cfg: Any, out_dir: Path, meta: dict[str, Any]) -> float:
    """Train in ``trainer.num_processes`` processes; returns rank 0's monitored value."""
    import torch.multiprocessing as mp

    config = OmegaConf.to_container(cfg, resolve=True)
    world_size = int(cfg.trainer.num_processes)
    try:
        mp.spawn(_worker, args=(world_size, config, str(out_dir), meta, _free_port()), nprocs=world_size)
    except mp.ProcessRaisedException as err:  # a bug in a worker: keep its trace
        raise TrainingError(
            f"DDP process {err.error_index} failed: {str(err).strip().splitlines()[-1]}",
            "see the trace above.",
        ) from err
    except mp.ProcessExitedException as err:
        if err.exit_code in (130, 143):  # interrupted: rank 0 saved last.pt and said how to resume
            raise SystemExit(err.exit_code) from None
        raise TrainingError(
            f"DDP process {err.error_index} exited with status {err.exit_code}.",
            "see its message above; the run can be resumed from checkpoints/last.pt if one exists.",
        ) from None
    results = json.loads((out_dir / RESULTS_FILE).read_text())
    return float(results["best_value"])
