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
    tests: dict[str, float] = field(default_factory=dict)  # every metric the task recorded
    epochs: float | None = None  # epochs run (the mean over folds)
    time_s: float | None = None  # training time
    params: int | None = None
    seed: int | None = None


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
    # Every test metric (name -> [mean, std]), epochs run and training time (means), parameters.
    tests: dict[str, list[float]] = field(default_factory=dict)
    epochs: float | None = None
    time_s: float | None = None
    params: int | None = None
    seeds: list[dict[str, Any]] = field(default_factory=list)  # per job: seed, val, test


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
        tested: dict[str, Any] = results["test"]  # a dict: _number found the metric in it
        tests = {str(k): v for k in tested if (v := _number(tested, k)) is not None and k != "loss"}
        folds = results.get("folds")
        runs = [f for f in folds if isinstance(f, dict)] if isinstance(folds, list) else [results]
        epochs = [e for f in runs if (e := _number(f, "epochs_run")) is not None]
        params, seed = _number(results, "num_params"), _number(results, "seed")
        return Job(
            path,
            "completed",
            _list(results.get("overrides"), overrides),
            metric,
            val,
            test,
            learned=results.get("learned", True) is not False,
            tests=tests,
            epochs=statistics.fmean(epochs) if epochs else None,
            time_s=_number(results, "train_time_s"),
            params=None if params is None else int(params),
            seed=None if seed is None else int(seed),
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
    done: dict[str, list[Job]] = {}
    for job in jobs:
        key = config_key(job.overrides)
        row = rows.setdefault(key, Row(key, job.metric))
        row.metric = row.metric or job.metric
        val, test = values.setdefault(key, ([], []))
        if job.status == "completed" and job.val is not None and job.test is not None:
            val.append(job.val)
            test.append(job.test)
            done.setdefault(key, []).append(job)
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
        _add_details(row, done.get(key, []))

    def rank(row: Row) -> tuple[int, str, float]:
        if row.val_mean is None:
            return (1, "", 0.0)
        sign = -1 if METRIC_MODES.get(row.metric or "", "max") == "max" else 1
        return (0, row.metric or "", sign * row.val_mean)

    return sorted(rows.values(), key=rank)


def _add_details(row: Row, jobs: list[Job]) -> None:
    """Every test metric, epochs, time, parameters and the per-seed values of ``row``'s jobs."""
    names = sorted({name for job in jobs for name in job.tests}, key=lambda n: (n != row.metric, n))
    for name in names:
        mean, std = _mean_std([job.tests[name] for job in jobs if name in job.tests])
        if mean is not None:
            row.tests[name] = [mean, std or 0.0]
    epochs = [job.epochs for job in jobs if job.epochs is not None]
    times = [job.time_s for job in jobs if job.time_s is not None]
    row.epochs = statistics.fmean(epochs) if epochs else None
    row.time_s = statistics.fmean(times) if times else None
    row.params = next((job.params for job in jobs if job.params is not None), None)
    row.seeds = [
        {"seed": job.seed, "val": job.val, "test": job.test, "job": job.path.name}
        for job in sorted(jobs, key=lambda j: (j.seed is None, j.seed or 0, j.path.name))
    ]


def _pm(mean: float | None, std: float | None) -> str:
    return "" if mean is None else f"{mean:.4f} ± {(std or 0):.4f}"


def plural(count: int, noun: str) -> str:
    """ "1 configuration", "2 configurations"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def columns(rows: list[Row]) -> list[str]:
    """The table's columns: the main metric, then every other test metric any row has. The
    metric's name goes into the val/test headers when every row shares it, and the failed and
    unfinished counts appear when some job did not complete (narrow terminals keep the config)."""
    others = sorted({name for row in rows for name in row.tests if name != row.metric})
    metrics = {row.metric for row in rows if row.metric}
    shared = f" {next(iter(metrics))}" if len(metrics) == 1 else ""
    return [
        "config", *([] if shared else ["metric"]), "n", f"val{shared}", f"test{shared}",
        *(f"test {name}" for name in others), "epochs", "train time", "params",
        *(["failed"] if any(row.failed for row in rows) else []),
        *(["unfinished"] if any(row.unfinished for row in rows) else []),
    ]  # fmt: skip


def _time(seconds: float | None) -> str:
    return "" if seconds is None else (f"{seconds:.2f} s" if seconds < 100 else f"{seconds / 60:.1f} min")


def _cells(row: Row, header: list[str]) -> list[str]:
    cells = {
        "config": row.config,
        "metric": row.metric or "",
        "n": str(row.n),
        "val": _pm(row.val_mean, row.val_std),
        "test": _pm(row.test_mean, row.test_std),
        "epochs": "" if row.epochs is None else f"{row.epochs:.0f}",
        "train time": _time(row.time_s),
        "params": "" if row.params is None else f"{row.params:,}",
        "failed": str(row.failed),
        "unfinished": str(row.unfinished),
    }
    for name, (mean, std) in row.tests.items():
        cells[f"test {name}"] = _pm(mean, std)
    if row.metric:  # the shared metric's name in the header
        cells[f"val {row.metric}"], cells[f"test {row.metric}"] = cells["val"], cells["test"]
    return [cells.get(column, "") for column in header]


def seed_lines(rows: list[Row], varying: list[str]) -> list[str]:
    """Per configuration, each seed's validation and test value of the main metric."""
    lines = []
    for row, config in zip(rows, varying, strict=True):
        values = ", ".join(f"seed {s['seed']}: val {s['val']:.4f} test {s['test']:.4f}" for s in row.seeds)
        if values:
            lines.append(f"{config} ({row.metric}): {values}")
    return lines


def to_markdown(rows: list[Row], seeds: bool = False) -> str:
    common, varying = split_common(rows)
    header = columns(rows)
    lines = [f"All configurations share: `{' '.join(common)}`\n"] if common else []
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row, config in zip(rows, varying, strict=True):
        cells = [config, *_cells(row, header)[1:]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if seeds:
        lines += ["", "Per seed:", "", *(f"- {line}" for line in seed_lines(rows, varying))]
    errors = [
        f"- {config}: {error}" for row, config in zip(rows, varying, strict=True) for error in row.errors
    ]
    if errors:
        lines += ["", "Jobs that did not complete, or learned nothing:", "", *errors]
    return "\n".join(lines) + "\n"


def clean(value: Any) -> Any:
    """``value`` with every float cut to the 7 significant digits a float32 metric has
    (0.8066666722297668 -> 0.8066667), in nested lists and dicts too."""
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def to_csv(rows: list[Row], seeds: bool = False) -> str:
    """One line per configuration (per seed with ``seeds``), every test metric as mean and std."""
    out = io.StringIO()
    writer = csv.writer(out)
    names = sorted({name for row in rows for name in row.tests})
    fixed = ["config", "metric", "n", "val_mean", "val_std", "test_mean", "test_std"]
    details = ["epochs", "train_time_s", "num_params", "failed", "unfinished"]
    tests = [f"test_{name}_{stat}" for name in names for stat in ("mean", "std")]
    writer.writerow([*fixed, *tests, *details, *(["seed", "seed_val", "seed_test"] if seeds else [])])
    for r in rows:
        per_metric: list[float | None] = []
        for name in names:
            per_metric += r.tests.get(name) or [None, None]
        line = [r.config, r.metric, r.n, r.val_mean, r.val_std, r.test_mean, r.test_std, *per_metric]
        line += [r.epochs, r.time_s, r.params, r.failed, r.unfinished]
        per_seed: list[dict[str, Any] | None] = list(r.seeds) if seeds and r.seeds else [None]
        for each in per_seed:
            extra = [each["seed"], each["val"], each["test"]] if each else []
            writer.writerow(["" if v is None else clean(v) for v in [*line, *extra]])
    return out.getvalue()


def to_json(rows: list[Row], seeds: bool = True) -> str:
    """Every row as an object; ``seeds``: with each seed's values."""
    drop = () if seeds else ("seeds",)
    return (
        json.dumps([{k: v for k, v in clean(asdict(r)).items() if k not in drop} for r in rows], indent=2)
        + "\n"
    )


def wide_console(file: Any = None) -> Any:
    """A rich console at least 200 columns wide when not a terminal: tables in logs and files
    keep one line per configuration."""
    from rich.console import Console

    console = Console(file=file)
    return console if console.is_terminal else Console(file=file, width=max(200, console.width))


def to_table(rows: list[Row], title: str) -> Any:
    from rich.table import Table

    common, varying = split_common(rows)
    caption = f"all configurations share: {' '.join(common)}" if common else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    header = columns(rows)
    widest = max((len(config) for config in varying), default=6)
    for column in header:
        if column == "config":  # folded only past 40 characters: overrides stay readable
            table.add_column(column, overflow="fold", min_width=min(30, widest))
        else:
            table.add_column(column, justify="right", overflow="fold")
    for row, config in zip(rows, varying, strict=True):
        style = "red" if row.n == 0 and row.failed else ("yellow" if row.failed or row.unfinished else None)
        table.add_row(config, *_cells(row, header)[1:], style=style)
    return table


def title(jobs: list[Job], rows: list[Row]) -> str:
    """ "4 jobs, 1 configuration, 1 failed"."""
    failed = sum(r.failed for r in rows)
    unfinished = sum(r.unfinished for r in rows)
    text = f"{plural(len(jobs), 'job')}, {plural(len(rows), 'configuration')}"
    return (
        text + (f", {failed} failed" if failed else "") + (f", {unfinished} unfinished" if unfinished else "")
    )


FORMATS = {"markdown": to_markdown, "csv": to_csv, "json": to_json}
