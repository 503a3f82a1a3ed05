"""What a transform costs a new process, with the transformed graphs kept on disk or not yet.

    python benchmarks/transform_cache.py [--repeats 3] [--transform random_walk_pe]

For MUTAG and Cora, each measurement is one new process that times ``load_dataset`` alone
(after its imports): with no transform; with the transform and no file kept yet (cold: the
transforms run and the file is written); and with the transform again (warm: the file is
read). It runs in a temporary copy of the two datasets, so the data directory is not
touched; the copy's PyG processing is done once before any timing. The kinds take turns in
each repeat, so a busy machine slows them alike; the table gives medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DATASETS = {"mutag": "TUDataset/MUTAG", "cora": "Planetoid/Cora"}


def child(dataset: str, data_dir: Path, transform: str) -> None:
    """One load in this new process; prints its milliseconds."""
    import time

    # Imported before the clock starts: imports are not the loading measured.
    import torch_geometric.datasets
    import torch_geometric.transforms  # noqa: F401

    from gnnexp.config.compose import compose
    from gnnexp.data.loading import load_dataset

    cfg = compose([f"dataset={dataset}", *([f"transform=[{transform}]"] if transform else [])])
    started = time.perf_counter()
    data = load_dataset(cfg.dataset, data_dir, cfg.get("transform") if transform else None)
    elapsed = time.perf_counter() - started
    print(f"{1000 * elapsed:.3f} {data.num_features}")


def run(dataset: str, data_dir: Path, transform: str) -> tuple[float, int]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--child", dataset, str(data_dir), transform],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.split()
    return float(out[-2]), int(out[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--transform", default="random_walk_pe")
    parser.add_argument("--data", type=Path, default=None, help="data dir (default: gnnexp's)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        dataset, data_dir, transform = args.child
        child(dataset, Path(data_dir), transform)
        return
    if args.data is None:
        from gnnexp.config.compose import compose
        from gnnexp.paths import resolve_data_dir

        args.data = resolve_data_dir(compose([]).data_dir)
    from gnnexp.data.transform_cache import FOLDER

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "data"
        for folder in DATASETS.values():
            shutil.copytree(args.data / folder / "raw", copy / folder / "raw")
        times: dict[tuple[str, str], list[float]] = {}
        widths: dict[tuple[str, str], int] = {}
        for dataset in DATASETS:
            run(dataset, copy, "")  # PyG processes the copy's raw files: not timed
        for _ in range(args.repeats):
            for dataset in DATASETS:
                for kind in ("no transform", "cold", "warm"):
                    if kind == "cold":
                        shutil.rmtree(copy / FOLDER, ignore_errors=True)
                    ms, width = run(dataset, copy, "" if kind == "no transform" else args.transform)
                    times.setdefault((dataset, kind), []).append(ms)
                    widths[dataset, kind] = width
        for dataset in DATASETS:  # the warm runs read what the cold ones wrote
            assert widths[dataset, "cold"] == widths[dataset, "warm"] > widths[dataset, "no transform"]
    load = os.getloadavg()
    print(f"transform={args.transform}; median of {args.repeats} new processes each; ", end="")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores\n")
    print(
        "| dataset | no transform (ms) | cold: transformed, written (ms) | warm: read (ms) | warm / no transform |"
    )
    print("|---|---|---|---|---|")
    for dataset in DATASETS:
        plain, cold, warm = (statistics.median(times[dataset, k]) for k in ("no transform", "cold", "warm"))
        print(f"| {dataset} | {plain:.0f} | {cold:.0f} | {warm:.0f} | {warm / plain:.2f} |")


if __name__ == "__main__":
    main()
