"""``gnnexp predict``: a trained model's predictions on a dataset, as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gnnexp.commands.args import Parser
from gnnexp.commands.evaluate import TRUST_HELP
from gnnexp.errors import GnnexpError, reporting

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
    parser.add_argument(
        "--query", help="a knowledge-graph run: 'head,relation,?' or '?,relation,tail' (the best answers)"
    )
    parser.add_argument("--top-k", type=int, default=10, help="answers of --query to show (default: 10)")
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
    if (cfg.task.kind == "kg") != (options.query is not None):
        raise GnnexpError(
            f"--query asks a knowledge-graph run (task=kg) for answers; this run is task={cfg.task.kind}."
            if options.query is not None
            else f"{checkpoint} is a knowledge-graph run: it answers queries.",
            "drop --query."
            if options.query is not None
            else "add --query 'head,relation,?' (or '?,relation,tail').",
        )
    if options.query is not None:
        return _answer(options, cfg, data, state, checkpoint)
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


def _answer(options: argparse.Namespace, cfg: Any, data: Any, state: dict[str, Any], checkpoint: Path) -> int:
    """``--query``: the best answers as a table, and as CSV in ``--out``."""
    from rich.table import Table

    from gnnexp.commands.evaluate import run_dir_of
    from gnnexp.reporting.console import PipeSafeConsole as Console
    from gnnexp.running.predict import answer_query, write_csv

    if options.top_k < 1:
        raise GnnexpError(f"--top-k {options.top_k} asks for no answer.", "use --top-k 1 or more.")
    header, rows = answer_query(cfg, data, state["model"], checkpoint, options.query, options.top_k)
    out = options.out or run_dir_of(checkpoint) / "answers.csv"
    write_csv(out, header, rows)
    table = Table(title=f"{options.query} ({cfg.model.name} on {cfg.dataset.name})")
    for name in header:
        table.add_column(name, justify="right" if name in ("rank", "score") else "left")
    for rank, entity, score, known in rows:
        table.add_row(str(rank), entity, f"{score:.4f}", f"known ({known})" if known else "")
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} answers written to {out}", markup=False)
    return 0
