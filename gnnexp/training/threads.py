"""How many torch threads a run uses: decided once, when it starts, from what is known then.

torch starts one OpenMP thread per core, and by default a waiting OpenMP thread spins. Two
runs that each took both cores of a 2-core machine then trained 36x slower (GCN on Cora,
200 epochs: 27.4 s each instead of 0.76 s alone; ``benchmarks/two_runs.py``, load 0.3).
Two things keep runs that share a machine from fighting:

* ``OMP_WAIT_POLICY=PASSIVE``, set by the ``gnnexp`` command before torch is imported
  (unless you set it): a waiting thread sleeps. The same two runs at two threads each then
  trained in 1.02x the time of one alone (0.93 s against 0.91 s).
* ``trainer.num_threads=auto`` (the default), decided here once, before any work:

      threads = max(1, usable cores // jobs at once - sampling workers)

  - usable cores: the fewest of the CPU affinity mask, a cgroup CPU quota (containers) and
    ``SLURM_CPUS_PER_TASK``;
  - jobs at once: what the launcher runs in parallel on this machine (joblib's ``n_jobs``,
    every job of a ``submitit_local`` batch, the Optuna sweeper's ``n_workers``; DDP ranks);
  - sampling workers (``loader.num_workers``) are processes of this job and count against it.

Small full-batch graphs keep the second thread: a run alone on Cora trained 1.2x (GCN) to
1.6x (GraphSAGE) faster with it (docs/speed.md's table), and with sleeping waiters two GCN runs
at once trained in 0.93 s at two threads each against 0.88 s at one. Runs started from two terminals do not know of each other; nothing is
re-decided while a run trains.

An explicit ``trainer.num_threads`` wins, then ``OMP_NUM_THREADS`` (set by you, or by a
launcher for its workers: joblib and torchrun set it to their workers' share).

Torch-free at import: ``gnnexp.sweeps.view`` asks :func:`launcher_parallelism` in the
launching process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CGROUP = Path("/sys/fs/cgroup")


def _cgroup_quota(root: Path) -> float | None:
    """CPUs a cgroup quota allows (v2 ``cpu.max``, else v1 ``cfs_quota_us/period``); None: no quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def usable_cores(
    env: Mapping[str, str] | None = None,
    affinity: Callable[[], set[int]] | None = None,
    cgroup: Path = CGROUP,
) -> tuple[int, str]:
    """How many cores this process may use, and which limit said so."""
    env = os.environ if env is None else env
    limits: dict[str, float] = {}
    if affinity is not None:
        limits["CPU affinity"] = len(affinity())
    elif hasattr(os, "sched_getaffinity"):
        limits["CPU affinity"] = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        limits["cores"] = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup)
    if quota is not None:
        limits["cgroup CPU quota"] = quota
    slurm = env.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        limits["SLURM_CPUS_PER_TASK"] = int(slurm)
    source = min(limits, key=lambda k: limits[k])
    return max(1, int(limits[source])), source


def _joblib_jobs(n_jobs: Any, cores: int) -> int:
    """joblib's reading of ``n_jobs``: -1 all usable cores, -2 all but one, ..."""
    try:
        n = int(n_jobs)
    except (TypeError, ValueError):  # None, or a value we cannot read: assume all cores
        return cores
    return max(1, n if n > 0 else cores + 1 + n)


def launcher_parallelism(
    launcher: Mapping[str, Any] | None, sweeper: Mapping[str, Any] | None, cores: int
) -> int:
    """How many jobs the configured launcher (and sweeper batch) runs at once on this machine.

    joblib: ``n_jobs``; ``submitit_local`` starts every job of a batch together, so it counts
    as many as there are cores; cluster launchers (Slurm, Ray) place jobs on their own
    allocations: 1. gnnexp's Optuna sweeper runs ``n_workers`` trials at once through any
    local launcher.
    """
    target = str((launcher or {}).get("_target_", ""))
    workers = (sweeper or {}).get("n_workers")
    if isinstance(workers, int) and workers > 0:
        local = not any(name in target for name in ("Slurm", "Ray"))
        return max(1, workers) if local else 1
    if "Joblib" in target:
        at_once = _joblib_jobs((launcher or {}).get("n_jobs"), cores)
    elif "LocalSubmititLauncher" in target:
        at_once = cores
    else:  # the basic launcher runs one job after another; cluster launchers elsewhere
        at_once = 1
    batch = (sweeper or {}).get("max_batch_size")  # Hydra's basic sweeper
    if isinstance(batch, int) and batch > 0:
        at_once = min(at_once, batch)
    return max(1, at_once)


def share(cores: int, jobs: int, workers: int = 0) -> int:
    """Threads for one of ``jobs`` jobs on ``cores`` cores whose sampler uses ``workers`` processes."""
    return max(1, cores // max(1, jobs) - workers)


@dataclass(frozen=True)
class Threads:
    """The decision: how many threads, and the rule that gave that number."""

    count: int
    rule: str

    def describe(self) -> str:
        return f"{self.count} ({self.rule})"

    def record(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """What results.json says about threads (and whether waiting ones spin)."""
        wait_policy = (os.environ if env is None else env).get("OMP_WAIT_POLICY")
        return {"count": self.count, "rule": self.rule, "wait_policy": wait_policy}


def decide(
    setting: str,
    jobs_at_once: int = 1,
    workers: int = 0,
    env: Mapping[str, str] | None = None,
    cores: tuple[int, str] | None = None,
) -> Threads:
    """The threads of a run whose ``trainer.num_threads`` is ``setting`` ("auto" or a number),
    of which the launcher runs ``jobs_at_once`` here, sampling with ``workers`` processes;
    ``env`` and ``cores`` (:func:`usable_cores`) default to this process's."""
    env = os.environ if env is None else env
    if setting != "auto":
        return Threads(int(setting), "trainer.num_threads")
    omp = env.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        return Threads(int(omp), "OMP_NUM_THREADS")
    count, source = cores or usable_cores(env)
    jobs = max(1, jobs_at_once)
    rule = f"auto: {count} cores ({source}) / {jobs} job{'s' if jobs > 1 else ''} at once"
    return Threads(share(count, jobs, workers), rule + (f" - {workers} sampling workers" if workers else ""))


def use(threads: Threads) -> None:
    """Give torch the decided count (before any work)."""
    import torch

    torch.set_num_threads(threads.count)
    with contextlib.suppress(RuntimeError):  # settable once per process (a reused worker)
        torch.set_num_interop_threads(threads.count)
