"""One training run, top to bottom: config -> data, model, optimizer, schedule -> loop -> files.

This module knows nothing of Hydra: it takes a composed config and an output directory, so
the same code serves the CLI, sweeps and tests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from gnnexp import __version__
from gnnexp.checkpoint import save_checkpoint
from gnnexp.config.validate import monitor_mode, validate
from gnnexp.data import load_dataset
from gnnexp.device import resolve_device
from gnnexp.models import build_model, count_parameters
from gnnexp.paths import resolve_data_dir
from gnnexp.reporting.console import EpochTable, key_value_panel
from gnnexp.reporting.files import METRICS_FILE, RESULTS_FILE, MetricsCSV, write_json_atomic
from gnnexp.seeding import rng_state, seed_everything
from gnnexp.tasks import build_task
from gnnexp.training.early_stopping import EarlyStopping
from gnnexp.training.loop import EpochRecord, evaluate, fit
from gnnexp.training.optim import LRSchedule, build_optimizer

BEST = Path("checkpoints/best.pt")
LAST = Path("checkpoints/last.pt")


def monitor_key(cfg: DictConfig) -> str:
    """The key of the validation results that ``trainer.monitor`` names."""
    return "loss" if cfg.trainer.monitor == "val_loss" else str(cfg.dataset.metric)


class Recorder:
    """What each epoch leaves behind: a table row, a CSV row and, on improvement, best.pt.

    It also keeps the best weights in memory, so the final test evaluation uses exactly
    the weights of the best validation epoch.
    """

    def __init__(
        self, out_dir: Path, cfg: DictConfig, table: EpochTable, csv: MetricsCSV, parts: dict[str, Any]
    ) -> None:
        self.out_dir = out_dir
        self.cfg = cfg
        self.table = table
        self.csv = csv
        self.parts = parts  # model, optimizer, schedule, stopper
        self.config = OmegaConf.to_container(cfg, resolve=True)
        self.best_weights: dict[str, torch.Tensor] | None = None

    def snapshot(self, epoch: int, metrics: dict[str, float] | None) -> dict[str, Any]:
        """Everything needed to evaluate, or to resume training after ``epoch``."""
        p = self.parts
        return {
            "epoch": epoch,
            "model": p["model"].state_dict(),
            "optimizer": p["optimizer"].state_dict(),
            "scheduler": p["schedule"].state_dict(),
            "early_stopping": p["stopper"].state_dict(),
            "metrics": metrics,
            "monitor": {"name": self.cfg.trainer.monitor, "mode": p["stopper"].mode},
            "config": self.config,
            "rng": rng_state(),
            "gnnexp_version": __version__,
        }

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.csv.write(record)
        stopper = self.parts["stopper"]
        best = "" if stopper.best is None else f"best {stopper.best:.4f} @ {stopper.best_epoch}"
        self.table.add(record, best_text=best)
        if record.is_best:
            model = self.parts["model"]
            self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if self.cfg.trainer.checkpoint.save_best:
                save_checkpoint(self.out_dir / BEST, self.snapshot(record.epoch, record.val))


def train(
    cfg: DictConfig,
    out_dir: Path,
    meta: dict[str, Any] | None = None,
    console: Console | None = None,
) -> float:
    """Train as ``cfg`` says, writing everything into ``out_dir``.

    Returns the best monitored validation value (what a Hydra sweeper optimises).
    ``meta`` (config choices, overrides) is copied into ``results.json``.
    """
    started = time.perf_counter()
    console = console or Console()
    validate(cfg)
    device = resolve_device(cfg.device.type)

    data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir))
    task = build_task(cfg.task, data, cfg.dataset.metric, device)
    seed_everything(cfg.seed)
    model = build_model(cfg.model, task.in_channels, task.out_channels).to(device)
    optimizer = build_optimizer(cfg.optimizer, model.parameters())
    mode = monitor_mode(cfg)
    schedule = LRSchedule(optimizer, cfg.scheduler, cfg.trainer.max_epochs, mode)
    stopper = EarlyStopping(mode, cfg.trainer.patience, cfg.trainer.min_delta)

    num_params = count_parameters(model)
    console.print(
        key_value_panel(
            f"gnnexp train: {cfg.model.name} on {cfg.dataset.name}",
            {
                "model": f"{model!r}, {num_params:,} parameters",
                **task.describe(),
                "device": str(device),
                "output": str(out_dir),
            },
        )
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    metric = str(cfg.dataset.metric)
    table = EpochTable(console, metric, cfg.trainer.max_epochs, cfg.trainer.log_every)
    csv = MetricsCSV(out_dir / METRICS_FILE, metric)
    parts = {"model": model, "optimizer": optimizer, "schedule": schedule, "stopper": stopper}
    recorder = Recorder(out_dir, cfg, table, csv, parts)
    train_started = time.perf_counter()
    try:
        with table:
            last_epoch = fit(
                model,
                task,
                optimizer,
                schedule,
                stopper,
                monitor=monitor_key(cfg),
                max_epochs=cfg.trainer.max_epochs,
                eval_every=cfg.trainer.eval_every,
                grad_clip=cfg.trainer.grad_clip,
                on_epoch_end=recorder.on_epoch_end,
            )
    finally:
        csv.close()
    if cfg.trainer.checkpoint.save_last:
        save_checkpoint(out_dir / LAST, recorder.snapshot(last_epoch, None))

    assert recorder.best_weights is not None, "at least the last epoch is always evaluated"
    model.load_state_dict(recorder.best_weights)
    final = evaluate(model, task, ("val", "test"))
    train_time = time.perf_counter() - train_started

    results = {
        "status": "completed",
        "task": cfg.task.kind,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "metric": metric,
        "monitor": cfg.trainer.monitor,
        "mode": mode,
        "best_epoch": stopper.best_epoch,
        "best_value": stopper.best,
        "epochs_run": last_epoch,
        "stopped_early": last_epoch < cfg.trainer.max_epochs,
        "val": final["val"],
        "test": final["test"],
        "num_params": num_params,
        "seed": cfg.seed,
        "train_time_s": train_time,
        "wall_time_s": time.perf_counter() - started,
        "checkpoint": str(BEST) if cfg.trainer.checkpoint.save_best else None,
        "gnnexp_version": __version__,
        **(meta or {}),
    }
    write_json_atomic(out_dir / RESULTS_FILE, results)
    console.print(
        key_value_panel(
            "result",
            {
                "best epoch": f"{stopper.best_epoch} of {last_epoch}"
                + (" (stopped early)" if results["stopped_early"] else ""),
                f"val {metric}": f"{final['val'][metric]:.4f}",
                f"test {metric}": f"{final['test'][metric]:.4f}",
                "checkpoint": str(out_dir / BEST) if results["checkpoint"] else "(not saved)",
                "results": str(out_dir / RESULTS_FILE),
                "wall time": f"{results['wall_time_s']:.2f} s",
            },
            style="green",
        )
    )
    return float(stopper.best)
