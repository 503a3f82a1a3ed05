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


# Settings that decide which nodes, edges or graphs fall in each split: a checkpoint's "test"
# metrics mean the run's own test split only while these keep the values it was trained with.
SPLIT_KEYS = ("split", "split_seed", "train_ratio", "val_ratio", "test_ratio", "data_seed")
SPLIT_SETTINGS = ("trainer.folds", "trainer.fold_selection")


def check_same_split(stored: dict[str, Any], cfg: Any, source: Path) -> None:
    """Refuse overrides that would score another split than the run's (its "test" is not ours)."""
    from omegaconf import OmegaConf

    trained = OmegaConf.create(stored)
    keys = [f"{group}.{key}" for group in ("dataset", "task") for key in SPLIT_KEYS] + list(SPLIT_SETTINGS)
    for key in keys:
        before = OmegaConf.select(trained, key, default=None, throw_on_missing=False)
        after = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        if before != after:
            raise GnnexpError(
                f"{key}={after} makes another split than {source} was trained on ({key}={before}): "
                "its val/test metrics would not be the run's.",
                f"drop the {key} override (to score another split, train a run with it).",
            )


def evaluate_checkpoint(
    path: Path, overrides: list[str], splits: tuple[str, ...], trusted: bool = False
) -> dict[str, Any]:
    """Rebuild the run's model from its checkpoint and evaluate ``splits``."""
    from gnnexp.running.experiment import build_experiment, stored_config
    from gnnexp.training.checkpoint import fold_index, load_checkpoint, load_weights
    from gnnexp.training.loop import evaluate

    state = load_checkpoint(path)
    cfg = stored_config(state, overrides, path, trusted)
    check_same_split(state["config"], cfg, path)
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
    from rich.table import Table

    from gnnexp.reporting.console import PipeSafeConsole as Console
    from gnnexp.util.atomic import write_json

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
    # The title on its own line: as a table title it wraps to the table's few columns.
    title = f"epoch {result['epoch']} of {checkpoint}"
    table = Table()
    names = list(next(iter(result["metrics"].values())))
    table.add_column("split")
    for name in names:
        table.add_column(name, justify="right")
    for split, values in result["metrics"].items():
        table.add_row(split, *(f"{values[n]:.4f}" for n in names))
    console = Console()
    console.print(title, soft_wrap=True, highlight=False, style="italic")
    console.print(table)
    console.print(f"metrics written to {out}", markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
