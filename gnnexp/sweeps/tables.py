"""Sweep summaries shown: the rich table, markdown, CSV and JSON of :mod:`gnnexp.sweeps.summary`'s rows."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict
from typing import Any

from gnnexp.sweeps.summary import Job, Row, split_common


def _pm(mean: float | None, std: float | None) -> str:
    """ "0.8100 ± 0.0050"; a single value (``std`` None) has no spread to show."""
    if mean is None:
        return ""
    return f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def plural(count: int, noun: str) -> str:
    """ "1 configuration", "2 configurations"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def columns(rows: list[Row]) -> list[str]:
    """The table's columns: the main metric, then every other test metric any row has. The
    metric's name goes into the val/test headers when every row shares it, and the failed and
    unfinished counts appear when some job did not complete (narrow terminals keep the config)."""
    others = sorted({name for row in rows for name in row.tests if name != row.metric})
    metrics = {row.metric for row in rows if row.metric}
    shared = f" {next(iter(metrics))}" if len(metrics) == 1 else ""
    return [
        "config", *([] if shared else ["metric"]), "n", f"val{shared}", f"test{shared}",
        *(f"test {name}" for name in others), "epochs", "train time", "params",
        *(["failed"] if any(row.failed for row in rows) else []),
        *(["unfinished"] if any(row.unfinished for row in rows) else []),
        *(["pruned"] if any(row.pruned for row in rows) else []),
    ]  # fmt: skip


def _time(seconds: float | None) -> str:
    return "" if seconds is None else (f"{seconds:.2f} s" if seconds < 100 else f"{seconds / 60:.1f} min")


def _cells(row: Row, header: list[str]) -> list[str]:
    cells = {
        "config": row.config,
        "metric": row.metric or "",
        "n": str(row.n),
        "val": _pm(row.val_mean, row.val_std if row.n > 1 else None),
        "test": _pm(row.test_mean, row.test_std if row.n > 1 else None),
        "epochs": "" if row.epochs is None else f"{row.epochs:.0f}",
        "train time": _time(row.time_s),
        "params": "" if row.params is None else f"{row.params:,}",
        "failed": str(row.failed),
        "unfinished": str(row.unfinished),
        "pruned": str(row.pruned),
    }
    for name, (mean, std) in row.tests.items():
        cells[f"test {name}"] = _pm(mean, std if row.n > 1 else None)
    if row.metric:  # the shared metric's name in the header
        cells[f"val {row.metric}"], cells[f"test {row.metric}"] = cells["val"], cells["test"]
    return [cells.get(column, "") for column in header]


def seed_lines(rows: list[Row], varying: list[str]) -> list[str]:
    """Per configuration, each seed's validation and test value of the main metric."""
    lines = []
    for row, config in zip(rows, varying, strict=True):
        values = ", ".join(
            f"seed {s['seed']}: val {_value(s['val'])} test {_value(s['test'])}" for s in row.seeds
        )
        if values:
            lines.append(f"{config} ({row.metric}): {values}")
    return lines


def to_markdown(rows: list[Row], seeds: bool = False) -> str:
    common, varying = split_common(rows)
    header = columns(rows)
    lines = [f"All configurations share: `{' '.join(common)}`\n"] if common else []
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row, config in zip(rows, varying, strict=True):
        cells = [config, *_cells(row, header)[1:]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if seeds:
        lines += ["", "Per seed:", "", *(f"- {line}" for line in seed_lines(rows, varying))]
    errors = [
        f"- {config}: {error}"
        for row, config in zip(rows, varying, strict=True)
        for error in [*row.errors, *row.warnings]
    ]
    if errors:
        lines += ["", "Jobs that did not complete, or learned nothing:", "", *errors]
    return "\n".join(lines) + "\n"


def clean(value: Any) -> Any:
    """``value`` with every float cut to the 7 significant digits a float32 metric has
    (0.8066666722297668 -> 0.8066667), in nested lists and dicts too; NaN and infinities,
    which JSON has no word for, become null (missing)."""
    if isinstance(value, float):
        return float(f"{value:.7g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def to_csv(rows: list[Row], seeds: bool = False) -> str:
    """One line per configuration (per seed with ``seeds``), every test metric as mean and std."""
    out = io.StringIO()
    writer = csv.writer(out)
    names = sorted({name for row in rows for name in row.tests})
    fixed = ["config", "metric", "n", "val_mean", "val_std", "test_mean", "test_std"]
    details = ["epochs", "train_time_s", "num_params", "failed", "unfinished"]
    tests = [f"test_{name}_{stat}" for name in names for stat in ("mean", "std")]
    writer.writerow([*fixed, *tests, *details, *(["seed", "seed_val", "seed_test"] if seeds else [])])
    for r in rows:
        per_metric: list[float | None] = []
        for name in names:
            per_metric += r.tests.get(name) or [None, None]
        line = [r.config, r.metric, r.n, r.val_mean, r.val_std, r.test_mean, r.test_std, *per_metric]
        line += [r.epochs, r.time_s, r.params, r.failed, r.unfinished]
        per_seed: list[dict[str, Any] | None] = list(r.seeds) if seeds and r.seeds else [None]
        for each in per_seed:
            extra = [each["seed"], each["val"], each["test"]] if each else []
            writer.writerow(["" if v is None else clean(v) for v in [*line, *extra]])
    return out.getvalue()


def to_json(rows: list[Row], seeds: bool = True) -> str:
    """Every row as an object; ``seeds``: with each seed's values."""
    drop = () if seeds else ("seeds",)
    return (
        json.dumps(
            [{k: v for k, v in clean(asdict(r)).items() if k not in drop} for r in rows],
            indent=2,
            allow_nan=False,
        )
        + "\n"
    )


def wide_console(file: Any = None) -> Any:
    """A rich console at least 200 columns wide when not a terminal: tables in logs and files
    keep one line per configuration."""
    from rich.console import Console

    console = Console(file=file)
    return console if console.is_terminal else Console(file=file, width=max(200, console.width))


def to_table(rows: list[Row], title: str) -> Any:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    common, varying = split_common(rows)
    # Overrides are shown as typed: logger=[csv,wandb] is not rich markup.
    caption = f"all configurations share: {escape(' '.join(common))}" if common else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    header = columns(rows)
    widest = max((len(config) for config in varying), default=6)
    for column in header:
        if column == "config":  # folded only past 40 characters: overrides stay readable
            table.add_column(column, overflow="fold", min_width=min(30, widest))
        else:
            table.add_column(column, justify="right", no_wrap=True)  # never a number cut in two
    for row, config in zip(rows, varying, strict=True):
        style = "red" if row.n == 0 and row.failed else ("yellow" if row.failed or row.unfinished else None)
        table.add_row(Text(config), *_cells(row, header)[1:], style=style)
    return table


def title(jobs: list[Job], rows: list[Row]) -> str:
    """ "4 jobs, 1 configuration, 1 failed"."""
    failed = sum(r.failed for r in rows)
    unfinished = sum(r.unfinished for r in rows)
    pruned = sum(r.pruned for r in rows)
    text = f"{plural(len(jobs), 'job')}, {plural(len(rows), 'configuration')}"
    counts = {"pruned": pruned, "failed": failed, "unfinished": unfinished}
    return text + "".join(f", {n} {what}" for what, n in counts.items() if n)


FORMATS = {"markdown": to_markdown, "csv": to_csv, "json": to_json}
