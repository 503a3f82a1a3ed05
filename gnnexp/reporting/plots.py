"""Training curves as PNG files (matplotlib's Agg canvas: no display, no pyplot state)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gnnexp.atomic import atomic_file
from gnnexp.errors import DataError, OutputError

# Colours of a qualitative palette (tab10), cycled over runs.
COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def read_metrics(path: Path) -> dict[str, list[float]]:
    """Columns of a metrics.csv as floats (NaN where a value is missing)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(
            f"{path} cannot be read ({type(err).__name__}: {err}).", "give runs written by gnnexp train."
        ) from err
    columns: dict[str, list[float]] = {}
    for number, row in enumerate(rows, start=2):
        for key, value in row.items():
            try:
                columns.setdefault(str(key), []).append(float(value) if value not in ("", None) else math.nan)
            except (TypeError, ValueError):
                raise DataError(
                    f"{path} row {number}: {key}={value!r} is not a number; the file is damaged.",
                    "remove that run from the plot, or re-run it.",
                ) from None
    if "epoch" not in columns:
        raise DataError(
            f"{path} has no epoch column: it is not a gnnexp metrics.csv.",
            "give runs written by gnnexp train.",
        )
    return columns


def _figure(panels: int) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2 * panels, 3.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.82, wspace=0.3)
    return figure, axes


def _points(epochs: list[float], values: list[float]) -> tuple[list[float], list[float]]:
    kept = [(e, v) for e, v in zip(epochs, values, strict=True) if not math.isnan(v)]
    return [e for e, _ in kept], [v for _, v in kept]


def plot_run(metrics_csv: Path, out: Path, metric: str, best_epoch: int | None, title: str = "") -> Path:
    """curves.png of one run: losses, the validation metric and the learning rate by epoch."""
    data = read_metrics(metrics_csv)
    epochs = data["epoch"]
    figure, (loss_ax, metric_ax, lr_ax) = _figure(3)
    loss_ax.plot(epochs, data["train_loss"], label="train", color=COLOURS[0])
    loss_ax.plot(*_points(epochs, data["val_loss"]), label="val", color=COLOURS[1])
    loss_ax.set_title("loss")
    loss_ax.legend(loc="upper right", fontsize=8)
    metric_ax.plot(*_points(epochs, data.get(f"val_{metric}", [math.nan] * len(epochs))), color=COLOURS[1])
    metric_ax.set_title(f"val {metric}")
    lr_ax.plot(epochs, data["lr"], color=COLOURS[2])
    lr_ax.set_title("learning rate")
    for ax in (loss_ax, metric_ax, lr_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if best_epoch:
            ax.axvline(best_epoch, color="#555555", linestyle="--", linewidth=1)
    metric_ax.annotate(f"best epoch {best_epoch}", xy=(0.02, 0.04), xycoords="axes fraction", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    save_figure(figure, out)
    return out


def _mean_std(series: Sequence[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """Per-epoch mean and std over runs of different lengths (each epoch over runs that have it)."""
    length = max(len(s) for s in series)
    epochs, means, stds = [], [], []
    for i in range(length):
        values = [s[i] for s in series if i < len(s) and not math.isnan(s[i])]
        if values:
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
            epochs.append(float(i + 1))
            means.append(mean)
            stds.append(math.sqrt(var))
    return epochs, means, stds


def plot_groups(
    groups: dict[str, list[dict[str, list[float]]]], metric: str, out: Path, title: str = ""
) -> Path:
    """Overlay of configurations: mean ± std band over each one's runs (seeds)."""
    figure, (loss_ax, val_loss_ax, metric_ax) = _figure(3)
    for i, (label, runs) in enumerate(sorted(groups.items())):
        colour = COLOURS[i % len(COLOURS)]
        for ax, column in ((loss_ax, "train_loss"), (val_loss_ax, "val_loss"), (metric_ax, f"val_{metric}")):
            series = [run[column] for run in runs if column in run]
            if not series:
                continue
            epochs, mean, std = _mean_std(series)
            ax.plot(epochs, mean, color=colour, label=f"{label} (n={len(series)})")
            if len(series) > 1:
                ax.fill_between(
                    epochs,
                    [m - s for m, s in zip(mean, std, strict=True)],
                    [m + s for m, s in zip(mean, std, strict=True)],
                    color=colour,
                    alpha=0.2,
                )
    for ax, name in ((loss_ax, "train loss"), (val_loss_ax, "val loss"), (metric_ax, f"val {metric}")):
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    metric_ax.legend(loc="lower right", fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    save_figure(figure, out)
    return out


def save_figure(figure: Any, out: Path) -> None:
    """Save as the extension of ``out`` says (png, pdf, svg...), whole or not at all."""
    fmt = out.suffix.lstrip(".").lower()
    supported = figure.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise OutputError(
            f"{out} has an extension matplotlib cannot write ({fmt or 'none'}).",
            f"use one of: {', '.join(sorted(supported))} (e.g. --out curves.png).",
        )
    with atomic_file(out, "wb") as file:
        figure.savefig(file, format=fmt)
