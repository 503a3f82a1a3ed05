"""``gnnexp eval``: evaluate a checkpoint with the config it was trained with."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from gnnexp.commands.args import Parser
from gnnexp.errors import CheckpointError, GnnexpError, reporting
from gnnexp.paths import fold_dirs, resolve_path

TRUST_HELP = "import the classes and modules the stored config names (only for files you trust)"
USAGE = "gnnexp eval RUN_DIR_OR_CHECKPOINT [key=value | group=option ...] [--split val,test] [--out FILE] [--trust-config]"


def resolve_checkpoint(path: Path, name: str = "best.pt") -> Path:
    """A checkpoint file: ``path`` itself, or ``<run dir>/checkpoints/<name>``."""
    if path.is_file():
        return path
    candidate = path / "checkpoints" / name
    if candidate.is_file():
        return candidate
    folds = fold_dirs(path)
    hint = f"give one fold, e.g. {folds[0]}" if folds else "give a run directory written by gnnexp train"
    raise CheckpointError(f"No checkpoint at {path} (looked for {candidate}).", hint + ".")


def parse(args: list[str]) -> argparse.Namespace:
    parser = Parser(prog="gnnexp eval", usage=USAGE, description=__doc__)
    parser.add_argument(
        "path", type=Path, help="a run directory (uses checkpoints/best.pt) or a checkpoint file"
    )
    parser.add_argument("overrides", nargs="*", help="changes to the checkpoint's config, e.g. device=cpu")
    parser.add_argument("--split", default="val,test", help="comma-separated splits (default: val,test)")
    parser.add_argument("--out", type=Path, help="where to write the metrics (default: <run dir>/eval.json)")
    parser.add_argument("--trust-config", action="store_true", help=TRUST_HELP)
    return parser.parse_intermixed_args(args)


def evaluate_checkpoint(
    path: Path, overrides: list[str], splits: tuple[str, ...], trusted: bool = False
) -> dict[str, Any]:
    """Rebuild the run's model from its checkpoint and evaluate ``splits``."""
    from gnnexp.checkpoint import fold_index, load_checkpoint, load_weights
    from gnnexp.experiment import build_experiment, stored_config
    from gnnexp.training.loop import evaluate

    state = load_checkpoint(path)
    cfg = stored_config(state, overrides, path, trusted)
    experiment = build_experiment(cfg, fold=fold_index(state))
    load_weights(experiment.model, state["model"], path)
    metrics = evaluate(experiment.model, experiment.task, splits)
    return {"checkpoint": str(path), "epoch": state["epoch"], "overrides": overrides, "metrics": metrics}


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory a checkpoint belongs to."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def main(args: list[str]) -> int:
    """Entry point of ``gnnexp eval``; returns the exit status."""
    options = parse(args)
    return reporting(lambda: _evaluate(options))


def _evaluate(options: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from gnnexp.atomic import write_json

    splits = tuple(s.strip() for s in options.split.split(",") if s.strip())
    bad = [s for s in splits if s not in ("train", "val", "test")]
    if not splits:
        raise GnnexpError(
            f"--split {options.split!r} names no split.", "use train, val and/or test, e.g. --split val,test."
        )
    if bad:
        raise GnnexpError(f"--split {','.join(bad)} is not a split.", "use train, val and/or test.")
    checkpoint = resolve_checkpoint(resolve_path(options.path, "runs"))
    started = time.perf_counter()
    result = evaluate_checkpoint(checkpoint, options.overrides, splits, options.trust_config)
    result["wall_time_s"] = time.perf_counter() - started
    out = options.out or run_dir_of(checkpoint) / "eval.json"
    write_json(out, result)
    table = Table(title=f"epoch {result['epoch']} of {checkpoint}", title_justify="left")
    names = list(next(iter(result["metrics"].values())))
    table.add_column("split")
    for name in names:
        table.add_column(name, justify="right")
    for split, values in result["metrics"].items():
        table.add_row(split, *(f"{values[n]:.4f}" for n in names))
    console = Console()
    console.print(table)
    console.print(f"metrics written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
