"""A worker of a search: it asks the shared study for a trial, runs it, tells the result, and asks again.

Several workers share one study through its storage, each in its own process: the
processes a search with ``n_workers`` starts, or the same command started several times
(on a cluster: an RDB storage and one sweep directory on a shared file system). Each
worker takes the next trial as soon as its last one ends, so a pruned trial frees its
place at once. Asking is serialised by a lock file in the sweep directory, and a worker
asks only while fewer than ``n_trials`` trials are finished or running, so no two workers
run the same trial and together they run exactly ``n_trials``.

A trial whose worker died (killed, or the machine lost) stops sending heartbeats; the
next ask on the same storage marks it failed and interrupted, and does not count it, so
its place is run again; a worker on the same machine whose process has ended is known dead
at once. A Ctrl-C or SIGTERM marks the worker's running trial the same way at once.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gnnexp.errors import GnnexpError
from gnnexp.search.space import SearchSpace
from gnnexp.search.studies import GRACE_S, HEARTBEAT_S

HEARTBEAT = "gnnexp:heartbeat"  # system attribute: when the sweeper last saw the trial alive
WORKER = "gnnexp:worker"  # system attribute: [host, process id] of the worker running the trial
INTERRUPTED = "gnnexp:interrupted"  # system attribute: the trial failed because its sweep stopped
DIR = "dir"  # user attribute: the trial's run directory


@dataclass
class TrialRun:
    """What running one trial's job gave back."""

    status: str  # completed, pruned, failed or interrupted (results.json's word)
    out_dir: Path | None
    values: list[float] | None  # the objective values of a completed trial


# A worker's way of running one trial: its overrides and number -> what the job gave back.
Launch = Callable[[list[str], int], TrialRun]


def counted(trial: Any) -> bool:
    """Whether a finished trial counts towards ``n_trials`` (an interrupted one is re-run)."""
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and not trial.system_attrs.get(INTERRUPTED)


def trial_id(storage: Any, study_name: str, number: int) -> int:
    """The storage's id of trial ``number`` (what the storage's own methods take)."""
    return int(
        storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)
    )


def fail_stale(study: Any, storage: Any, grace_s: float = GRACE_S) -> list[int]:
    """Mark failed (and interrupted) the running trials whose sweep stopped sending heartbeats."""
    from optuna.trial import TrialState

    stale = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        seen = trial.system_attrs.get(HEARTBEAT)
        alive = isinstance(seen, (int, float)) and now - seen < grace_s
        if alive and not _died_here(trial.system_attrs.get(WORKER)):
            continue  # another sweep on the same storage is running it
        _mark_interrupted(storage, trial_id(storage, study.study_name, trial.number))
        stale.append(trial.number)
    return stale


def _died_here(worker: Any) -> bool:
    """Whether the worker ``[host, pid]`` ran on this machine and its process has ended: its
    trial is known dead at once, without waiting out the heartbeats (a reused pid only delays it)."""
    if not (isinstance(worker, list) and len(worker) == 2 and worker[0] == socket.gethostname()):
        return False
    pid = worker[1]
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process of that number
        return False
    return False


def _mark_interrupted(storage: Any, stored_id: int) -> None:
    from optuna.trial import TrialState

    storage.set_trial_system_attr(stored_id, INTERRUPTED, True)
    storage.set_trial_state_values(stored_id, TrialState.FAIL)


@dataclass
class Worker:
    """One worker running trials of ``study`` until ``n_trials`` are finished or running."""

    study: Any
    storage: Any  # the study's storage (its methods are Optuna's public storage API)
    space: SearchSpace
    launch: Launch
    n_trials: int
    lock: Path  # the file every worker of the study locks while it asks
    report: Callable[[str], None] = print
    extra: Callable[[int], list[str]] = lambda number: []  # overrides that tell a job its trial
    max_failure_rate: float = 1.0
    _running: int | None = None  # the storage's id of the trial this worker runs
    _stop: bool = False
    _failed: int = 0
    _finished: int = 0
    _beat: threading.Lock = field(default_factory=threading.Lock)

    def fail_stale(self) -> list[int]:
        """Mark failed (and interrupted) the trials of dead workers (:func:`fail_stale`), under the lock."""
        from filelock import FileLock

        with FileLock(str(self.lock)):
            return fail_stale(self.study, self.storage)

    def missing(self) -> int:
        """Trials still to start: ``n_trials`` less those finished (and counted) or running."""
        from optuna.trial import TrialState

        trials = self.study.get_trials(deepcopy=False)
        taken = sum(counted(t) or t.state == TrialState.RUNNING for t in trials)
        return max(0, self.n_trials - taken)

    def run(self) -> int:
        """Run trials while some are missing; returns how many this worker ran. Re-raises a
        Ctrl-C (after marking its running trial interrupted) and the errors of a wrong search."""
        ran = 0
        beat = threading.Thread(target=self._heartbeats, daemon=True)
        beat.start()
        # Grid-like samplers call study.stop() once every point has run, which Optuna allows
        # only inside its own optimize loop (a per-thread flag); here it sets the flag _next reads.
        self.study._stop_flag = False
        self.study._thread_local.in_optimize_loop = True
        try:
            while (trial := self._next()) is not None:
                self._tell(trial, self._launch(trial))
                ran += 1
        finally:
            self._stop = True
            self.study._thread_local.in_optimize_loop = False
        return ran

    def _next(self) -> Any:
        from filelock import FileLock

        if self._stop or self.study._stop_flag:
            return None
        # A file lock (released by the system when its process dies) around looking and
        # asking: two workers that both saw one trial missing would run two.
        with FileLock(str(self.lock)):
            fail_stale(self.study, self.storage)  # a dead worker's trial is run again
            if self.missing() <= 0:
                return None
            try:
                trial = self.study.ask(self.space.distributions)
            except ValueError as err:  # e.g. a grid sampler given an interval
                raise GnnexpError(
                    f"The sampler cannot draw from this search space: {err}",
                    "give it choices or steps it can enumerate, or another sampler.",
                ) from None
            with self._beat:
                self._running = trial_id(self.storage, self.study.study_name, trial.number)
                self.storage.set_trial_system_attr(self._running, HEARTBEAT, time.time())
                self.storage.set_trial_system_attr(self._running, WORKER, [socket.gethostname(), os.getpid()])
            return trial

    def _launch(self, trial: Any) -> TrialRun:
        from optuna.trial import TrialState

        try:
            return self.launch([*self.space.overrides(trial.params), *self.extra(trial.number)], trial.number)
        except GnnexpError:  # the search itself is wrong (e.g. an objective no run records)
            self._release()
            self.study.tell(trial.number, state=TrialState.FAIL)
            raise
        except BaseException:
            running = self._release()
            if running is not None:
                _mark_interrupted(self.storage, running)
            raise

    def _release(self) -> int | None:
        with self._beat:
            running, self._running = self._running, None
        return running

    def _tell(self, trial: Any, run: TrialRun) -> None:
        from optuna.trial import TrialState

        running = self._release()
        if running is None or self.storage.get_trial(running).state.is_finished():
            # A stop marked it interrupted meanwhile, or another worker took it for dead.
            self.report(self._line(trial.number, TrialRun("interrupted", run.out_dir, None)))
            return
        if run.out_dir is not None:
            trial.set_user_attr(DIR, str(run.out_dir))
        values = run.values
        if run.status == "pruned":
            self.study.tell(trial.number, state=TrialState.PRUNED)
        elif run.status == "completed" and values and all(math.isfinite(v) for v in values):
            self.study.tell(trial.number, values if len(values) > 1 else values[0])
        else:
            if run.status == "interrupted":
                self.storage.set_trial_system_attr(running, INTERRUPTED, True)
                self._stop = True
            else:
                self._failed += 1
            self.study.tell(trial.number, state=TrialState.FAIL)
        self._finished += 1
        self.report(self._line(trial.number, run))
        if (
            run.status == "failed"
            and self._finished >= 4
            and self._failed / self._finished > self.max_failure_rate
        ):
            self._stop = True
            self.report(
                f"stopping: {self._failed} of {self._finished} trials failed "
                f"(more than max_failure_rate={self.max_failure_rate})"
            )

    def _line(self, number: int, run: TrialRun) -> str:
        where = f" ({run.out_dir})" if run.out_dir is not None else ""
        if run.status != "completed" or not run.values:
            return f"trial {number}: {run.status}{where}"
        values = ", ".join(f"{v:.4f}" for v in run.values)
        return f"trial {number}: {values}{where}"

    def _heartbeats(self) -> None:
        while not self._stop:
            with self._beat:
                if self._running is not None:
                    # Another worker may have marked this trial failed (it looked stale: a
                    # stopped terminal, clock skew): the thread must keep beating for the next.
                    with contextlib.suppress(Exception):
                        self.storage.set_trial_system_attr(self._running, HEARTBEAT, time.time())
            for _ in range(int(HEARTBEAT_S / 0.5)):
                if self._stop:
                    return
                time.sleep(0.5)
