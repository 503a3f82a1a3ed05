"""``make reproduce``: the papers' results, ours beside theirs.

Runs every preset of ``conf/experiment`` over 10 seeds (two sweeps), then prints test
accuracy as mean ± std over the seeds next to the published number. The target for each
row: within one standard deviation of the paper (ours or the paper's, whichever is wider).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gnnexp.summary import find_jobs, summarize

# experiment -> (paper's test accuracy in %, its std or None, source)
PAPERS = {
    "gcn_cora": (81.5, None, "Kipf & Welling 2017"),
    "gat_cora": (83.0, 0.7, "Velickovic et al. 2018"),
    "gcn_citeseer": (70.3, None, "Kipf & Welling 2017"),
    "gat_citeseer": (72.5, 0.7, "Velickovic et al. 2018"),
    "gin_mutag": (89.4, 5.6, "Xu et al. 2019 (10-fold CV)"),
}
SWEEPS = [["gcn_cora", "gat_cora", "gcn_citeseer", "gat_citeseer"], ["gin_mutag"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/reproduce") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    )
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    gnnexp = str(Path(sys.executable).with_name("gnnexp"))
    for i, experiments in enumerate(SWEEPS):
        cmd = [
            gnnexp,
            "train",
            "-m",
            f"+experiment={','.join(experiments)}",
            f"seed=range(0,{args.seeds})",
            "trainer.log_every=1000",
            f"hydra.sweep.dir={args.out / str(i)}",
        ]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    rows = {r.config: r for r in summarize(find_jobs([args.out]))}
    table = Table(
        title=f"published results, reproduced ({datetime.now():%Y-%m-%d}, {args.seeds} seeds)",
        title_justify="left",
    )
    for column in ("experiment", "ours (test acc %)", "paper", "source", "within 1 std"):
        table.add_column(column)
    lines = ["| experiment | ours (test acc %) | paper | source | within 1 std |", "|---|---|---|---|---|"]
    all_ok = True
    for name, (paper, paper_std, source) in PAPERS.items():
        row = rows.get(f"+experiment={name}")
        if row is None or row.test_mean is None:
            table.add_row(name, "(no results)", str(paper), source, "no")
            all_ok = False
            continue
        mean, std = 100 * row.test_mean, 100 * (row.test_std or 0.0)
        ok = abs(mean - paper) <= max(std, paper_std or 0.0)
        all_ok &= ok
        ours = f"{mean:.1f} ± {std:.1f} (n={row.n}{f', {row.failed} failed' if row.failed else ''})"
        theirs = f"{paper}" + (f" ± {paper_std}" if paper_std else "")
        table.add_row(name, ours, theirs, source, "yes" if ok else "no")
        lines.append(f"| {name} | {ours} | {theirs} | {source} | {'yes' if ok else 'no'} |")
    Console(width=120).print(table)
    print(f"sweeps in {args.out}; details: gnnexp summarize {args.out}")
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
