"""Sweep summaries: every job's outcome, grouped by configuration, as mean ± std.

A job is a directory with Hydra's ``.hydra/`` folder. Its outcome is ``results.json``
(completed, or failed if training diverged), else ``failed.json`` (failed or interrupted),
else nothing yet (unfinished: still running, or killed). Jobs are grouped by their
overrides without the seed, so the seeds of one configuration become one row. (Over 250
lines on purpose: how a job's files are read back and how its status is shown are one
meaning of "status", kept in one module.)
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gnnexp.config.validate import METRIC_MODES

# Overrides that do not make a configuration different.
IGNORED = ("seed", "hydra.", "trainer.resume", "trainer.log_every")


@dataclass
class Job:
    path: Path
    status: str  # completed, failed, interrupted or unfinished
    overrides: list[str]
    metric: str | None = None
    val: float | None = None
    test: float | None = None
    error: str | None = None
    learned: bool = True


@dataclass
class Row:
    config: str
    metric: str | None
    n: int = 0
    val_mean: float | None = None
    val_std: float | None = None
    test_mean: float | None = None
    test_std: float | None = None
    failed: int = 0
    unfinished: int = 0
    errors: list[str] = field(default_factory=list)
    not_learned: int = 0


def _read_json(path: Path) -> dict[str, Any] | None:
    """The file's object; None when it is missing, unreadable or not a JSON object (a damaged
    file is reported as the job's state, never as a crash of the summary)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _number(split: Any, metric: Any) -> float | None:
    value = split.get(metric) if isinstance(split, dict) and isinstance(metric, str) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _list(value: Any, default: list[str]) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else default


def _read_overrides(path: Path) -> list[str]:
    try:
        data = yaml.safe_load(path.read_text()) if path.is_file() else []
    except (OSError, ValueError, yaml.YAMLError):
        return ["(unreadable .hydra/overrides.yaml)"]
    return [str(o) for o in data] if isinstance(data, list) else ["(unreadable .hydra/overrides.yaml)"]


def read_job(path: Path) -> Job:
    """The outcome of the job in ``path``."""
    overrides = _read_overrides(path / ".hydra" / "overrides.yaml")
    results = _read_json(path / "results.json")
    if results is not None:
        metric = results.get("metric") if isinstance(results.get("metric"), str) else None
        if results.get("status") != "completed":
            return Job(
                path,
                "failed",
                _list(results.get("overrides"), overrides),
                None,
                error=str(results.get("error")),
            )
        val, test = _number(results.get("val"), metric), _number(results.get("test"), metric)
        if val is None or test is None:
            return Job(path, "failed", overrides, None, error="results.json is damaged (no val/test metric)")
        return Job(
            path,
            "completed",
            _list(results.get("overrides"), overrides),
            metric,
            val,
            test,
            learned=results.get("learned", True) is not False,
        )
    failure = _read_json(path / "failed.json")
    if failure is not None:
        return Job(
            path,
            str(failure.get("status", "failed")),
            _list(failure.get("overrides"), overrides),
            error=str(failure.get("error")),
        )
    return Job(path, "unfinished", overrides)


def find_jobs(dirs: list[Path]) -> list[Job]:
    """Every job under ``dirs`` (a sweep, several sweeps, single runs)."""
    jobs = {}
    for root in dirs:
        for hydra_dir in root.rglob(".hydra"):
            if hydra_dir.parent.name == ".hydra":  # .hydra/resume of a resumed run
                continue
            jobs[hydra_dir.parent.resolve()] = read_job(hydra_dir.parent)
    return [jobs[p] for p in sorted(jobs)]


def config_key(overrides: list[str]) -> str:
    kept = sorted(o for o in overrides if not o.lstrip("+~").startswith(IGNORED))
    return " ".join(kept) or "(defaults)"


def split_common(rows: list[Row]) -> tuple[list[str], list[str]]:
    """Overrides every configuration shares, and what sets each row apart from the others."""
    parts = [set(r.config.split()) - {"(defaults)"} for r in rows]
    common = set.intersection(*parts) if len(parts) > 1 else set()
    varying = [" ".join(sorted(p - common)) or "(defaults)" for p in parts]
    return sorted(common), varying


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(jobs: list[Job]) -> list[Row]:
    """One row per configuration, best validation metric first, rows without results last."""
    rows: dict[str, Row] = {}
    values: dict[str, tuple[list[float], list[float]]] = {}
    for job in jobs:
        key = config_key(job.overrides)
        row = rows.setdefault(key, Row(key, job.metric))
        row.metric = row.metric or job.metric
        val, test = values.setdefault(key, ([], []))
        if job.status == "completed" and job.val is not None and job.test is not None:
            val.append(job.val)
            test.append(job.test)
            if not job.learned:
                row.not_learned += 1
                row.errors.append(f"{job.path.name}: completed, but learned nothing (see its results.json)")
        elif job.status == "unfinished":
            row.unfinished += 1
        else:
            row.failed += 1
            row.errors.append(f"{job.path.name}: {job.status}: {job.error or ''}".strip())
    for key, row in rows.items():
        val, test = values[key]
        row.n = len(val)
        row.val_mean, row.val_std = _mean_std(val)
        row.test_mean, row.test_std = _mean_std(test)

    def rank(row: Row) -> tuple[int, str, float]:
        if row.val_mean is None:
            return (1, "", 0.0)
        sign = -1 if METRIC_MODES.get(row.metric or "", "max") == "max" else 1
        return (0, row.metric or "", sign * row.val_mean)

    return sorted(rows.values(), key=rank)


def _pm(mean: float | None, std: float | None) -> str:
    return "" if mean is None else f"{mean:.4f} ± {(std or 0):.4f}"


COLUMNS = ["config", "metric", "n", "val", "test", "failed", "unfinished"]


def _cells(row: Row) -> list[str]:
    return [
        row.config,
        row.metric or "",
        str(row.n),
        _pm(row.val_mean, row.val_std),
        _pm(row.test_mean, row.test_std),
        str(row.failed),
        str(row.unfinished),
    ]


def to_markdown(rows: list[Row]) -> str:
    common, varying = split_common(rows)
    lines = [f"All configurations share: `{' '.join(common)}`\n"] if common else []
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for row, config in zip(rows, varying, strict=True):
        cells = [config, *_cells(row)[1:]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    errors = [
        f"- {config}: {error}" for row, config in zip(rows, varying, strict=True) for error in row.errors
    ]
    if errors:
        lines += ["", "Jobs that did not complete, or learned nothing:", "", *errors]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["config", "metric", "n", "val_mean", "val_std", "test_mean", "test_std", "failed", "unfinished"]
    )
    for r in rows:
        writer.writerow(
            [r.config, r.metric, r.n, r.val_mean, r.val_std, r.test_mean, r.test_std, r.failed, r.unfinished]
        )
    return out.getvalue()


def to_json(rows: list[Row]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2) + "\n"


def wide_console(file: Any = None) -> Any:
    """A rich console at least 120 columns wide: summary tables stay readable in logs."""
    from rich.console import Console

    console = Console(file=file)
    return console if console.is_terminal else Console(file=file, width=max(120, console.width))


def to_table(rows: list[Row], title: str) -> Any:
    from rich.table import Table

    common, varying = split_common(rows)
    caption = f"all configurations share: {' '.join(common)}" if common else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "config" else "right", overflow="fold")
    for row, config in zip(rows, varying, strict=True):
        style = "red" if row.n == 0 and row.failed else ("yellow" if row.failed or row.unfinished else None)
        table.add_row(config, *_cells(row)[1:], style=style)
    return table


FORMATS = {"markdown": to_markdown, "csv": to_csv, "json": to_json}
