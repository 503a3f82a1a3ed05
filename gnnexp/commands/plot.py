"""``gnnexp plot DIR...``: overlay runs or whole sweeps, mean ± std over seeds, in one PNG."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from gnnexp.commands.args import Parser
from gnnexp.errors import GnnexpError, reporting, say


def main(args: list[str]) -> int:
    parser = Parser(
        prog="gnnexp plot",
        description="Overlay the training curves of runs or sweeps: one line per configuration, "
        "with a band of ± one standard deviation over its seeds.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="run or sweep directories (or latest)")
    parser.add_argument("--out", type=Path, help="the PNG to write (default: <first dir>/comparison.png)")
    options = parser.parse_args(args)
    return reporting(lambda: _plot(options))


def _plot(options: argparse.Namespace) -> int:
    from gnnexp.paths import existing_dirs, fold_dirs
    from gnnexp.reporting.plots import plot_groups, read_metrics
    from gnnexp.sweeps.summary import Row, config_key, find_jobs, split_common
    from gnnexp.sweeps.tables import plural

    dirs = existing_dirs(options.dirs, "any", "give run or sweep directories.")
    groups: dict[str, list[dict[str, list[float]]]] = {}
    metric = None
    for job in find_jobs(dirs):
        csvs = (
            [job.path / "metrics.csv"]
            if (job.path / "metrics.csv").is_file()
            else [fold / "metrics.csv" for fold in fold_dirs(job.path) if (fold / "metrics.csv").is_file()]
        )
        for path in csvs:
            groups.setdefault(config_key(job.overrides), []).append(_finite(read_metrics(path), path))
        metric = metric or job.metric
    if not groups:
        raise GnnexpError(
            f"no metrics.csv under {', '.join(map(str, dirs))}.", "give directories that gnnexp train wrote."
        )
    if metric is None:  # only unfinished jobs: take the metric from the CSV header
        first = next(iter(groups.values()))[0]
        metric = next((k[4:] for k in first if k.startswith("val_") and k != "val_loss"), "accuracy")
    # Label each configuration by what sets it apart; the shared part becomes the title.
    keys = sorted(groups)
    common, varying = split_common([Row(k, metric) for k in keys])
    labelled = {label: groups[key] for key, label in zip(keys, varying, strict=True)}
    out = options.out or dirs[0] / "comparison.png"
    plot_groups(labelled, metric, out, title=" ".join(common))
    runs = sum(len(v) for v in groups.values())
    print(f"{plural(runs, 'run')} in {plural(len(groups), 'configuration')} plotted to {out}")
    return 0


def _finite(columns: dict[str, list[float]], path: Path) -> dict[str, list[float]]:
    """``columns`` with infinities (1e400 reads as one) as gaps, like the NaN that gnnexp itself
    writes for a skipped step; one warning line names the file."""
    bad = [
        f"{key} row {i + 2}" for key, values in columns.items() for i, v in enumerate(values) if math.isinf(v)
    ]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        say(f"gnnexp: warning: {path} holds infinite values ({', '.join(bad[:3])}{more}): drawn as gaps.\n")
    return {key: [math.nan if math.isinf(v) else v for v in values] for key, values in columns.items()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
