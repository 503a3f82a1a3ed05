"""What ``logger=wandb`` (offline) costs a 200-epoch GCN run on Cora, measured two ways.

1. interleaved whole runs, ``logger=[csv]`` then ``logger=[csv,wandb]``, each a fresh
   ``gnnexp train`` process on one thread: median wall time and training-loop time
   (results.json's ``wall_time_s`` and ``train_time_s``);
2. one run with each step of the tracker timed in-process: importing wandb, ``wandb.init``
   (which starts wandb's service process), the per-epoch ``run.log`` calls, the summary and
   image, and ``finish``.

Usage: python benchmarks/wandb_overhead.py [--reps N] [--epochs N]   (needs the [wandb] extra)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

COMMON = ["trainer.patience=1000", "trainer.num_threads=1"]


def whole_run(out: Path, epochs: int, wandb: bool) -> dict[str, float]:
    trackers = ["logger=[csv,wandb]", "logger.wandb.mode=offline"] if wandb else ["logger=[csv]"]
    command = [sys.executable, "-m", "gnnexp", "train", f"trainer.max_epochs={epochs}", *COMMON, *trackers]
    subprocess.run([*command, f"hydra.run.dir={out}"], check=True, capture_output=True)
    results = json.loads((out / "results.json").read_text())
    return {"wall_s": results["wall_time_s"], "train_loop_s": results["train_time_s"]}


def decompose(out: str, epochs: int) -> dict[str, float]:
    """In this process: each tracker step's time, summed over the run."""
    times: dict[str, float] = defaultdict(float)
    started = time.perf_counter()
    import wandb  # noqa: F401

    times["import wandb"] = time.perf_counter() - started
    from gnnexp.cli import main
    from gnnexp.loggers import wandb_tracker

    def timed(name: str, method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                # wandb's first run.log imports its telemetry: a fixed cost, kept apart.
                first = name.startswith("run.log") and "first run.log" not in times
                times["first run.log" if first else name] += time.perf_counter() - start

        return wrapper

    cls = wandb_tracker.WandbLogger
    for name, attr in [
        ("login check", "__init__"),
        ("wandb.init", "log_hparams"),
        ("run.log, epochs 2.. (sum)", "log_epoch"),
        ("summary and image", "log_results"),
        ("finish", "close"),
    ]:
        setattr(cls, attr, timed(name, getattr(cls, attr)))
    argv = [
        "train",
        f"trainer.max_epochs={epochs}",
        *COMMON,
        "logger=[csv,wandb]",
        "logger.wandb.mode=offline",
    ]
    if main([*argv, f"hydra.run.dir={out}"]) != 0:
        raise SystemExit("the instrumented run failed")
    return dict(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--decompose", help=argparse.SUPPRESS)  # the child process of part 2
    args = parser.parse_args()
    if args.decompose:
        print(json.dumps(decompose(args.decompose, args.epochs)))
        return
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    runs: dict[str, list[dict[str, float]]] = {"no tracker": [], "wandb offline": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for kind in runs:
                out = Path(tmp) / f"{kind.replace(' ', '_')}_{rep}"
                runs[kind].append(whole_run(out, args.epochs, kind != "no tracker"))
        child = [sys.executable, __file__, "--epochs", str(args.epochs), "--decompose", f"{tmp}/decomposed"]
        steps = json.loads(
            subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
        )
    medians = {
        kind: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for kind, rows in runs.items()
    }
    for kind, values in medians.items():
        print(
            f"{kind:14s} median of {args.reps}: wall {values['wall_s']:.2f} s, training loop {values['train_loop_s']:.2f} s"
        )
    base, tracked = medians["no tracker"], medians["wandb offline"]
    extra = tracked["wall_s"] - base["wall_s"]
    print(f"wandb adds {extra:.2f} s to the wall time ({100 * extra / base['wall_s']:.1f}%)")
    for name, seconds in steps.items():
        print(f"  {name:24s} {seconds:.3f} s")
    per_epoch = steps["run.log, epochs 2.. (sum)"] / (args.epochs - 1)
    share = 100 * per_epoch * args.epochs / base["wall_s"]
    print(f"  per epoch: {1000 * per_epoch:.2f} ms ({share:.1f}% of the untracked wall time)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
