"""Workers that share one study: each asks for a trial, runs it, tells the result, and asks again.

Hydra's launchers run jobs in batches, so with batches a pruned trial's slot would idle
until its whole batch ended. Here each of ``n_workers`` workers launches one trial at a
time, so a freed slot takes the next trial at once. Asking is serialised, so no two workers
run the same trial and together they run exactly the trials still missing.

A trial that was running when its sweep died (killed, or the machine lost) stops sending
heartbeats; the next sweep on the same storage marks it failed and interrupted, and does
not count it, so the missing trials are run again. A Ctrl-C marks the running trials the
same way at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gnnexp.errors import GnnexpError
from gnnexp.search.space import SearchSpace
from gnnexp.studies import GRACE_S, HEARTBEAT_S

HEARTBEAT = "gnnexp:heartbeat"  # system attribute: when the sweeper last saw the trial alive
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
        if isinstance(seen, (int, float)) and now - seen < grace_s:
            continue  # another sweep on the same storage is running it
        _mark_interrupted(storage, trial_id(storage, study.study_name, trial.number))
        stale.append(trial.number)
    return stale


def _mark_interrupted(storage: Any, stored_id: int) -> None:
    from optuna.trial import TrialState

    storage.set_trial_system_attr(stored_id, INTERRUPTED, True)
    storage.set_trial_state_values(stored_id, TrialState.FAIL)


@dataclass
class Workers:
    """``n_workers`` workers running the trials still missing from ``study``."""

    study: Any
    storage: Any  # the study's storage (its methods are Optuna's public storage API)
    space: SearchSpace
    launch: Launch
    n_trials: int
    n_workers: int = 1
    report: Callable[[str], None] = print
    extra: Callable[[int], list[str]] = lambda number: []  # overrides that tell a job its trial
    max_failure_rate: float = 1.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: dict[int, int] = field(default_factory=dict)  # trial number -> trial id
    _left: int = 0
    _stop: bool = False
    _failed: int = 0
    _finished: int = 0
    _errors: list[BaseException] = field(default_factory=list)

    def missing(self) -> int:
        return max(0, self.n_trials - sum(counted(t) for t in self.study.get_trials(deepcopy=False)))

    def run(self) -> int:
        """Run the missing trials; returns how many were missing at the start (fewer run when
        the failure rate stops the search). Re-raises a Ctrl-C (after marking the running
        trials interrupted) and the first error a worker met."""
        self._left = self.missing()
        ran = self._left
        beat = threading.Thread(target=self._heartbeats, daemon=True)
        beat.start()
        self.study._stop_flag = False
        try:
            if self.n_workers <= 1:
                self._worker()  # in this thread: a job run here gets the signals
            else:
                threads = [threading.Thread(target=self._guarded, daemon=True) for _ in range(self.n_workers)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    while thread.is_alive():
                        thread.join(0.2)
        except BaseException:
            self._stop = True
            self._interrupt_running()
            raise
        finally:
            self._stop = True
        if self._errors:
            raise self._errors[0]
        return ran

    def _guarded(self) -> None:
        try:
            self._worker()
        except BaseException as err:  # reported by run() in the main thread
            self._errors.append(err)
            self._stop = True

    def _next(self) -> Any:
        with self._lock:
            if self._stop or self._left <= 0 or self.study._stop_flag:
                return None
            self._left -= 1
            try:
                trial = self.study.ask(self.space.distributions)
            except ValueError as err:  # e.g. a grid sampler given an interval
                raise GnnexpError(
                    f"The sampler cannot draw from this search space: {err}",
                    "give it choices or steps it can enumerate, or another sampler.",
                ) from None
            number = trial.number
            self._running[number] = trial_id(self.storage, self.study.study_name, number)
            self.storage.set_trial_system_attr(self._running[number], HEARTBEAT, time.time())
            return trial

    def _worker(self) -> None:
        # Grid-like samplers call study.stop() once every point has run, which Optuna allows
        # only inside its own optimize loop (a per-thread flag); here it sets the flag _next reads.
        self.study._thread_local.in_optimize_loop = True
        try:
            self._trials()
        finally:
            self.study._thread_local.in_optimize_loop = False

    def _trials(self) -> None:
        while (trial := self._next()) is not None:
            try:
                run = self.launch(
                    [*self.space.overrides(trial.params), *self.extra(trial.number)], trial.number
                )
            except GnnexpError:  # the search itself is wrong (e.g. an objective no run records)
                from optuna.trial import TrialState

                with self._lock:
                    self._running.pop(trial.number, None)
                    self.study.tell(trial.number, state=TrialState.FAIL)
                raise
            except BaseException:
                self._interrupt(trial.number)
                raise
            self._tell(trial, run)

    def _tell(self, trial: Any, run: TrialRun) -> None:
        from optuna.trial import TrialState

        with self._lock:
            if self._running.pop(trial.number, None) is None:
                return  # the sweep was interrupted meanwhile, and marked the trial so
            if run.out_dir is not None:
                trial.set_user_attr(DIR, str(run.out_dir))
            values = run.values
            if run.status == "pruned":
                self.study.tell(trial.number, state=TrialState.PRUNED)
            elif run.status == "completed" and values and all(math.isfinite(v) for v in values):
                self.study.tell(trial.number, values if len(values) > 1 else values[0])
            else:
                if run.status == "interrupted":
                    self.storage.set_trial_system_attr(
                        trial_id(self.storage, self.study.study_name, trial.number), INTERRUPTED, True
                    )
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

    def _interrupt(self, number: int) -> None:
        with self._lock:
            running = self._running.pop(number, None)
            if running is not None:
                _mark_interrupted(self.storage, running)

    def _interrupt_running(self) -> None:
        # Under the lock: a trial being asked for meanwhile is in _running once it is released.
        with self._lock:
            for running in self._running.values():
                _mark_interrupted(self.storage, running)
            self._running.clear()

    def _heartbeats(self) -> None:
        while not self._stop:
            with self._lock:
                for running in self._running.values():
                    self.storage.set_trial_system_attr(running, HEARTBEAT, time.time())
            for _ in range(int(HEARTBEAT_S / 0.5)):
                if self._stop:
                    return
                time.sleep(0.5)
