"""How many torch threads a job may use: its share of the cores, never more.

torch starts as many OpenMP threads as the machine has cores, and they spin while they
wait. Two jobs that each take every core slow each other down tens to hundreds of times
(README: Parallel jobs). The rule for ``trainer.num_threads=auto``:

    threads = max(1, usable cores // jobs at once on this machine - sampling workers)

* usable cores: the fewest of the CPU affinity mask, a cgroup CPU quota (containers) and
  ``SLURM_CPUS_PER_TASK``;
* jobs at once: what the launcher runs in parallel here (joblib's ``n_jobs``, every job of a
  ``submitit_local`` batch, the Optuna sweeper's ``n_workers``), and, measured while the run goes,
  how many gnnexp jobs of this user are running on the machine (two runs started from two
  terminals see each other). The share is re-read four times a second, so a job that
  started alone gives a core back when a second one starts, and takes it again when the
  other ends;
* sampling workers (``loader.num_workers``) are processes of this job and count against it.

An explicit ``trainer.num_threads`` wins, and so does ``OMP_NUM_THREADS`` set by the user.
Torch-free at import: ``gnnexp.hydra_callbacks`` asks :func:`launcher_parallelism` in the
launching process.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gnnexp.training.callbacks import Callback

if TYPE_CHECKING:
    from gnnexp.records import EpochRecord
    from gnnexp.training.state import TrainState

CGROUP = Path("/sys/fs/cgroup")
# The OMP_NUM_THREADS the user gave the command ("" for none), kept by the CLI for the jobs it
# starts: joblib sets OMP_NUM_THREADS in its workers, which must not count as the user's.
USER_OMP = "GNNEXP_USER_OMP_NUM_THREADS"
RECHECK_S = 0.25  # how often a running job looks for other jobs on the machine (~50 µs a look)


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
    as many as there are cores (each job then starts with one thread and widens its share once
    it sees how many others really run); cluster launchers (Slurm, Ray) place jobs on their
    own allocations: 1. gnnexp's Optuna sweeper runs ``n_workers`` trials at once, one job per
    launch, through any local launcher (with the basic one, in forked worker processes).
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


def _started(pid: int) -> str:
    """When process ``pid`` started (Linux: field 22 of /proc/<pid>/stat), "" where unknown:
    tells a live job from a later process that reuses its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


class JobsOnMachine:
    """The gnnexp jobs this user runs on this machine: one file per live process.

    A file ``<pid>`` (holding the process's start time) in a private temp directory (mode
    0700) while a job trains; files of processes that no longer exist, or whose pid now
    belongs to another process, are removed by whoever counts next.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.gettempdir()) / f"gnnexp-{os.getuid()}" / "jobs"
        self.mine: Path | None = None

    def join(self) -> None:
        """Count this process from now on (again: harmless)."""
        with contextlib.suppress(OSError):  # no registry: each job counts only itself
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            mine = self.root / str(os.getpid())
            mine.write_text(_started(os.getpid()))
            self.mine = mine

    def leave(self) -> None:
        if self.mine is not None:
            self.mine.unlink(missing_ok=True)
            self.mine = None

    def count(self) -> int:
        alive = 1 if self.mine is None else 0
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return 1
        for entry in entries:
            if not entry.name.isdigit():
                continue
            if self._alive(entry):
                alive += 1
            else:
                entry.unlink(missing_ok=True)
        return max(1, alive)

    @staticmethod
    def _alive(entry: Path) -> bool:
        pid = int(entry.name)
        try:
            os.kill(pid, 0)
        except OSError:  # gone, or another user's process: not one of this user's jobs
            return False
        try:
            recorded = entry.read_text().strip()
        except OSError:
            return False
        started = _started(pid)
        # Empty: written where start times are unknown (not Linux), or a stale older file.
        return recorded == started if recorded else not started


@dataclass
class ThreadShare(Callback):
    """Sets this job's torch threads before any work, and keeps them to its share while it runs.

    ``setting`` is ``trainer.num_threads`` ("auto" or a number); ``jobs_at_once`` is what the
    launcher runs in parallel here; ``workers`` the sampler's processes.
    """

    setting: str = "auto"
    jobs_at_once: int = 1
    workers: int = 0
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    machine: JobsOnMachine = field(default_factory=JobsOnMachine)
    cores: int = 0
    rule: str = ""
    threads: int = 0
    initial: int = 0
    changes: list[tuple[int, int]] = field(default_factory=list)  # (epoch, threads) after the start
    _checked: float = 0.0

    @property
    def user_omp(self) -> str:
        return self.env.get(USER_OMP, self.env.get("OMP_NUM_THREADS", ""))

    @property
    def fixed(self) -> bool:
        """Not ``auto``, or ``OMP_NUM_THREADS`` set by the user: no share to follow."""
        return self.setting != "auto" or self.user_omp.isdigit()

    def __enter__(self) -> ThreadShare:
        import torch

        self.cores, source = usable_cores(self.env)
        if self.setting != "auto":
            self.threads, self.rule = int(self.setting), "trainer.num_threads"
        elif self.user_omp.isdigit():
            self.threads, self.rule = max(1, int(self.user_omp)), "OMP_NUM_THREADS"
        else:
            self.machine.join()
            jobs = max(self.jobs_at_once, self.machine.count())
            self.threads = share(self.cores, jobs, self.workers)
            self.rule = self._auto_rule(source, jobs)
        self.initial = self.threads
        torch.set_num_threads(self.threads)
        with contextlib.suppress(RuntimeError):  # settable once per process (a reused worker)
            torch.set_num_interop_threads(self.threads)
        self._checked = time.monotonic()
        return self

    def _auto_rule(self, source: str, jobs: int) -> str:
        text = f"auto: {self.cores} cores ({source}) / {jobs} job{'s' if jobs > 1 else ''} at once"
        return text + (f" - {self.workers} sampling workers" if self.workers else "")

    def __exit__(self, *exc: object) -> None:
        self.machine.leave()

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if time.monotonic() - self._checked >= RECHECK_S:
            self._follow(record.epoch)

    def _follow(self, epoch: int) -> None:
        """Take the share that the jobs running now leave to this one (when the registry
        works: without it only the launcher's count is known, and it stays)."""
        if self.fixed or self.machine.mine is None:
            return
        self._checked = time.monotonic()
        threads = share(self.cores, self.machine.count(), self.workers)
        if threads != self.threads:
            import torch

            torch.set_num_threads(threads)
            self.threads = threads
            self.changes.append((epoch, threads))

    def describe(self) -> str:
        return f"{self.threads} ({self.rule})"

    def record(self) -> dict[str, Any]:
        """What results.json says about threads: the count at the start, the rule, any change."""
        return {
            "count": self.initial,
            "rule": self.rule,
            "changes": [{"epoch": e, "threads": t} for e, t in self.changes],
        }
