"""One training run, top to bottom: config -> experiment -> fit (or folds) -> results.json.

This module knows nothing of Hydra: it takes a composed config and an output directory, so
the same code serves the CLI, sweeps and tests. With ``trainer.folds=k`` the fit runs once
per fold (``gnnexp.running.crossval``), each fold in its own sub-directory, and results.json reports
mean and std. Launching DDP processes belongs to the command (``gnnexp.commands.ddp``).
"""

from __future__ import annotations

import errno
import io
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from gnnexp import __version__
from gnnexp.config.validate import monitor_mode
from gnnexp.data.loading import load_dataset
from gnnexp.errors import GnnexpError, OutputError
from gnnexp.paths import resolve_data_dir
from gnnexp.reporting.console import PipeSafeConsole, key_value_panel
from gnnexp.reporting.files import FAILURE_FILE, RESULTS_FILE
from gnnexp.running.crossval import cross_validate
from gnnexp.running.experiment import Checked, Experiment, build_experiment
from gnnexp.running.fit import Diverged, fit_and_test
from gnnexp.training.checkpoint import load_checkpoint
from gnnexp.training.distributed import SINGLE, Dist, join_torchrun, local_device, under_torchrun
from gnnexp.training.learning import not_learning
from gnnexp.training.recorder import BEST
from gnnexp.training.threads import Threads, decide, use
from gnnexp.util.atomic import write_json
from gnnexp.util.device import resolve_device
from gnnexp.util.seeding import set_deterministic


def check_writable(out_dir: Path) -> None:
    """Fail before any training when ``out_dir`` cannot take files."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{time.time_ns()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise OutputError(
            f"Cannot write to the output directory {out_dir} ({err.strerror or err}).",
            "choose a writable place with hydra.run.dir=... (or hydra.sweep.dir=... for -m).",
        ) from err


def _output_error(err: OSError, out_dir: Path) -> OutputError:
    full = err.errno in (errno.ENOSPC, errno.EDQUOT)
    return OutputError(
        f"{'The disk is full' if full else 'Writing failed'} while writing "
        f"{err.filename if err.filename else f'into {out_dir}'} "
        f"({err.strerror or err}); results.json was not written.",
        "free some space or set hydra.run.dir to another disk; checkpoints/ keeps the last good files.",
    )


def train(
    cfg: Checked,
    out_dir: Path,
    meta: dict[str, Any] | None = None,
    console: Console | None = None,
    dist: Dist | None = None,
    jobs_at_once: int = 1,
    started: float | None = None,
) -> float:
    """Train as ``cfg`` says, writing everything into ``out_dir``.

    Returns the best monitored validation value (its mean over folds), which is what a
    Hydra sweeper optimises. ``meta`` (config choices, overrides) goes into results.json.
    Under DDP, ``dist`` says which rank this process is (or torchrun's environment does),
    and only rank 0 writes into ``out_dir``. ``jobs_at_once`` is how many jobs the launcher
    runs in parallel on this machine (each takes its share of the cores,
    ``gnnexp.training.threads``). ``started`` (a ``time.time()``) is when the run began for
    results.json's ``wall_time_s``: the ``gnnexp`` command passes its process's start, so the
    start-up (importing torch, composing the config) counts; by default, this call.
    """
    called = time.time()
    started = called if started is None else min(started, called)
    meta = meta or {}
    set_deterministic(bool(cfg.trainer.deterministic), compiled=bool(cfg.trainer.compile))
    device = resolve_device(cfg.device.type)
    if cfg.trainer.strategy == "ddp" and dist is None:
        if not under_torchrun():
            raise GnnexpError(
                "trainer.strategy=ddp needs its processes: gnnexp train launches them.",
                "run it through gnnexp train (or torchrun).",
            )
        dist = join_torchrun(device)
    dist = dist or SINGLE
    device = local_device(device, dist)
    threads = decide(
        str(cfg.trainer.num_threads),
        jobs_at_once * (dist.world_size if dist.active else 1),
        int(cfg.loader.get("num_workers") or 0),
    )
    use(threads)
    timing = (started, called - started)
    with tempfile.TemporaryDirectory(prefix="gnnexp-rank-") as scratch:
        if not dist.is_main:  # the other ranks train alike but keep their files to themselves
            out_dir, console = Path(scratch), Console(file=io.StringIO())
        console = console or PipeSafeConsole()
        resume = load_checkpoint(Path(cfg.trainer.resume)) if cfg.trainer.resume else None
        check_writable(out_dir)
        data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir), cfg.get("transform"))
        # DDP starts every rank from rank 0's weights (the seed differs only for sampling).
        first = build_experiment(
            cfg, 0 if cfg.trainer.folds else None, dist, device, data, seed=cfg.seed + dist.rank
        )
        with _failures_recorded(out_dir, first.task.metric, meta):
            return _train_and_report(out_dir, meta, console, timing, first, resume, dist, threads)


@contextmanager
def _failures_recorded(out_dir: Path, metric: str, meta: dict[str, Any]) -> Iterator[None]:
    """A diverged run records its failure in results.json; a failed write becomes one line."""
    try:
        yield
    except Diverged as err:
        failure = {"status": "failed", "error": str(err), "failed_epoch": err.epoch, "metric": metric, **meta}
        write_json(out_dir / RESULTS_FILE, failure)
        raise
    except OSError as err:
        raise _output_error(err, out_dir) from err


def _train_and_report(
    out_dir: Path,
    meta: dict[str, Any],
    console: Console,
    timing: tuple[float, float],
    first: Experiment,
    resume: dict[str, Any] | None,
    dist: Dist,
    threads: Threads,
) -> float:
    """Train (once, or once per fold) and write results.json and the summary panel.

    ``timing``: when the run started (``time.time()``) and how much of it was start-up.
    """
    cfg = first.cfg
    folds = cfg.trainer.folds
    metric = first.task.metric
    if folds:
        val, test, best_value, summary = cross_validate(first, out_dir, console, dist, meta, threads)
        best_epoch = None
    else:
        result = fit_and_test(first, out_dir, console, resume=resume, dist=dist, meta=meta, threads=threads)
        val, test, best_value = result.val, result.test, result.best_value
        summary = {k: v for k, v in result.record().items() if k not in ("val", "test", "best_value")}
        best_epoch = result.best_epoch

    pruned = summary.get("pruned_epoch") is not None
    results = {
        "status": "pruned" if pruned else "completed",
        "task": cfg.task.kind,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "metric": metric,
        "monitor": cfg.trainer.monitor,
        "mode": monitor_mode(cfg),
        "best_value": best_value,
        "val": val,
        "test": test,
        **summary,
        "seed": cfg.seed,
        # From the start of the gnnexp process (a sweep's job: of the job) to this file.
        "wall_time_s": time.time() - timing[0],
        "startup_s": timing[1],  # the part of it before training code ran: imports, config
        "threads": threads.record(),
        "checkpoint": None if folds or not cfg.trainer.checkpoint.save_best else str(BEST),
        **({"trial": cfg.trial.number} if cfg.trial.study is not None else {}),
        "gnnexp_version": __version__,
        **meta,
    }
    learned = [summary["learned"]] if "learned" in summary else [f["learned"] for f in summary["folds"]]
    results["learned"] = all(learned)
    warning = None if results["learned"] else not_learning(cfg.optimizer.get("name"))
    results["warning"] = warning
    write_json(out_dir / RESULTS_FILE, results)
    (out_dir / FAILURE_FILE).unlink(missing_ok=True)  # left by an interruption this run resumed
    rows = {
        "best epoch": f"{best_epoch} of {summary['epochs_run']}"
        + (" (stopped early)" if summary["stopped_early"] else "")
        + (" (pruned)" if pruned else "")
        if best_epoch is not None
        else f"{summary['selected_epoch']} for every fold (best mean held-out {metric})"
        if "selected_epoch" in summary
        else f"per fold: {', '.join(str(f['best_epoch']) for f in summary['folds'])}",
        f"val {metric}": f"{val[metric]:.4f}" + (f" ± {summary['val_std'][metric]:.4f}" if folds else ""),
    }
    if metric in test:  # a trial of a search is tested only if it turns out best
        rows[f"test {metric}"] = f"{test[metric]:.4f}" + (
            f" ± {summary['test_std'][metric]:.4f}" if folds else ""
        )
    if results["checkpoint"]:
        rows["checkpoint"] = str(out_dir / BEST)
    rows["results"] = str(out_dir / RESULTS_FILE)
    rows["wall time"] = (
        f"{results['wall_time_s']:.2f} s (start-up {timing[1]:.2f} s, training {summary['train_time_s']:.2f} s)"
    )
    if warning:
        rows["warning"] = warning
    console.print(key_value_panel("result", rows, style="green" if results["learned"] else "yellow"))
    return float(best_value)


# trainer.strategy=ddp outside torchrun: the CLI spawns the processes, each of which trains.
# (Here rather than in gnnexp.training.distributed, which sits below this module.)
