"""``gnnexp predict``: a trained model's predictions on a dataset, as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from gnnexp.commands.args import Parser
from gnnexp.commands.evaluate import TRUST_HELP
from gnnexp.errors import reporting

USAGE = "gnnexp predict RUN_DIR_OR_CHECKPOINT [key=value | group=option ...] [--out preds.csv]"


def main(args: list[str]) -> int:
    parser = Parser(
        prog="gnnexp predict",
        usage=USAGE,
        description="Apply a trained model to its own dataset or to another (e.g. your files: dataset=files "
        "dataset.edges=... dataset.features=... dataset.labels=null) and write one row per node, "
        "graph or edge with the class probabilities.",
    )
    parser.add_argument(
        "path", type=Path, help="a run directory (uses checkpoints/best.pt), a checkpoint, or latest"
    )
    parser.add_argument("overrides", nargs="*", help="dataset (or other) overrides")
    parser.add_argument(
        "--out", type=Path, help="where to write the CSV (default: <run dir>/predictions.csv)"
    )
    parser.add_argument("--trust-config", action="store_true", help=TRUST_HELP)
    options = parser.parse_intermixed_args(args)
    return reporting(lambda: _predict(options))


def _predict(options: argparse.Namespace) -> int:
    from gnnexp.commands.evaluate import resolve_checkpoint, run_dir_of
    from gnnexp.data.loading import load_dataset
    from gnnexp.errors import say
    from gnnexp.paths import resolve_data_dir, resolve_path
    from gnnexp.running.experiment import stored_config
    from gnnexp.running.predict import predict, unreadable_molecules_kept, write_csv
    from gnnexp.training.checkpoint import load_checkpoint

    checkpoint = resolve_checkpoint(resolve_path(options.path, "runs"))
    state = load_checkpoint(checkpoint)
    cfg = stored_config(state, options.overrides, checkpoint, options.trust_config)
    # Only the data: a new, unlabelled graph has no splits for a task to train on.
    data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir), cfg.get("transform"))
    header, rows = predict(cfg, data, state["model"], state.get("shape"), checkpoint)
    rows, unreadable = unreadable_molecules_kept(cfg, header, rows)
    out = options.out or run_dir_of(checkpoint) / "predictions.csv"
    write_csv(out, header, rows)
    if unreadable:
        shown = ", ".join(f"row {line} {smiles!r}" for line, smiles in unreadable[:10])
        more = f" and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        say(
            f"gnnexp: warning: RDKit cannot read the SMILES of {len(unreadable)} rows of "
            f"{cfg.dataset.path} ({shown}{more}): their rows in {out} have empty predictions.\n"
        )
    print(f"{len(rows) - len(unreadable)} predictions ({header[0]} level) written to {out}")
    return 0
