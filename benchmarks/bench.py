"""``make bench``: gnnexp against the plain PyG training loop, measured in one run.

Sections (each printed as a table, then all targets as PASS/FAIL lines):

1. loop: the plain loop of PyG's examples (dense features, ``F.dropout``, edge lists; see
   ``plain.py``) and gnnexp's loop on the same architectures and data, every built-in model
   on Cora and CiteSeer, interleaved A B A B over the same seeds: ms per epoch (train step
   + validation), their ratio, and test accuracy at the best validation-loss epoch for both
   (the same protocol: 200 epochs, patience 100).
2. graphs: GIN on MUTAG (the gin preset): the loop of PyG's GIN example against gnnexp's.
3. sampling: neighbour-sampled training throughput (seed nodes per second) of GraphSAGE on
   the generated 1M-node, 10M-edge graph: the plain model against gnnexp's sampled layout.
4. startup: whole-process times of gnnexp commands against ``python -c "import
   torch_geometric"`` (medians of interleaved runs).
5. options: ``trainer.compile`` and ``trainer.precision=bf16`` against the default, for
   an honest account of what they do on this machine.
6. parallel: a 4-job sweep (GCN on Cora, 200 epochs, seeds 0-3) with the basic launcher,
   ``submitit_local`` and joblib ``n_jobs=2``, and two single runs started at once against
   one alone: whole-command wall time and each job's training time (``trainer.num_threads=auto``).

Usage: python benchmarks/bench.py [--seeds N] [--quick] [--json FILE] [--device cpu|cuda]
                                  [--sections loop,graphs,sampling,startup,options,parallel]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import plain
import torch
import torch.nn.functional as F
from plain import PROTOCOLS
from rich.console import Console
from rich.table import Table

from gnnexp.config.compose import compose
from gnnexp.data import load_dataset
from gnnexp.errors import quiet_known_warnings
from gnnexp.paths import resolve_data_dir
from gnnexp.running.experiment import build_experiment, checked
from gnnexp.running.fit import fit_and_test
from gnnexp.util.device import resolve_device

MODELS = tuple(PROTOCOLS)
SPEEDUP = 8.0  # required speed-up of gnnexp's loop, every model on Cora and CiteSeer
console = Console(width=max(120, Console().width))  # tables stay whole in a log file


def gnnexp_run(
    dataset: str, model_name: str, seed: int, device: str, extra: tuple[str, ...] = ()
) -> tuple[float, float]:
    """gnnexp's loop (files and all) with the plain loop's architecture; returns (mean ms per
    epoch, test accuracy)."""
    same = PROTOCOLS[model_name][3] if model_name in PROTOCOLS else ()
    cfg = compose(
        [f"model={model_name}", f"dataset={dataset}", f"seed={seed}", f"device={device}", *same, *extra]
    )
    experiment = build_experiment(checked(cfg), seed=cfg.seed)
    with tempfile.TemporaryDirectory() as out:
        result = fit_and_test(experiment, Path(out), Console(file=io.StringIO()), intro=False)
        with open(Path(out) / "metrics.csv") as f:
            times = [float(row["time_s"]) for row in csv.DictReader(f)]
    return 1000 * statistics.fmean(times), result.test["accuracy"]


def loop_section(seeds: int, device: str, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    rows = []
    dev = resolve_device(device)
    for dataset, model_name in pairs:
        cfg = compose([f"dataset={dataset}"])
        data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir), cfg.get("transform"))
        graph = data.graphs.to(dev)
        plain_ms, plain_acc, ours_ms, ours_acc = [], [], [], []
        gnnexp_run(dataset, model_name, 0, device)  # warm caches before timing
        for seed in range(seeds):  # interleaved: A B A B ...
            ms, acc = plain.node_run(graph, data.num_classes, model_name, seed, dev)
            plain_ms.append(ms)
            plain_acc.append(acc)
            ms, acc = gnnexp_run(dataset, model_name, seed, device)
            ours_ms.append(ms)
            ours_acc.append(acc)
            console.print(
                f"  {dataset}/{model_name} seed {seed}: plain {plain_ms[-1]:.1f} ms, gnnexp {ours_ms[-1]:.2f} ms"
            )
        rows.append(
            {
                "dataset": dataset,
                "model": model_name,
                "plain_ms": statistics.median(plain_ms),
                "gnnexp_ms": statistics.median(ours_ms),
                "speedup": statistics.median(plain_ms) / statistics.median(ours_ms),
                "plain_acc": statistics.fmean(plain_acc),
                "plain_std": statistics.stdev(plain_acc) if seeds > 1 else 0.0,
                "gnnexp_acc": statistics.fmean(ours_acc),
                "gnnexp_std": statistics.stdev(ours_acc) if seeds > 1 else 0.0,
                "seeds": seeds,
            }
        )
    return rows


# ----------------------------------------------------------------- neighbour sampling


def sampling_section(num_nodes: int, batches: int) -> dict[str, Any]:
    """Seed nodes per second of neighbour-sampled GraphSAGE training: the plain model on each
    batch (today's path before the reordering) against gnnexp's sampled layout (reordered
    projections, layers trimmed to the nodes later layers need), interleaved."""
    from gnnexp.data.neighbor_sampler import neighbor_loader, pyg_sampling_available
    from gnnexp.data.splits import random_node_masks
    from gnnexp.data.synthetic import planted_partition
    from gnnexp.models import MODELS as ARCHS
    from gnnexp.models.fast import fast_forward

    torch.manual_seed(0)
    graph = planted_partition(num_nodes, 4, 32, 10.0, 0.8, 0.2, seed=0)
    graph.train_mask, _, _ = random_node_masks(num_nodes, 0.6, 0.2, seed=0)
    out: dict[str, Any] = {"nodes": num_nodes, "edges": int(graph.num_edges)}
    spec = ARCHS["sage"](hidden_channels=64, num_layers=2)
    forwards = {
        name: fast_forward(spec, graph, sampled=True, enabled=name == "gnnexp")
        for name in ("plain", "gnnexp")
    }
    backends = ["torch"] + (["pyg"] if pyg_sampling_available() else [])
    for backend in backends:
        rates: dict[str, list[float]] = {name: [] for name in forwards}
        shares: dict[str, list[float]] = {name: [] for name in forwards}
        for _ in range(2):  # interleaved: A B A B
            for name, forward in forwards.items():
                loader = neighbor_loader(graph, graph.train_mask, [15, 10], 512, True, backend=backend)
                torch.manual_seed(0)
                model = spec.build(32, 4, forward.layout)
                optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
                seeds, started, sample_time = 0, 0.0, 0.0
                iterator = iter(loader)
                for step in range(batches + 5):
                    t = time.perf_counter()
                    batch = next(iterator)
                    if step == 5:  # the first batches warm up allocations
                        started, sample_time, seeds = time.perf_counter(), 0.0, 0
                    sample_time += time.perf_counter() - t
                    optimizer.zero_grad()
                    logits = model(batch.x, batch.edge_index, **forward.batch_args(batch))[: batch.batch_size]
                    F.cross_entropy(logits, batch.y[: batch.batch_size]).backward()
                    optimizer.step()
                    seeds += batch.batch_size
                elapsed = time.perf_counter() - started
                rates[name].append(seeds / elapsed)
                shares[name].append(sample_time / elapsed)
        out[backend] = {
            name: {
                "seeds_per_s": statistics.median(rates[name]),
                "sampling_share": statistics.median(shares[name]),
            }
            for name in forwards
        }
    return out


# ----------------------------------------------------------------- graph classification


def graph_section(seeds: int) -> dict[str, Any]:
    """GIN on MUTAG (the gin preset, one stratified split): the loop of PyG's GIN example
    on the same model built from PyG's modules as they come, against gnnexp's loop."""
    cfg = compose(["dataset=mutag", "model=gin"])
    lr, decay = float(cfg.optimizer.lr), float(cfg.optimizer.weight_decay)
    plain_ms, plain_acc, ours_ms, ours_acc = [], [], [], []
    gnnexp_run("mutag", "gin", 0, "cpu")  # warm caches before timing
    for seed in range(seeds):
        torch.manual_seed(seed)
        reference = build_experiment(
            checked(compose(["dataset=mutag", "model=gin", "trainer.fast_paths=false"])), seed=seed
        )
        ms, acc = plain.graph_run(reference.model, reference.task.loaders, lr, decay, plain.EPOCHS)  # type: ignore[attr-defined]
        plain_ms.append(ms)
        plain_acc.append(acc)
        ms, acc = gnnexp_run("mutag", "gin", seed, "cpu")
        ours_ms.append(ms)
        ours_acc.append(acc)
        console.print(f"  mutag/gin seed {seed}: plain {plain_ms[-1]:.1f} ms, gnnexp {ours_ms[-1]:.2f} ms")
    return {
        "plain_ms": statistics.median(plain_ms),
        "gnnexp_ms": statistics.median(ours_ms),
        "speedup": statistics.median(plain_ms) / statistics.median(ours_ms),
        "plain_acc": statistics.fmean(plain_acc),
        "gnnexp_acc": statistics.fmean(ours_acc),
        "seeds": seeds,
    }


# ----------------------------------------------------------------- process start-up


def _time(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def startup_section(repeats: int) -> dict[str, Any]:
    gnnexp = str(Path(sys.executable).with_name("gnnexp"))
    env = {**os.environ}
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "import torch_geometric": [sys.executable, "-c", "import torch_geometric"],
            "gnnexp --help": [gnnexp, "--help"],
            "gnnexp list": [gnnexp, "list"],
            "gnnexp train trainer.max_epochs=1": [
                gnnexp,
                "train",
                "trainer.max_epochs=1",
                f"hydra.run.dir={out}/one",
                "overwrite=true",  # the same directory on every repeat, on purpose
            ],
            "gnnexp train (200 epochs)": [gnnexp, "train", f"hydra.run.dir={out}/full", "overwrite=true"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeats):  # interleaved
            for name, cmd in commands.items():
                times[name].append(_time(cmd, env))
        full = json.loads((Path(out) / "full" / "results.json").read_text())
    result: dict[str, Any] = {name: statistics.median(values) for name, values in times.items()}
    result["train_and_eval_s"] = full["train_time_s"]
    result["test_accuracy"] = full["test"]["accuracy"]
    return result


# ----------------------------------------------------------------- options


def options_section(device: str) -> list[dict[str, Any]]:
    rows = []
    for model_name in ("gcn", "gat"):
        for label, extra in (
            ("default", ()),
            ("trainer.compile=true", ("trainer.compile=true",)),
            ("trainer.precision=bf16", ("trainer.precision=bf16",)),
        ):
            gnnexp_run("cora", model_name, 0, device, extra)  # warm-up (and compilation)
            ms, acc = gnnexp_run("cora", model_name, 0, device, extra)
            rows.append({"model": model_name, "option": label, "ms": ms, "acc": acc})
    return rows


# ----------------------------------------------------------------- parallel jobs


def _train_times(root: Path) -> list[float]:
    return [json.loads(p.read_text())["train_time_s"] for p in sorted(root.rglob("results.json"))]


def parallel_section() -> dict[str, Any]:
    """Sweeps through three launchers and two simultaneous runs, all with the default
    ``trainer.num_threads=auto`` (each job takes its share of the cores)."""
    gnnexp = str(Path(sys.executable).with_name("gnnexp"))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    common = ["trainer.curves=false"]
    out: dict[str, Any] = {"sweeps": {}, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        launchers = {
            "basic (one after another)": [],
            "submitit_local": ["hydra/launcher=submitit_local"],
            "joblib n_jobs=2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        }
        for name, extra in launchers.items():
            sweep = Path(tmp) / name.split()[0]
            cmd = [gnnexp, "train", "-m", "seed=0,1,2,3", *extra, *common, f"hydra.sweep.dir={sweep}"]
            wall = _time(cmd, env)
            out["sweeps"][name] = {"wall_s": wall, "train_s": _train_times(sweep)}
        alone = Path(tmp) / "alone"
        wall = _time([gnnexp, "train", *common, f"hydra.run.dir={alone}"], env)
        out["runs"]["one run alone"] = {"wall_s": wall, "train_s": _train_times(alone)}
        started = time.perf_counter()
        both = [
            subprocess.Popen(
                [gnnexp, "train", *common, f"hydra.run.dir={Path(tmp) / f'both{i}'}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(2)
        ]
        for process in both:
            process.wait()
        out["runs"]["two runs at once"] = {
            "wall_s": time.perf_counter() - started,
            "train_s": [t for i in range(2) for t in _train_times(Path(tmp) / f"both{i}")],
        }
    return out


# ----------------------------------------------------------------- report


def report(results: dict[str, Any]) -> list[tuple[str, bool]]:
    checks: list[tuple[str, bool]] = []
    if "loop" in results:
        loop_report(results, checks)
    if "sampling" in results:
        sampling_report(results["sampling"], checks)
    if "graphs" in results:
        graph_report(results["graphs"])
    if "startup" in results:
        startup_report(results["startup"], checks)
    if results.get("options"):
        options_report(results["options"])
    if "parallel" in results:
        parallel_report(results["parallel"], checks)
    for text, ok in checks:
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {text}")
    return checks


def parallel_report(p: dict[str, Any], checks: list[tuple[str, bool]]) -> None:
    table = Table(title="parallel jobs: GCN on Cora, 200 epochs, trainer.num_threads=auto")
    for column in ("how", "wall time", "training time per job"):
        table.add_column(column, justify="right")
    for group in ("sweeps", "runs"):
        for name, r in p[group].items():
            label = f"4-job sweep, {name}" if group == "sweeps" else name
            times = r["train_s"]
            spread = f"{min(times):.2f} s" if len(times) == 1 else f"{min(times):.2f}-{max(times):.2f} s"
            table.add_row(label, f"{r['wall_s']:.1f} s", spread)
    console.print(table)
    basic = p["sweeps"]["basic (one after another)"]["wall_s"]
    # submitit_local starts a new Python for every job, which imports torch and PyG again
    # (~3 s of CPU each): no design meets the basic launcher's time on 2 cores, so it is
    # measured and shown, not checked (a target retired in issue 23).
    for name in ("joblib n_jobs=2",):
        wall = p["sweeps"][name]["wall_s"]
        checks.append(
            (
                f"4-job sweep with {name} takes at most the basic launcher's time ({wall:.1f} s vs {basic:.1f} s)",
                wall <= basic,
            )
        )
    alone = p["runs"]["one run alone"]["train_s"][0]
    worst = max(p["runs"]["two runs at once"]["train_s"])
    checks.append(
        (
            f"two runs at once each train in at most 1.5x the time of one alone ({worst / alone:.2f}x)",
            worst <= 1.5 * alone,
        )
    )


def loop_report(results: dict[str, Any], checks: list[tuple[str, bool]]) -> None:
    table = Table(
        title=f"training loop, ms per epoch (median of {results['seeds']} seeds) and test accuracy (mean ± std)"
    )
    for column in ("dataset", "model", "plain PyG", "gnnexp", "speed-up", "plain acc", "gnnexp acc", "Δ acc"):
        table.add_column(column, justify="right")
    for r in results["loop"]:
        delta = 100 * (r["gnnexp_acc"] - r["plain_acc"])
        table.add_row(
            r["dataset"],
            r["model"],
            f"{r['plain_ms']:.1f}",
            f"{r['gnnexp_ms']:.2f}",
            f"{r['speedup']:.1f}x",
            f"{100 * r['plain_acc']:.1f} ± {100 * r['plain_std']:.1f}",
            f"{100 * r['gnnexp_acc']:.1f} ± {100 * r['gnnexp_std']:.1f}",
            f"{delta:+.1f}",
        )
        need = SPEEDUP if r["dataset"] in ("cora", "citeseer") else None
        if need:
            checks.append(
                (
                    f"{r['dataset']}/{r['model']} epoch at most 1/{need:g} of the plain loop's ({r['speedup']:.1f}x)",
                    r["speedup"] >= need,
                )
            )
        # GIN's accuracy spreads about 10 points from seed to seed: 10 unpaired seeds cannot
        # tell 0.5 points apart, so for GIN the table reports the difference without a target.
        if r["seeds"] >= 10 and r["model"] != "gin":
            checks.append(
                (
                    f"{r['dataset']}/{r['model']} accuracy within 0.5 points of the plain loop ({delta:+.2f})",
                    abs(delta) <= 0.5,
                )
            )
    console.print(table)


def sampling_report(s: dict[str, Any], checks: list[tuple[str, bool]]) -> None:
    table = Table(title=f"neighbour-sampled GraphSAGE training on {s['nodes']:,} nodes, {s['edges']:,} edges")
    for column in ("sampler", "model path", "seed nodes / s", "time in sampling"):
        table.add_column(column, justify="right")
    for backend in ("torch", "pyg"):
        for name, r in s.get(backend, {}).items():
            table.add_row(backend, name, f"{r['seeds_per_s']:,.0f}", f"{100 * r['sampling_share']:.0f}%")
    console.print(table)
    gain = s["torch"]["gnnexp"]["seeds_per_s"] / s["torch"]["plain"]["seeds_per_s"]
    checks.append(
        (
            f"sampled GraphSAGE at least 2x the seed nodes per second of the plain model ({gain:.1f}x)",
            gain >= 2,
        )
    )


def graph_report(g: dict[str, Any]) -> None:
    table = Table(title=f"GIN on MUTAG (gin preset), ms per epoch (median of {g['seeds']} seeds)")
    for column in ("plain PyG loop", "gnnexp", "speed-up", "plain acc", "gnnexp acc"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{g['plain_ms']:.1f}",
        f"{g['gnnexp_ms']:.2f}",
        f"{g['speedup']:.1f}x",
        f"{100 * g['plain_acc']:.1f}",
        f"{100 * g['gnnexp_acc']:.1f}",
    )
    console.print(table)


def startup_report(s: dict[str, Any], checks: list[tuple[str, bool]]) -> None:
    base = s["import torch_geometric"]
    table = Table(title="process wall time (median of interleaved runs)")
    for column in ("command", "seconds", "vs import torch_geometric"):
        table.add_column(column, justify="right")
    for name, value in s.items():
        if isinstance(value, float) and name not in ("train_and_eval_s", "test_accuracy"):
            table.add_row(name, f"{value:.2f}", f"{value - base:+.2f}")
    console.print(table)
    console.print(
        f"full default run: {s['train_and_eval_s']:.2f} s in training and evaluation, test accuracy {s['test_accuracy']:.3f}"
    )
    checks.append((f"gnnexp --help under 1 s ({s['gnnexp --help']:.2f} s)", s["gnnexp --help"] < 1))
    checks.append((f"gnnexp list under 1 s ({s['gnnexp list']:.2f} s)", s["gnnexp list"] < 1))
    checks.append(
        (
            f"default run trains and evaluates in under 2 s ({s['train_and_eval_s']:.2f} s)",
            s["train_and_eval_s"] < 2,
        )
    )
    # gnnexp's own start-up and end (config, data, model, files, curves.png drawn in the
    # run's process) beyond importing PyG: a 1-epoch run, so that the machine's speed at
    # training, checked above, does not count twice.
    extra = s["gnnexp train trainer.max_epochs=1"] - base
    checks.append(
        (
            f"a 1-epoch run takes at most 1.5 s longer than import torch_geometric ({extra:+.2f} s)",
            extra <= 1.5,
        )
    )


def options_report(options: list[dict[str, Any]]) -> None:
    table = Table(title="options on Cora (ms per epoch, seed 0)")
    for column in ("model", "option", "ms / epoch", "test acc"):
        table.add_column(column, justify="right")
    for r in options:
        table.add_row(r["model"], r["option"], f"{r['ms']:.2f}", f"{100 * r['acc']:.1f}")
    console.print(table)


SECTIONS = ("loop", "graphs", "sampling", "startup", "options", "parallel")


def main() -> int:
    quiet_known_warnings()  # as the CLI does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 seeds, Cora only, a 200k-node sampling graph")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS)
    )
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: the loop's models")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    seeds = 3 if args.quick else args.seeds
    models = [m for m in MODELS if m in args.models.split(",")]
    pairs = [(d, m) for d in (("cora",) if args.quick else ("cora", "citeseer")) for m in models]
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "device": args.device,
        "seeds": seeds,
    }
    if "loop" in sections:
        console.rule("training loop")
        results["loop"] = loop_section(seeds, args.device, pairs)
    if "graphs" in sections:
        console.rule("graph classification")
        results["graphs"] = graph_section(seeds)
    if "sampling" in sections:
        console.rule("neighbour sampling")
        results["sampling"] = sampling_section(200_000 if args.quick else 1_000_000, 30)
    if "startup" in sections:
        console.rule("start-up")
        results["startup"] = startup_section(3)
    if "options" in sections:
        console.rule("options")
        results["options"] = options_section(args.device)
    if "parallel" in sections:
        console.rule("parallel jobs")
        results["parallel"] = parallel_section()
    console.rule(f"results ({results['machine']}, {results['date']})")
    checks = report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**results, "checks": checks}, indent=2))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
