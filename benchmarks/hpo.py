"""``make bench-hpo``: what pruning and parallel workers buy a hyperparameter search.

1. pruning: the same seeded 32-trial TPE search for GAT on Cora (``hparams_search=cora_optuna
   model=gat``), once with the preset's median pruner and once without: wall time, trials
   pruned, best validation accuracy.
2. workers: a seeded random search (every trial run to its last epoch) with one worker and
   with two (``hydra.sweeper.n_workers=2``: a second process of the same command on the
   same study): trials per minute.

Targets: the pruned search takes at most half the unpruned one's time, with the same best
validation accuracy; two workers are not slower than one over the whole command (their
start-up included). Timings mean little on a loaded machine: note ``uptime`` beside them.

Usage: python benchmarks/hpo.py [--trials 32] [--worker-trials 12] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=max(120, Console().width))


def search(sweep: Path, *overrides: str, model: str = "gat") -> dict[str, Any]:
    """Run ``gnnexp train -m hparams_search=cora_optuna model=MODEL OVERRIDES``; what study.json says."""
    gnnexp = str(Path(sys.executable).with_name("gnnexp"))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    command = [gnnexp, "train", "-m", "hparams_search=cora_optuna", f"model={model}", "trainer.curves=false",
               *overrides, f"hydra.sweep.dir={sweep}"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    record = json.loads((sweep / "study.json").read_text())
    values = [t["values"][0] for t in record["trials"] if t["state"] == "complete"]
    return {"wall_s": wall, "trials_s": _trials_span(sweep), "counts": record["counts"], "best": max(values),
            "trials": len(record["trials"])}  # fmt: skip


def _trials_span(sweep: Path) -> float:
    """Seconds from the first trial's start to the last one's end, as the study recorded them:
    the command's wall time less its start-up and the end of the search (best trial's test,
    figures), which do not grow with the number of trials."""
    import optuna

    from gnnexp.search.studies import open_storage

    storage = open_storage(str(sweep / "optuna.journal"))
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    first = min(t.datetime_start for t in trials if t.datetime_start is not None)
    last = max(t.datetime_complete for t in trials if t.datetime_complete is not None)
    return (last - first).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--worker-trials", type=int, default=12)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--sections", default="pruning,workers", help="comma-separated: pruning, workers")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "load": " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
    }
    checks: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "pruning" in sections:
            n = f"hydra.sweeper.n_trials={args.trials}"
            console.rule(f"pruning: {args.trials}-trial TPE search, GAT on Cora")
            results["unpruned"] = search(root / "unpruned", n, "hydra/sweeper/pruner=none")
            results["pruned"] = search(root / "pruned", n)
        if "workers" in sections:
            console.rule(f"workers: {args.worker_trials}-trial random searches, every trial to its end")
            same = [f"hydra.sweeper.n_trials={args.worker_trials}", "hydra/sweeper/pruner=none",
                    "hydra.sweeper.sampler._target_=optuna.samplers.RandomSampler",
                    "trainer.max_epochs=100", "trainer.patience=null"]  # fmt: skip
            for model in ("gat", "gcn"):
                results[f"{model}, one worker"] = search(root / f"{model}1", *same, model=model)
                results[f"{model}, two workers"] = search(
                    root / f"{model}2", *same, "hydra.sweeper.n_workers=2", model=model
                )

    table = Table(
        title=f"hyperparameter search on Cora ({results['machine']}, load {results['load']} at start, "
        f"{results['date']})"
    )
    for column in ("search", "wall time", "trials", "pruned", "trials/min", "time in trials", "trials/min in trials",
                   "best val accuracy"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, r in results.items():
        if isinstance(r, dict):
            table.add_row(name, f"{r['wall_s']:.1f} s", str(r["trials"]), str(r["counts"]["pruned"]),
                          f"{60 * r['trials'] / r['wall_s']:.1f}", f"{r['trials_s']:.1f} s",
                          f"{60 * r['trials'] / r['trials_s']:.1f}", f"{r['best']:.4f}")  # fmt: skip
    console.print(table)
    if "pruning" in sections:
        time_ratio = results["pruned"]["wall_s"] / results["unpruned"]["wall_s"]
        gap = results["unpruned"]["best"] - results["pruned"]["best"]
        checks += [
            (f"the pruned search takes at most half the time ({time_ratio:.2f}x)", time_ratio <= 0.5),
            (f"its best validation accuracy the same ({100 * gap:+.1f} points behind)", gap <= 0),
        ]
    if "workers" in sections:
        for model in ("gat", "gcn"):
            one, two = results[f"{model}, one worker"], results[f"{model}, two workers"]
            speed, overall = one["trials_s"] / two["trials_s"], one["wall_s"] / two["wall_s"]
            checks.append(
                (
                    f"{model}: two workers are not slower than one ({overall:.2f}x the trials per minute "
                    f"over the whole command; {speed:.2f}x while trials run)",
                    overall >= 1.0,
                )
            )
    for text, ok in checks:
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {text}")
    if args.json:
        args.json.write_text(json.dumps({**results, "checks": checks}, indent=2))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
