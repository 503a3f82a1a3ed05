"""k-fold cross-validation on top of single fits: one fit per fold, then mean ± std."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gnnexp.config.validate import METRIC_MODES
from gnnexp.errors import TrainingError
from gnnexp.paths import fold_dir
from gnnexp.running.experiment import Experiment, build_experiment
from gnnexp.running.fit import FitResult, fit_and_test
from gnnexp.training.distributed import Dist
from gnnexp.training.threads import Threads


def mean_std(dicts: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    keys = dicts[0].keys()
    mean = {k: statistics.fmean(d[k] for d in dicts) for k in keys}
    std = {k: statistics.stdev([d[k] for d in dicts]) if len(dicts) > 1 else 0.0 for k in keys}
    return mean, std


def held_out_table(results: list[FitResult], metric: str, epoch: int) -> Table:
    """Xu et al.'s protocol: each held-out fold's ``metric`` at the one selected epoch."""
    table = Table(title=f"cross-validation, epoch {epoch} for every fold", title_justify="left")
    for column in ("fold", f"held-out {metric}"):
        table.add_column(column, justify="right")
    values = [r.val_curve[epoch][metric] for r in results]
    for i, value in enumerate(values):
        table.add_row(str(i + 1), f"{value:.4f}")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    table.add_row("mean ± std", f"{statistics.fmean(values):.4f} ± {std:.4f}", style="bold")
    return table


def folds_table(results: list[FitResult], metric: str) -> Table:
    table = Table(title="cross-validation", title_justify="left")
    for column in ("fold", "best epoch", f"val {metric}", f"test {metric}"):
        table.add_column(column, justify="right")
    for i, r in enumerate(results):
        table.add_row(str(i + 1), str(r.best_epoch), f"{r.val[metric]:.4f}", f"{r.test[metric]:.4f}")
    val_mean, val_std = mean_std([r.val for r in results])
    test_mean, test_std = mean_std([r.test for r in results])
    table.add_row(
        "mean ± std",
        "",
        f"{val_mean[metric]:.4f} ± {val_std[metric]:.4f}",
        f"{test_mean[metric]:.4f} ± {test_std[metric]:.4f}",
        style="bold",
    )
    return table


def cross_validate(
    first: Experiment,
    out_dir: Path,
    console: Console,
    dist: Dist,
    meta: dict[str, Any],
    threads: Threads | None = None,
) -> tuple[dict[str, float], dict[str, float], float, dict[str, Any]]:
    """Train every fold (``first`` is the first fold's experiment), each in ``out_dir/fold_<n>``.

    Folds are numbered from 1 wherever a user sees them (headers, tables, directories,
    results.json); ``fold`` below is the 0-based index the splitter and checkpoints use.

    Returns the mean validation and test metrics, the mean best monitored value, and what
    results.json records about the folds.
    """
    cfg = first.cfg
    folds = int(cfg.trainer.folds)
    results = []
    for fold in range(folds):
        console.rule(f"fold {fold + 1} of {folds}")
        experiment = (
            first
            if fold == 0
            else build_experiment(cfg, fold, dist, first.device, first.data, seed=cfg.seed + dist.rank)
        )
        results.append(
            fit_and_test(
                experiment,
                out_dir / fold_dir(fold),
                console,
                fold=fold,
                intro=fold == 0,
                meta=meta,
                threads=threads,
            )
        )
    metric = first.task.metric
    mean_curve = cfg.trainer.fold_selection == "mean_curve"
    if not mean_curve:
        console.print(folds_table(results, metric))
    val, val_std = mean_std([r.val for r in results])
    test, test_std = mean_std([r.test for r in results])
    summary: dict[str, Any] = {
        "folds": [{"fold": i + 1, **r.record()} for i, r in enumerate(results)],
        "val_std": val_std,
        "test_std": test_std,
        "num_params": results[0].num_params,
        "train_time_s": sum(r.train_time_s for r in results),
        "fold_selection": str(cfg.trainer.fold_selection),
    }
    if mean_curve:
        epoch, test, test_std = best_mean_epoch(results, metric, METRIC_MODES.get(metric, "max"))
        val, summary["val_std"], summary["test_std"] = test, test_std, test_std
        summary["selected_epoch"] = epoch
        console.print(held_out_table(results, metric, epoch))
        console.print(
            f"Xu et al.'s protocol: epoch {epoch} has the best mean held-out {metric} over the "
            f"{folds} folds (selected on the test folds: optimistic).",
            highlight=False,
        )
        # The monitored value (a search's objective) of the reported epoch, not each fold's own best.
        monitored = "loss" if str(cfg.trainer.monitor) in ("val_loss", "val_loss_and_metric") else metric
        return val, test, test[monitored], summary
    return val, test, statistics.fmean(r.best_value for r in results), summary


def best_mean_epoch(
    results: list[FitResult], metric: str, mode: str
) -> tuple[int, dict[str, float], dict[str, float]]:
    """Xu et al. (2019)'s selection: the epoch whose held-out ``metric``, averaged over the
    folds, is best, and every value's mean and std over the folds at that epoch. Only epochs
    that every fold evaluated count (a fold that stopped early would bias the mean)."""
    epochs = set.intersection(*(set(r.val_curve) for r in results))
    if not epochs:
        raise TrainingError(
            "The folds share no evaluated epoch, so no mean curve exists.",
            "use trainer.patience=null with trainer.fold_selection=mean_curve.",
        )
    sign = 1 if mode == "max" else -1
    epoch = max(
        sorted(epochs), key=lambda e: sign * statistics.fmean(r.val_curve[e][metric] for r in results)
    )
    mean, std = mean_std([r.val_curve[epoch] for r in results])
    return epoch, mean, std
