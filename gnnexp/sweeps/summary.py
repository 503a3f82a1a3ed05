"""Sweep summaries: every job's outcome, grouped by configuration, as mean ± std.

A job is a directory with Hydra's ``.hydra/`` folder. Its outcome is ``results.json``
(completed, or failed if training diverged), else ``failed.json`` (failed or interrupted),
else nothing yet (unfinished: still running, or killed). Jobs are grouped by their
overrides without the seed, so the seeds of one configuration become one row. How the
rows are shown (table, markdown, CSV, JSON) lives in ``gnnexp.sweeps.tables``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gnnexp.config.validate import METRIC_MODES
from gnnexp.util.atomic import read_json_object

# Overrides that do not make a configuration different.
IGNORED = ("seed", "hydra.", "trainer.resume", "trainer.log_every", "trial.")


@dataclass
class Job:
    path: Path
    status: str  # completed, pruned (a search's pruner stopped it), failed, interrupted or unfinished
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
    nonfinite: list[str] = field(default_factory=list)  # results.json's NaN/inf values, shown as missing


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
    pruned: int = 0
    errors: list[str] = field(default_factory=list)  # jobs that failed or did not finish
    not_learned: int = 0
    warnings: list[str] = field(default_factory=list)  # completed jobs that learned nothing
    # Every test metric (name -> [mean, std]), epochs run and training time (means), parameters.
    tests: dict[str, list[float]] = field(default_factory=dict)
    epochs: float | None = None
    time_s: float | None = None
    params: int | None = None
    seeds: list[dict[str, Any]] = field(default_factory=list)  # per job: seed, val, test


def _number(split: Any, metric: Any) -> float | None:
    value = split.get(metric) if isinstance(split, dict) and isinstance(metric, str) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _finite(value: float | None, name: str, found: list[str]) -> float | None:
    """``value``, or None (missing) when it is NaN or infinite; ``found`` names those."""
    if value is None or math.isfinite(value):
        return value
    found.append(f"{name}={value}")
    return None


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
    results = read_json_object(path / "results.json")
    if results is not None:
        metric = results.get("metric") if isinstance(results.get("metric"), str) else None
        status = results.get("status")
        if status not in ("completed", "pruned"):
            return Job(
                path,
                "failed",
                _list(results.get("overrides"), overrides),
                None,
                error=str(results.get("error")),
            )
        val, test = _number(results.get("val"), metric), _number(results.get("test"), metric)
        # The trials of a search are not tested (gnnexp.running.fit): their test values stay empty.
        if val is None or (test is None and "trial" not in results):
            return Job(path, "failed", overrides, None, error="results.json is damaged (no val/test metric)")
        # NaN, Infinity or 1e400 (json reads them all): shown as missing, never averaged.
        nonfinite: list[str] = []
        if _finite(val, f"val.{metric}", nonfinite) is None:
            return Job(
                path,
                "failed",
                overrides,
                None,
                error=f"results.json: val.{metric}={val}",
                nonfinite=nonfinite,
            )
        test = _finite(test, f"test.{metric}", nonfinite)
        tested: dict[str, Any] = results["test"] if isinstance(results.get("test"), dict) else {}
        tests = {
            str(k): v
            for k in tested
            if k != "loss" and (v := _finite(_number(tested, k), f"test.{k}", [])) is not None
        }
        folds = results.get("folds")
        runs = [f for f in folds if isinstance(f, dict)] if isinstance(folds, list) else [results]
        epochs = [
            e for f in runs if (e := _finite(_number(f, "epochs_run"), "epochs_run", nonfinite)) is not None
        ]
        params = _finite(_number(results, "num_params"), "num_params", nonfinite)
        seed = _finite(_number(results, "seed"), "seed", nonfinite)
        return Job(
            path,
            str(status),
            _list(results.get("overrides"), overrides),
            metric,
            val,
            test,
            learned=results.get("learned", True) is not False,
            tests=tests,
            epochs=statistics.fmean(epochs) if epochs else None,
            time_s=_finite(_number(results, "train_time_s"), "train_time_s", nonfinite),
            params=None if params is None else int(params),
            seed=None if seed is None else int(seed),
            nonfinite=nonfinite,
        )
    failure = read_json_object(path / "failed.json")
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
        if job.status == "completed" and job.val is not None:
            val.append(job.val)
            if job.test is not None:
                test.append(job.test)
            done.setdefault(key, []).append(job)
            if not job.learned:
                row.not_learned += 1
                row.warnings.append(f"{job.path.name}: completed, but learned nothing (see its results.json)")
        elif job.status == "unfinished":
            row.unfinished += 1
        elif job.status == "pruned":  # finished on purpose: neither failed nor in the means
            row.pruned += 1
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
