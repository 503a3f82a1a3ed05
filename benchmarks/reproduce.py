"""``make reproduce``: the papers' results, ours beside theirs.

Runs the presets of ``conf/experiment`` over several seeds, and GINE on RDKit's ChEMBL
example (offline), then prints ours next to the published number. A row passes when ours
lies within one standard deviation of the paper's (ours or the paper's, whichever is
wider); the ChEMBL row passes when GINE beats predicting the training mean. The OGB rows
need internet: they are listed with the leaderboard's numbers, and run with ``--ogb``.

``--pe`` runs the positional-encoding section instead (docs/transforms.md): GIN, GINE and GPS
with and without the random-walk encoding, on MUTAG (10-fold CV) and the ChEMBL scaffold split.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gnnexp.sweeps.summary import Row, find_jobs, summarize


@dataclass(frozen=True)
class Published:
    """One row: our command (its overrides) and the number it is compared with."""

    name: str
    overrides: tuple[str, ...]
    metric: str
    paper: float | None  # in the metric's unit as printed (%, or RMSE)
    paper_std: float | None
    source: str
    group: str  # rows of one group run as one sweep
    compared: bool = True  # false: a stricter protocol than the paper's, shown, not judged
    needs_internet: bool = False


CHEMBL = ("dataset=smiles", "dataset.targets=[activity]", "model=gine")
ROWS = [
    Published("gcn_cora", ("experiment=gcn_cora",), "accuracy", 81.5, None, "Kipf & Welling 2017", "citation"),
    Published("gat_cora", ("experiment=gat_cora",), "accuracy", 83.0, 0.7, "Velickovic et al. 2018", "citation"),
    Published("gcn_citeseer", ("experiment=gcn_citeseer",), "accuracy", 70.3, None, "Kipf & Welling 2017", "citation"),
    Published("gat_citeseer", ("experiment=gat_citeseer",), "accuracy", 72.5, 0.7, "Velickovic et al. 2018", "citation"),
    Published(
        "gin_mutag_paper", ("experiment=gin_mutag_paper",), "accuracy", 89.4, 5.6,
        "Xu et al. 2019; their protocol: best mean epoch over the 10 folds", "mutag",
    ),
    Published(
        "gin_mutag", ("experiment=gin_mutag",), "accuracy", 89.4, 5.6,
        "ours: each fold selects its epoch on a validation fold (stricter, not compared)", "mutag", compared=False,
    ),
    Published("gine_chembl", CHEMBL, "rmse", None, None, "vs the training mean's RMSE on the same scaffold split", "chembl"),
    Published(  # OGB's GIN baseline: 5 layers of 300, bond features in every layer, mean pooling
        "gin_ogbg-molhiv", ("dataset=ogbg-molhiv", "model=gine", "model.num_layers=5", "model.hidden_channels=300",
                            "model.dropout=0.5", "model.jk=last", "model.readout=mean", "task.batch_size=32",
                            "optimizer.lr=0.001", "trainer.max_epochs=100", "trainer.monitor=val_metric"),
        "roc_auc", 75.58, 1.40, "OGB leaderboard (GIN)", "ogb", needs_internet=True,
    ),
    Published(  # OGB's GraphSAGE baseline: 3 layers of 256 with batch norm, 500 epochs
        "sage_ogbn-arxiv", ("dataset=ogbn-arxiv", "model=sage", "model.num_layers=3", "model.hidden_channels=256",
                            "model.norm=batch", "model.dropout=0.5", "model.weight_decay=0", "trainer.max_epochs=500",
                            "trainer.monitor=val_metric"),
        "accuracy", 71.49, 0.27, "OGB leaderboard (GraphSAGE)", "ogb", needs_internet=True,
    ),
]  # fmt: skip


# The positional-encoding section: each model on each dataset, without and with the encoding.
PE_DATASETS = {"mutag": ("dataset=mutag", "trainer.folds=10"), "chembl": CHEMBL[:2]}
PE_MODELS = {"gin": ("model=gin",), "gine": ("model=gine",), "gps": ("model=gps", "model.local=gine")}
PE_VARIANTS = {"none": (), "random_walk_pe": ("transform=[random_walk_pe]",)}


def pe_section(args: argparse.Namespace, gnnexp: str, chembl_csv: Path) -> list[str]:
    """Train every model x dataset x encoding over ``args.seeds`` seeds; the markdown table."""
    extra = {"mutag": (), "chembl": (f"dataset.path={chembl_csv.resolve()}",)}
    epochs = (f"trainer.max_epochs={args.pe_epochs}",) if args.pe_epochs else ()
    lines = [
        "| dataset | model | no PE | random-walk PE | PE helps? |",
        "|---|---|---|---|---|",
    ]
    for dataset, data_overrides in PE_DATASETS.items():
        if args.pe_datasets and dataset not in args.pe_datasets:
            continue
        for model, model_overrides in PE_MODELS.items():
            if args.pe_models and model not in args.pe_models:
                continue
            cells = []
            for variant, pe in PE_VARIANTS.items():
                out = args.out / "pe" / dataset / model / variant
                cmd = [gnnexp, "train", "-m", *data_overrides, *extra[dataset], *model_overrides, *pe, *epochs,
                       f"seed=range(0,{args.seeds})", "trainer.log_every=1000", f"hydra.sweep.dir={out}"]  # fmt: skip
                # A finished sweep (same --out) is kept; --pe-table-only tabulates what is there.
                if not (out / "summary.json").is_file() and not args.pe_table_only:
                    print("$", " ".join(cmd), flush=True)
                    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
                rows = summarize(find_jobs([out]))
                cells.append(rows[0] if rows else None)
            lines.append(
                f"| {dataset} | {model} | {_pe_cell(cells[0])} | {_pe_cell(cells[1])} | {_helps(*cells)} |"
            )
    return lines


def _pe_cell(row: Row | None) -> str:
    if row is None or row.test_mean is None:
        return "(no results)"
    scale = 100.0 if row.metric in ("accuracy", "roc_auc") else 1.0
    digits = 1 if scale == 100 else 3
    return f"{scale * row.test_mean:.{digits}f} ± {scale * (row.test_std or 0.0):.{digits}f} (n={row.n})"


def _helps(without: Row | None, with_pe: Row | None) -> str:
    """yes / no / within noise: the difference against the larger of the two stds."""
    if without is None or with_pe is None or without.test_mean is None or with_pe.test_mean is None:
        return "-"
    if min(without.n, with_pe.n) < 2:
        return "- (one seed: no std)"
    better = (
        with_pe.test_mean > without.test_mean
        if without.metric != "rmse"
        else with_pe.test_mean < without.test_mean
    )
    noise = max(without.test_std or 0.0, with_pe.test_std or 0.0)
    if abs(with_pe.test_mean - without.test_mean) <= noise:
        return "no (within 1 std)"
    return "yes" if better else "no (worse)"


def mean_predictor_rmse(csv_path: Path) -> float:
    """RMSE on the test molecules of predicting the training molecules' mean (same split)."""
    import torch

    from gnnexp.config.compose import compose
    from gnnexp.data import load_dataset
    from gnnexp.paths import resolve_data_dir
    from gnnexp.tasks.base import build_task

    cfg = compose([*CHEMBL, f"dataset.path={csv_path}"])
    data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir), cfg.get("transform"))
    task = build_task(cfg, data, torch.device("cpu"))
    y = torch.cat([g.y.view(-1) for g in data.graphs])
    train, test = y[task.indices["train"]], y[task.indices["test"]]  # type: ignore[attr-defined]
    return math.sqrt(float(((test - train.mean()) ** 2).mean()))


def judge(spec: Published, row: Row | None, baseline: float | None) -> tuple[str, str, str]:
    """(ours, theirs, verdict) as printed."""
    if row is None or row.test_mean is None:
        return "(no results)", f"{spec.paper}", "no"
    scale = 100.0 if spec.metric in ("accuracy", "roc_auc") else 1.0
    mean, std = scale * row.test_mean, scale * (row.test_std or 0.0)
    failed = f", {row.failed} failed" if row.failed else ""
    ours = f"{mean:.{1 if scale == 100 else 3}f} ± {std:.{1 if scale == 100 else 3}f} (n={row.n}{failed})"
    if spec.paper is None:  # the ChEMBL row: against the mean predictor
        assert baseline is not None
        return ours, f"mean predictor {baseline:.3f}", "yes" if mean < baseline else "no"
    theirs = f"{spec.paper}" + (f" ± {spec.paper_std}" if spec.paper_std else "")
    ok = abs(mean - spec.paper) <= max(std, spec.paper_std or 0.0)
    if not spec.compared:
        return ours, theirs, "(stricter protocol)"
    return ours, theirs, "yes" if ok else "no"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the citation and ChEMBL rows")
    parser.add_argument("--mutag-seeds", type=int, default=5, help="seeds of the MUTAG rows (10 folds each)")
    parser.add_argument("--ogb", action="store_true", help="also run the OGB rows (downloads the datasets)")
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/reproduce") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    )
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--pe", action="store_true", help="run the positional-encoding section instead")
    parser.add_argument("--pe-epochs", type=int, help="--pe: trainer.max_epochs (default: the trainer's)")
    parser.add_argument("--pe-datasets", nargs="*", choices=tuple(PE_DATASETS), help="--pe: only these")
    parser.add_argument("--pe-models", nargs="*", choices=tuple(PE_MODELS), help="--pe: only these")
    parser.add_argument("--pe-table-only", action="store_true", help="--pe: tabulate the runs in --out")
    parser.add_argument(
        "--kg-seeds", type=int, default=1, help="seeds of the knowledge-graph rows (0: skip them)"
    )
    args = parser.parse_args()
    gnnexp = str(Path(sys.executable).with_name("gnnexp"))
    chembl_csv = args.out / "chembl" / "CHEMBL2321810.csv"
    from gnnexp.data.examples import freewilson_csv

    freewilson_csv(chembl_csv)
    if args.pe:
        lines = pe_section(args, gnnexp, chembl_csv)
        print("\n".join(lines))
        print(f"runs in {args.out}/pe; details: gnnexp summarize {args.out}/pe/<dataset>/<model>/<variant>")
        if args.markdown:
            args.markdown.write_text("\n".join(lines) + "\n")
        return 0
    seeds = {"citation": args.seeds, "mutag": args.mutag_seeds, "chembl": args.seeds, "ogb": args.seeds}
    extra = {"chembl": (f"dataset.path={chembl_csv.resolve()}",)}
    groups = list(dict.fromkeys(r.group for r in ROWS if args.ogb or not r.needs_internet))
    for group in groups:
        members = [r for r in ROWS if r.group == group]
        experiments = [r.overrides[0].removeprefix("experiment=") for r in members if len(r.overrides) == 1]
        together = len(experiments) == len(members) and all(
            r.overrides[0].startswith("experiment=") for r in members
        )
        runs = [[f"experiment={','.join(experiments)}"]] if together else [list(r.overrides) for r in members]
        for i, overrides in enumerate(runs):
            cmd = [gnnexp, "train", "-m", *overrides, *extra.get(group, ()), f"seed=range(0,{seeds[group]})",
                   "trainer.log_every=1000", f"hydra.sweep.dir={args.out / group / str(i)}"]  # fmt: skip
            print("$", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    baseline = mean_predictor_rmse(chembl_csv.resolve())
    table = Table(title=f"published results, reproduced ({datetime.now():%Y-%m-%d})", title_justify="left")
    header = ("experiment", "ours (test)", "published", "source", "within 1 std")
    for column in header:
        table.add_column(column)
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    all_ok = True
    for spec in ROWS:
        if spec.needs_internet and not args.ogb:
            cells = ("needs internet: make reproduce ARGS=--ogb", f"{spec.paper} ± {spec.paper_std}", "-")
        else:
            rows = {r.config: r for r in summarize(find_jobs([args.out / spec.group]))}
            key = " ".join(spec.overrides) if len(spec.overrides) > 1 else spec.overrides[0]
            row = rows.get(key) or next(
                (r for k, r in rows.items() if set(spec.overrides) <= set(k.split())), None
            )
            cells = judge(spec, row, baseline)
            all_ok &= cells[2] != "no"
        table.add_row(spec.name, cells[0], cells[1], spec.source, cells[2])
        lines.append(f"| {spec.name} | {cells[0]} | {cells[1]} | {spec.source} | {cells[2]} |")
    Console(width=160).print(table)
    for spec in ROWS:
        if spec.needs_internet and not args.ogb:
            print(f"needs internet: gnnexp train {' '.join(spec.overrides)} seed=range(0,{args.seeds})")
    print(f"runs in {args.out}; details: gnnexp summarize {args.out}/<group>")
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    if args.kg_seeds:  # every knowledge-graph model on each graph, beside PyKEEN's numbers
        import reproduce_kg

        kg_markdown = args.markdown.with_suffix(".kg.md") if args.markdown else None
        all_ok &= reproduce_kg.run(args.out / "kg", args.kg_seeds, kg_markdown)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
