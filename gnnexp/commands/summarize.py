"""``gnnexp summarize DIR [DIR...]``: one table of mean ± std per configuration."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape

from gnnexp.commands.args import Parser
from gnnexp.errors import GnnexpError, reporting, say
from gnnexp.paths import existing_dirs
from gnnexp.search.outcome import print_study, read_study, study_markdown, study_rows
from gnnexp.sweeps.summary import find_jobs, split_common, summarize
from gnnexp.sweeps.tables import FORMATS, seed_lines, title, to_table, wide_console
from gnnexp.util.atomic import atomic_file, write_text


def main(args: list[str]) -> int:
    parser = Parser(
        prog="gnnexp summarize",
        description="Group the jobs of sweeps (or single runs) by their overrides without the seed, "
        "and report mean ± std of the validation and test metric, best first.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep directories or run directories")
    parser.add_argument("--format", choices=["table", *FORMATS], default="table")
    parser.add_argument("--out", type=Path, help="write the table to this file instead of printing it")
    parser.add_argument(
        "--seeds", action="store_true", help="also list each seed's validation and test value"
    )
    options = parser.parse_args(args)
    return reporting(lambda: _summarize(options))


def _summarize_study(study: dict[str, Any], sweep_dir: Path, options: argparse.Namespace) -> int:
    """A hyperparameter search: counts by state, the best trials, the best one's command."""
    if options.format in ("table", "markdown"):
        if options.format == "markdown":
            text = study_markdown(study, top=len(study["trials"]))
            write_text(options.out, text) if options.out else sys.stdout.write(text)
            return 0
        with atomic_file(options.out) if options.out else contextlib.nullcontext() as stream:
            print_study(study, wide_console(stream), sweep_dir)
        return 0
    text = json.dumps(study, indent=2) + "\n" if options.format == "json" else _study_csv(study)
    write_text(options.out, text) if options.out else sys.stdout.write(text)
    return 0


def _study_csv(study: dict[str, Any]) -> str:
    header, rows = study_rows(study, top=len(study["trials"]), exact=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _summarize(options: argparse.Namespace) -> int:
    dirs = existing_dirs(options.dirs, "multirun", "give sweep or run directories.")
    if len(dirs) == 1 and (study := read_study(dirs[0])) is not None:
        return _summarize_study(study, dirs[0], options)
    jobs = find_jobs(dirs)
    if not jobs:
        raise GnnexpError(
            f"no gnnexp jobs under {', '.join(map(str, dirs))} (no .hydra folders).",
            "give the directory a sweep or run wrote (outputs/multirun/<date>/<time>).",
        )
    for job in jobs:
        if job.nonfinite:
            say(
                f"gnnexp: warning: {job.path / 'results.json'} holds non-finite values "
                f"({', '.join(job.nonfinite)}): shown as missing.\n"
            )
    rows = summarize(jobs)
    if options.format != "table":
        text = FORMATS[options.format](rows, options.seeds)
        if options.out:
            write_text(options.out, text)
        else:
            sys.stdout.write(text)
        return 0
    with atomic_file(options.out) if options.out else contextlib.nullcontext() as stream:
        console = wide_console(stream)
        console.print(to_table(rows, title(jobs, rows)))
        if options.seeds:
            console.print("per seed:", highlight=False)
            for line in seed_lines(rows, split_common(rows)[1]):
                console.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)
        for row in rows:
            for error in row.errors:
                console.print(
                    f"[red]failed[/red] {escape(f'{row.config}: {error}')}", soft_wrap=True, highlight=False
                )
            for warning in row.warnings:  # it ran to its end: not a failure
                console.print(
                    f"[yellow]warning[/yellow] {escape(f'{row.config}: {warning}')}",
                    soft_wrap=True,
                    highlight=False,
                )
    return 0
