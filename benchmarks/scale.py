"""Scale check: one epoch of neighbour-sampled GraphSAGE on a generated 1M-node graph.

Runs ``gnnexp train`` as a user would and reports wall time and the peak memory of the
process. Extra arguments are passed on as overrides (e.g. ``loader.batch_size=1024``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = [
    "train",
    "dataset=synthetic",
    "dataset.num_nodes=1000000",
    "dataset.avg_degree=10",
    "loader=neighbor",
    "model=sage",
    "trainer.max_epochs=1",
    "trainer.checkpoint.save_best=false",
]


def main() -> int:
    gnnexp = Path(sys.executable).with_name("gnnexp")
    with tempfile.TemporaryDirectory() as out:
        args = [str(gnnexp), *COMMAND, *sys.argv[1:], f"hydra.run.dir={out}"]
        print("$", " ".join(args[:-1]), flush=True)
        started = time.perf_counter()
        done = subprocess.run(args, check=False)
        wall = time.perf_counter() - started
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        if done.returncode != 0:
            print(f"scale check FAILED with exit status {done.returncode}")
            return done.returncode
        results = json.loads((Path(out) / "results.json").read_text())
    print(
        f"scale check: 1,000,000 nodes, {results['epochs_run']} epoch in {wall:.0f} s "
        f"(training {results['train_time_s']:.0f} s), peak memory {peak_gib:.1f} GiB, "
        f"test accuracy {results['test']['accuracy']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
