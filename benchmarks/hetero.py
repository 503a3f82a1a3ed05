"""``make bench-hetero``: typed graphs, gnnexp against the plain PyG loop, in one run.

On Cora as papers and words (``dataset=cora_words``): the plain loop of PyG's heterogeneous
examples (``to_hetero`` of a two-layer GraphSAGE, dense features, edge lists, a linear map
of the paper features and an embedding of the words, as gnnexp builds them) against
``gnnexp``'s loop with the same layers, epochs and optimiser, interleaved A B A B over the
same seeds: ms per epoch (train step + validation pass), their ratio, and test accuracy at
the best validation-loss epoch (mean ± std). Beside them, gnnexp's papers-only GraphSAGE
(``dataset=cora``) on the same split: whether the words help.

Then sampled training: seed papers per second of neighbour-sampled GraphSAGE training (fan-outs
[10, 5] on every edge type, batches of 256, every paper a seed) with gnnexp's pure-torch typed
sampler (PyG's own needs pyg-lib).

Usage: python benchmarks/hetero.py [--seeds N] [--device cpu|cuda] [--json FILE] [--sections loop,sampling]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import plain
import torch
import torch.nn.functional as F
from bench import gnnexp_run
from rich.console import Console
from rich.table import Table
from torch_geometric.nn import SAGEConv, to_hetero

from gnnexp.config.compose import compose
from gnnexp.data import load_dataset
from gnnexp.data.typed_sampler import hetero_neighbor_loader
from gnnexp.errors import quiet_known_warnings
from gnnexp.paths import resolve_data_dir
from gnnexp.running.experiment import build_experiment, checked
from gnnexp.util.device import resolve_device

SPEEDUP = 4.0  # required speed-up of gnnexp's loop over the plain one
HIDDEN, DROPOUT, LR, DECAY = 64, 0.5, 0.01, 5e-4  # gnnexp's sage defaults, which both follow
console = Console(width=max(120, Console().width))


class SAGE(torch.nn.Module):
    """PyG's example GNN: two SAGEConv layers, dropout before each, ReLU between."""

    def __init__(self, hidden: int, out: int) -> None:
        super().__init__()
        self.drop1, self.drop2 = torch.nn.Dropout(DROPOUT), torch.nn.Dropout(DROPOUT)
        self.conv1, self.conv2 = SAGEConv(hidden, hidden), SAGEConv(hidden, out)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.drop1(x), edge_index).relu()
        return self.conv2(self.drop2(x), edge_index)


class Plain(torch.nn.Module):
    """A linear map of each featured type, an embedding of each featureless one, ``to_hetero(SAGE)``."""

    def __init__(self, graph: Any, out: int) -> None:
        super().__init__()
        self.encoders = torch.nn.ModuleDict()
        for t in graph.node_types:
            x = graph[t].get("x")
            self.encoders[t] = (
                torch.nn.Linear(x.size(1), HIDDEN)
                if x is not None
                else torch.nn.Embedding(graph[t].num_nodes, HIDDEN)
            )
        self.gnn = to_hetero(SAGE(HIDDEN, out), graph.metadata(), aggr="sum")

    def forward(self, x_dict: dict[str, torch.Tensor], edge_index_dict: dict[Any, torch.Tensor]) -> Any:
        h = {
            t: enc.weight if isinstance(enc, torch.nn.Embedding) else enc(x_dict[t])
            for t, enc in self.encoders.items()
        }
        return self.gnn(h, edge_index_dict)


def plain_run(graph: Any, classes: int, seed: int) -> tuple[float, float]:
    """The plain full-graph loop of ``plain.node_run`` on the papers: (ms per epoch, test accuracy)."""
    torch.manual_seed(seed)
    model = Plain(graph, classes).to(graph["paper"].y.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=DECAY)
    paper = graph["paper"]
    y, train, val, test = paper.y, paper.train_mask, paper.val_mask, paper.test_mask
    best, best_test, bad, times = float("inf"), 0.0, 0, []
    for _ in range(plain.EPOCHS):
        started = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        out = model(graph.x_dict, graph.edge_index_dict)["paper"]
        F.cross_entropy(out[train], y[train]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            out = model(graph.x_dict, graph.edge_index_dict)["paper"]
            val_loss = F.cross_entropy(out[val], y[val]).item()
        times.append(time.perf_counter() - started)
        if val_loss < best:
            best, bad = val_loss, 0
            best_test = (out.argmax(-1)[test] == y[test]).float().mean().item()
        else:
            bad += 1
            if bad >= plain.PATIENCE:
                break
    return 1000 * statistics.fmean(times), best_test


def sampling_section(device: str) -> dict[str, float]:
    """Seed papers per second of sampled training, and of sampling alone (median of 3 epochs)."""
    cfg = compose(
        [
            "dataset=cora_words",
            "model=sage",
            "loader=neighbor",
            "loader.batch_size=256",
            "loader.num_neighbors=[10,5]",
        ]
    )
    experiment = build_experiment(checked(cfg), device=resolve_device(device), seed=0)
    model, task = experiment.model, experiment.task
    every = torch.ones(experiment.data.graphs["paper"].num_nodes, dtype=torch.bool)
    fan_outs = {et: [10, 5] for et in experiment.data.graphs.edge_types}
    loader = hetero_neighbor_loader(experiment.data.graphs, "paper", every, fan_outs, 256, True)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    seeds = int(every.sum())
    train, sample = [], []
    for _ in range(3):
        started = time.perf_counter()
        for batch in loader:
            optimizer.zero_grad()
            task.training_loss(model, batch).backward()
            optimizer.step()
        train.append(seeds / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in loader:
            pass
        sample.append(seeds / (time.perf_counter() - started))
    return {"train_seeds_per_s": statistics.median(train), "sample_seeds_per_s": statistics.median(sample)}


def main() -> int:
    quiet_known_warnings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--sections", default="loop,sampling", help="comma-separated: loop, sampling")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    results: dict[str, Any] = {}
    checks: list[tuple[str, bool]] = []
    if "loop" in sections:
        loop_section(args, results, checks)
    if "sampling" in sections:
        results["sampling"] = s = sampling_section(args.device)
        console.print(
            f"sampled GraphSAGE on cora_words (fan-outs [10, 5] per edge type, 256 seeds a batch): "
            f"{s['train_seeds_per_s']:,.0f} seed papers/s training, {s['sample_seeds_per_s']:,.0f}/s sampling alone"
        )
    for text, ok in checks:
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {text}")
    if args.json:
        machine = (
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
        )
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        args.json.write_text(
            json.dumps({"machine": machine, "load": load, **results, "checks": checks}, indent=2)
        )
    return 0 if all(ok for _, ok in checks) else 1


def loop_section(args: Any, results: dict[str, Any], checks: list[tuple[str, bool]]) -> None:
    """The interleaved loops: its table, and its checks appended to ``checks``."""
    device = resolve_device(args.device)
    cfg = compose(["dataset=cora_words"])
    data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir))
    graph = data.graphs.to(device)
    wide = ("model.hidden_channels=64", "model.num_layers=2", "model.dropout=0.5")
    gnnexp_run("cora_words", "sage", 0, args.device, wide)  # warm caches before timing
    rows: dict[str, list[tuple[float, float]]] = {"plain": [], "gnnexp": [], "papers": []}
    for seed in range(args.seeds):  # interleaved: A B C A B C ...
        rows["plain"].append(plain_run(graph, data.num_classes, seed))
        rows["gnnexp"].append(gnnexp_run("cora_words", "sage", seed, args.device, wide))
        rows["papers"].append(gnnexp_run("cora", "sage", seed, args.device, wide))
        console.print(
            f"  seed {seed}: plain {rows['plain'][-1][0]:.1f} ms, gnnexp {rows['gnnexp'][-1][0]:.1f} ms, "
            f"accuracy {rows['plain'][-1][1]:.3f} / {rows['gnnexp'][-1][1]:.3f} / papers only {rows['papers'][-1][1]:.3f}"
        )
    summary = {
        name: {
            "ms": statistics.median(ms for ms, _ in runs),
            "acc": statistics.fmean(acc for _, acc in runs),
            "std": statistics.stdev(acc for _, acc in runs) if len(runs) > 1 else 0.0,
        }
        for name, runs in rows.items()
    }
    speedup = summary["plain"]["ms"] / summary["gnnexp"]["ms"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    table = Table(
        title=f"GraphSAGE on Cora, {args.seeds} seeds: ms per epoch (median), test accuracy (mean ± std); "
        f"load {load:.1f}"
    )
    for column in ("loop", "graph", "ms per epoch", "test accuracy"):
        table.add_column(column, justify="right")
    labels = {
        "plain": ("plain PyG to_hetero(SAGE)", "papers + words"),
        "gnnexp": ("gnnexp model=sage", "papers + words"),
        "papers": ("gnnexp model=sage", "papers only"),
    }
    for name, (loop, graph_name) in labels.items():
        s = summary[name]
        table.add_row(loop, graph_name, f"{s['ms']:.1f}", f"{100 * s['acc']:.1f} ± {100 * s['std']:.1f}")
    console.print(table)
    p, g, papers = summary["plain"], summary["gnnexp"], summary["papers"]
    checks += [
        (f"gnnexp's epoch at most 1/{SPEEDUP:g} of the plain loop's ({speedup:.1f}x)", speedup >= SPEEDUP),
        (
            f"accuracy within one std of the plain loop ({100 * (g['acc'] - p['acc']):+.1f} points, std {100 * p['std']:.1f})",
            abs(g["acc"] - p["acc"]) <= max(p["std"], g["std"]),
        ),
        (
            f"papers + words beats papers only ({100 * g['acc']:.1f} vs {100 * papers['acc']:.1f})",
            g["acc"] > papers["acc"],
        ),
    ]
    results["loop"] = {**summary, "speedup": speedup}


if __name__ == "__main__":
    sys.exit(main())
