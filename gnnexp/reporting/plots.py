"""Training curves as PNG files (matplotlib's Agg canvas: no display, no pyplot state)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gnnexp.errors import DataError, OutputError
from gnnexp.util.atomic import atomic_file

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


def _figure(panels: int, legend_rows: int = 0) -> tuple[Any, list[Any]]:
    """A row of ``panels``, with room below them for a legend of ``legend_rows`` lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    legend_in = 0.2 * legend_rows + (0.25 if legend_rows else 0.0)
    height = 3.4 + legend_in
    figure = Figure(figsize=(4.2 * panels, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    bottom = (0.5 + legend_in) / height
    figure.subplots_adjust(left=0.07, right=0.98, bottom=bottom, top=1 - 0.6 / height, wspace=0.3)
    return figure, axes


def _points(epochs: list[float], values: list[float]) -> tuple[list[float], list[float]]:
    kept = [(e, v) for e, v in zip(epochs, values, strict=True) if not math.isnan(v)]
    return [e for e, _ in kept], [v for _, v in kept]


def constant(values: Sequence[float]) -> float | None:
    """The value of a series that never changes (a constant learning rate), else None."""
    finite = [v for v in values if not math.isnan(v)]
    if finite and max(finite) - min(finite) <= 1e-9 * max(abs(max(finite)), 1e-30):
        return finite[0]
    return None


def _mark_best(ax: Any, best_epoch: int) -> None:
    """A dashed line at the best epoch, labelled beside the line at the top of the panel."""
    ax.axvline(best_epoch, color="#555555", linestyle="--", linewidth=1)
    low, high = ax.get_xlim()
    right_half = best_epoch > low + 0.6 * (high - low)  # label on the side with room
    ax.annotate(
        f"best epoch {best_epoch}",
        xy=(best_epoch, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-4 if right_half else 4, -4),
        textcoords="offset points",
        ha="right" if right_half else "left",
        va="top",
        fontsize=8,
        color="#333333",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
    )


def plot_run(metrics_csv: Path, out: Path, metric: str, best_epoch: int | None, title: str = "") -> Path:
    """curves.png of one run (:func:`run_figure`)."""
    save_figure(run_figure(read_metrics(metrics_csv), metric, best_epoch, title), out)
    return out


def run_figure(data: dict[str, list[float]], metric: str, best_epoch: int | None, title: str = "") -> Any:
    """Losses, the validation metric and the learning rate of one run by epoch.

    A learning rate that never changes gets no panel; the title says its value instead.
    """
    epochs = data["epoch"]
    fixed_lr = constant(data["lr"])
    figure, axes = _figure(2 if fixed_lr is not None else 3, legend_rows=1)
    loss_ax, metric_ax = axes[0], axes[1]
    loss_ax.plot(epochs, data["train_loss"], label="train loss", color=COLOURS[0])
    loss_ax.plot(*_points(epochs, data["val_loss"]), label="validation", color=COLOURS[1])
    loss_ax.set_title("loss")
    # Below the panels: a legend inside one can cover the curves.
    figure.legend(loc="lower center", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.02))
    metric_ax.plot(*_points(epochs, data.get(f"val_{metric}", [math.nan] * len(epochs))), color=COLOURS[1])
    metric_ax.set_title(f"val {metric}")
    if fixed_lr is None:
        axes[2].plot(epochs, data["lr"], color=COLOURS[2])
        axes[2].set_title("learning rate")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if best_epoch:
            _mark_best(ax, best_epoch)
    lr_note = f"learning rate {fixed_lr:g} throughout" if fixed_lr is not None else ""
    figure.suptitle(" · ".join(t for t in (title or "training curves", lr_note) if t), fontsize=10)
    return figure


def carried(series: Sequence[list[float]]) -> list[list[float]]:
    """Each run padded to the longest with its last value: a run that stopped early counts with
    the value it stopped at, so the mean does not jump where it drops out."""
    length = max(len(s) for s in series)
    out = []
    for values in series:
        finite = [v for v in values if not math.isnan(v)]
        out.append(list(values) + [finite[-1] if finite else math.nan] * (length - len(values)))
    return out


def _mean_std(series: Sequence[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """Per-epoch mean and sample std over runs, each carried to the longest (:func:`carried`)."""
    epochs, means, stds = [], [], []
    for i, column in enumerate(zip(*carried(series), strict=True)):
        values = [v for v in column if not math.isnan(v)]
        if values:
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
            epochs.append(float(i + 1))
            means.append(mean)
            stds.append(math.sqrt(var))
    return epochs, means, stds


def short_label(label: str, limit: int = 48) -> str:
    """An override label that fits a legend: ``model.hidden_channels=64`` -> ``hidden_channels=64``,
    then cut in the middle past ``limit`` characters."""
    words = []
    for word in label.split():
        key, sep, value = word.partition("=")
        words.append(key.rsplit(".", 1)[-1] + sep + value)
    text = " ".join(words)
    if len(text) <= limit:
        return text
    keep = (limit - 1) // 2
    return text[:keep] + "…" + text[-(limit - 1 - keep) :]


def plot_groups(
    groups: dict[str, list[dict[str, list[float]]]], metric: str, out: Path, title: str = ""
) -> Path:
    """The comparison PNG of configurations (:func:`groups_figure`)."""
    save_figure(groups_figure(groups, metric, title), out)
    return out


def groups_figure(groups: dict[str, list[dict[str, list[float]]]], metric: str, title: str = "") -> Any:
    """Overlay of configurations: mean ± std band over each one's runs (seeds or folds).

    Bands stay inside the values a column can take (a loss >= 0, accuracy <= 1). The legend
    sits below the panels, so it never covers a curve.
    """
    from gnnexp.metrics import value_range

    labels = sorted(groups)
    ncol = 2 if len(labels) > 1 else 1
    figure, (loss_ax, val_loss_ax, metric_ax) = _figure(3, legend_rows=math.ceil(len(labels) / ncol))
    panels = ((loss_ax, "train_loss", "train loss"), (val_loss_ax, "val_loss", "val loss"),
              (metric_ax, f"val_{metric}", f"val {metric}"))  # fmt: skip
    handles = []
    for i, label in enumerate(labels):
        runs = groups[label]
        colour = COLOURS[i % len(COLOURS)]
        for ax, column, _ in panels:
            series = [run[column] for run in runs if column in run]
            if not series:
                continue
            epochs, mean, std = _mean_std(series)
            (line,) = ax.plot(epochs, mean, color=colour, label=f"{short_label(label)} (n={len(series)})")
            if ax is loss_ax:
                handles.append(line)
            if len(series) > 1:
                low, high = value_range(column[4:] if column.startswith("val_") else column)
                ax.fill_between(
                    epochs,
                    [max(low, m - s) for m, s in zip(mean, std, strict=True)],
                    [min(high, m + s) for m, s in zip(mean, std, strict=True)],
                    color=colour,
                    alpha=0.2,
                    linewidth=0,
                )
    for ax, _, name in panels:
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    note = "mean ± std over n runs; a run that stopped early counts with its last value"
    figure.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False,
                  bbox_to_anchor=(0.5, 0.02), title=note, title_fontsize=8)  # fmt: skip
    figure.suptitle(title or f"val {metric} and losses by epoch", fontsize=10)
    return figure


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
