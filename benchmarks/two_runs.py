"""Two ``gnnexp train`` runs started at once against one run alone.

For each model and each thread setting, one run alone, then two identical runs started
together; the table shows each run's whole-process wall time and training time, and the
ratio of the slower of the pair to the run alone (the target: at most 1.5x). Settings:

* ``trainer.num_threads``: ``1``, ``2`` or ``auto`` (what gnnexp decides at start);
* ``OMP_WAIT_POLICY`` given to both runs: ``default`` (OpenMP's own: a waiting thread spins
  a while before it sleeps; set as an empty value, which gnnexp keeps and OpenMP ignores),
  ``passive`` (what ``gnnexp`` sets when you set nothing: waiting threads sleep) or
  ``active`` (they spin).

Usage: python benchmarks/two_runs.py [--models gcn,gat] [--dataset cora] [--epochs 200]
                                     [--threads 1,2] [--policies default,passive] [--repeat 1]

Machines with other work on them give noise: note ``uptime``'s load beside the numbers
(it is printed first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _data_dir(tmp: Path) -> Path:
    """A writable copy of the offline datasets (PyG writes processed/ beside raw/), if any."""
    for candidate in (os.environ.get("GNNEXP_TEST_DATA"), str(REPO.parent / "shared" / "data")):
        if candidate and (Path(candidate) / "Planetoid").is_dir():
            target = tmp / "data"
            shutil.copytree(Path(candidate) / "Planetoid", target / "Planetoid")
            for path in [target, *target.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
            return target
    return Path(os.environ.get("GNNEXP_DATA_DIR", "data"))


def _start(args: list[str], out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gnnexp", "train", *args, f"hydra.run.dir={out}"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _runs(args: list[str], env: dict[str, str], root: Path, n: int) -> list[tuple[float, float, int]]:
    """``n`` runs started at once: (process wall s, train_time_s, threads) of each."""
    outs = [root / f"run{i}" for i in range(n)]
    started = time.perf_counter()
    processes = [_start(args, out, env) for out in outs]
    walls = []
    for process in processes:
        _, err = process.communicate()
        walls.append(time.perf_counter() - started)
        if process.returncode != 0:
            raise SystemExit(f"gnnexp train {' '.join(args)} failed:\n{err.decode()[-2000:]}")
    found = []
    for wall, out in zip(walls, outs, strict=True):
        results = json.loads((out / "results.json").read_text())
        found.append((wall, float(results["train_time_s"]), int(results["threads"]["count"])))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="gcn,gat")
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", default="1,2", help="trainer.num_threads values (1, 2, auto)")
    parser.add_argument("--policies", default="default,passive", help="OMP_WAIT_POLICY values")
    parser.add_argument("--repeat", type=int, default=1, help="alone/pair measurements per setting (medians)")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    opts = parser.parse_args()

    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(
        f"cores usable: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base_env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
        base_env["GNNEXP_DATA_DIR"] = str(_data_dir(tmp))
        base_env["PYTHONPATH"] = str(REPO) + os.pathsep + base_env.get("PYTHONPATH", "")
        common = [
            f"dataset={opts.dataset}",
            f"trainer.max_epochs={opts.epochs}",
            "trainer.patience=null",
            "trainer.curves=false",
        ]
        # Warm-up: PyG processes the dataset once; the OS caches torch's files.
        _runs([*common, "trainer.max_epochs=1"], base_env, tmp / "warm", 1)
        for model in opts.models.split(","):
            for threads in opts.threads.split(","):
                for policy in opts.policies.split(","):
                    env = {**base_env, "OMP_WAIT_POLICY": "" if policy == "default" else policy}
                    args = [*common, f"model={model}", f"trainer.num_threads={threads}"]
                    alone, pair = [], []
                    for r in range(opts.repeat):
                        alone += _runs(args, env, tmp / f"{model}-{threads}-{policy}-a{r}", 1)
                        pair += _runs(args, env, tmp / f"{model}-{threads}-{policy}-p{r}", 2)
                    row = {
                        "model": model,
                        "threads": threads,
                        "decided": sorted({t for _, _, t in alone + pair}),
                        "OMP_WAIT_POLICY": policy,
                        "alone_wall_s": statistics.median(w for w, _, _ in alone),
                        "alone_train_s": statistics.median(t for _, t, _ in alone),
                        "pair_wall_s": statistics.median(w for w, _, _ in pair),
                        "pair_train_s": statistics.median(t for _, t, _ in pair),
                        "pair_worst_wall_s": max(w for w, _, _ in pair),
                    }
                    row["ratio_wall"] = row["pair_worst_wall_s"] / row["alone_wall_s"]
                    row["ratio_train"] = row["pair_train_s"] / row["alone_train_s"]
                    rows.append(row)
                    print(
                        f"{model:5} threads={threads:4} (decided {row['decided']}) "
                        f"OMP_WAIT_POLICY={policy:8} alone {row['alone_wall_s']:6.2f} s "
                        f"(train {row['alone_train_s']:5.2f})  pair {row['pair_worst_wall_s']:6.2f} s "
                        f"(train {row['pair_train_s']:5.2f})  ratio wall {row['ratio_wall']:.2f}x, "
                        f"train {row['ratio_train']:.2f}x",
                        flush=True,
                    )
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
