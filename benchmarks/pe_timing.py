"""GPS against GIN per epoch on the same MUTAG folds.

    python benchmarks/pe_timing.py [--folds 3] [--epochs 5]

Each model trains ``--epochs`` timed epochs (after one warm-up) on each of the first
``--folds`` folds of the 10-fold split; the models take turns epoch by epoch, so a busy
machine slows them alike. An epoch is the training pass plus the validation pass. What a
cached transform costs is ``benchmarks/transform_cache.py``'s to measure.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

from gnnexp.config.compose import compose
from gnnexp.running.experiment import build_experiment, checked

MODELS = {
    "gin": ["model=gin"],
    "gin + rwpe": ["model=gin", "transform=[random_walk_pe]"],
    "gine": ["model=gine"],
    "gps (local gine)": ["model=gps", "model.local=gine"],
    "gps (local gine) + rwpe": ["model=gps", "model.local=gine", "transform=[random_walk_pe]"],
}


def epoch(exp: Any) -> float:
    started = time.perf_counter()
    opt = exp.optimizer
    exp.model.train()
    for batch in exp.task.train_batches():
        opt.zero_grad()
        exp.task.training_loss(exp.model, batch).backward()
        opt.step()
    exp.model.eval()
    with torch.no_grad():
        exp.task.evaluate(exp.model, ("val",))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in MODELS}
    for fold in range(args.folds):
        exps = {}
        for name, overrides in MODELS.items():
            exp = build_experiment(
                checked(compose(["dataset=mutag", "trainer.folds=10", *overrides])), fold=fold, seed=0
            )
            exp.optimizer = torch.optim.Adam(exp.model.parameters(), lr=0.001)  # type: ignore[attr-defined]
            epoch(exp)  # warm-up
            exps[name] = exp
        for _ in range(args.epochs):
            for name, exp in exps.items():
                times[name].append(epoch(exp))
    base = statistics.median(times["gin"])
    print("| model | epoch (median ms) | x GIN |")
    print("|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {1000 * median:.0f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
