"""gnnexp's Optuna sweeper: ``hydra/sweeper=gnnexp_optuna`` (the hparams_search presets use it).

It keeps the keys of Hydra's Optuna sweeper (``sampler``, ``direction``, ``study_name``,
``storage``, ``n_trials``, ``params`` in the same syntax) on current Optuna, and adds:

- ``pruner``: any ``optuna.pruners.*`` by ``_target_``. Each trial's run reports its
  monitored validation value every evaluated epoch and stops when pruned.
- ``n_workers``: trials at once. This command is the first worker and starts the others as
  ordinary processes of the same command on the same study storage, as Optuna runs a
  search in parallel (gnnexp.search.driver); each takes the next trial as soon as its last
  one ends (no batches) and launches it through the configured launcher. The same command
  started by hand (on a cluster, with an RDB ``storage``) is one more worker.
- resuming: the study lives in the sweep directory (or ``storage``); re-running with the
  same ``hydra.sweep.dir`` runs only the missing trials. A sweep directory holds one search:
  trial directories its study does not know, a study of another search (name, space,
  objectives, sweep directory) or one no gnnexp search made are refused before anything is
  written, and a torn last journal record is cut off (the file kept beside it).
- stopping: Ctrl-C or SIGTERM, to the first worker alone or to all, stops every worker after
  its epoch, and their trials are recorded interrupted (run again on resume).
- ``directions`` with ``objectives`` (results.json keys) for a multi-objective search.

Hydra imports every module of ``hydra_plugins`` at start-up, so this one imports Optuna and
the rest of gnnexp only when it sweeps.
"""

# No "from __future__ import annotations": Hydra loads this module without registering it,
# and dataclasses then cannot resolve string annotations.

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper

log = logging.getLogger(__name__)


@dataclass
class GnnexpOptunaConf:
    # _self_ first: the chosen pruner file fills the null below (conf/hydra/sweeper/pruner).
    defaults: Any = field(default_factory=lambda: ["_self_", {"pruner": "none"}])
    _target_: str = "hydra_plugins.gnnexp_sweepers.optuna_sweeper.GnnexpOptunaSweeper"
    # The sampler and pruner are built by the sweeper, which knows the search space (a grid
    # sampler's grid comes from params) and checks them first.
    _recursive_: bool = False
    # The sampler and pruner by _target_ (optuna.samplers.*, optuna.pruners.*) and arguments;
    # pruners also as a group: hydra/sweeper/pruner=median|percentile|successive_halving|
    # hyperband|threshold|none (null: Optuna's TPE sampler, no pruning).
    sampler: Any = None
    pruner: Any = None
    direction: str = "maximize"
    # Several objectives: directions [maximize, minimize] over results.json keys, e.g.
    # objectives [best_value, num_params]. One objective: direction, best_value.
    directions: Any = None
    objectives: Any = field(default_factory=lambda: ["best_value"])
    study_name: str = "gnnexp"
    storage: Any = None  # null: <sweep dir>/optuna.journal; or an RDB URL (postgresql://...)
    n_trials: int = 20
    # Trials at once: this command and n_workers - 1 more processes of it, on one study.
    n_workers: int = 1
    max_failure_rate: float = 0.5
    params: Any = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/sweeper", name="gnnexp_optuna", node=GnnexpOptunaConf, provider="gnnexp"
)


class GnnexpOptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        settings.pop("_target_", None)
        settings.pop("defaults", None)
        settings.pop("_recursive_", None)
        self.settings = settings
        self.config: Any = None
        self.hydra_context: Any = None
        self.task_function: Any = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        from hydra.core.plugins import Plugins

        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def sweep(self, arguments: list[str]) -> Any:
        from gnnexp.errors import GnnexpError, report

        try:
            with _stop_signals():
                return self._sweep(arguments)
        except GnnexpError as err:
            report(err)
            sys.exit(err.exit_code)

    def _sweep(self, arguments: list[str]) -> Any:
        from omegaconf import OmegaConf, open_dict, read_write

        from gnnexp.config.hydra_private import BASIC_LAUNCHER_LOGGER, runs_in_process
        from gnnexp.errors import GnnexpError
        from gnnexp.running.resume import override
        from gnnexp.search.driver import INTERRUPTED, Worker
        from gnnexp.search.figures import draw_figures
        from gnnexp.search.outcome import headline, read_study, study_record, write_outcome
        from gnnexp.search.space import parse_space
        from gnnexp.search.studies import (
            JOURNAL_FILE,
            LOCK_FILE,
            PRUNER_ATTR,
            build_pruner,
            open_storage,
            optuna_module,
            repair_journal,
        )

        # Before the sweep dir is resolved (which may create one) and before anything is written.
        _refuse_resume(self.config)
        optuna = optuna_module()
        # Hydra instantiates the sampler and pruner with the sweeper (recursively): objects here.
        s = SimpleNamespace(
            **{
                k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v
                for k, v in self.settings.items()
            }
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        # Resolved once, here: a launcher's worker process that resolved the interpolation
        # again would create (and leave empty) a directory of its own.
        with open_dict(self.config), read_write(self.config):
            self.config.hydra.sweep.dir = str(sweep_dir)
        space = parse_space(dict(s.params or {}), arguments)
        directions = [str(d) for d in s.directions] if s.directions else [str(s.direction)]
        objectives = [str(o) for o in s.objectives]
        _check_settings(s, directions, objectives)
        if objectives[0] == "best_value":
            from gnnexp.config.validate import monitor_mode

            improves = "maximize" if monitor_mode(self.config) == "max" else "minimize"
            if directions[0] != improves:
                raise GnnexpError(
                    f"direction={directions[0]}, but the objective best_value "
                    f"(trainer.monitor={self.config.trainer.monitor}) is better when it "
                    f"{'rises' if improves == 'maximize' else 'falls'}: the search would pick the worst trial.",
                    f"use hydra.sweeper.direction={improves} (the presets derive it from trainer.monitor).",
                )
        try:
            earlier = read_study(sweep_dir)
        except GnnexpError:  # damaged: this search writes it again
            earlier = None
        if earlier is not None and earlier.get("study") != str(s.study_name):
            raise GnnexpError(
                f"{sweep_dir} holds the search {earlier.get('study')!r}; a second study there would "
                "replace its trial directories.",
                "give the new search its own hydra.sweep.dir.",
            )
        storage_spec = str(s.storage) if s.storage else str(sweep_dir / JOURNAL_FILE)
        if "://" not in storage_spec:  # a journal file: the same file for a job that changes directory
            storage_spec = str(Path(storage_spec).expanduser().absolute())
        # The sweep dir's own journal: it holds this directory's one search.
        own_journal = storage_spec == str(sweep_dir / JOURNAL_FILE)
        # Listed before the storage is read: a trial asked meanwhile is then in both.
        on_disk = _trial_dirs(sweep_dir)
        if "://" not in storage_spec:
            journal = Path(storage_spec)
            if on_disk and not journal.exists():
                raise _earlier_search(sweep_dir, on_disk, f"there is no journal {journal}")
            try:
                repaired = repair_journal(journal)
            except OSError as err:
                raise GnnexpError(
                    f"The journal {journal} ends in a torn record and cannot be repaired ({err.strerror or err}).",
                    "free some space on its disk and run the same command again.",
                ) from None
            if repaired:
                _say(repaired)
        for name in ("sampler", "pruner"):
            if self.config.hydra.sweeper.get(name) is not None and not OmegaConf.is_dict(
                self.config.hydra.sweeper[name]
            ):
                raise GnnexpError(
                    f"hydra.sweeper.{name}={self.config.hydra.sweeper[name]} is not a mapping.",
                    f"choose a preset with hydra/sweeper/pruner=median, or set hydra.sweeper.{name}._target_=...",
                )
        try:
            storage = open_storage(storage_spec)
        except GnnexpError:
            raise
        except Exception as err:  # a driver missing, a path that cannot be written, not a journal
            raise GnnexpError(
                f"Cannot open the study storage {storage_spec}: {type(err).__name__}: {str(err).splitlines()[0]}",
                "set hydra.sweeper.storage to a journal file path or a database URL whose driver is installed.",
            ) from None
        names = optuna.get_all_study_names(storage)
        if own_journal and names and str(s.study_name) not in names:
            raise GnnexpError(
                f"{sweep_dir} holds the search {names[0]!r}; a second study there would replace its "
                "trial directories.",
                "give the new search its own hydra.sweep.dir.",
            )
        sampler = _sampler(s.sampler, space) if isinstance(s.sampler, dict) else s.sampler
        # The settings as written (Hydra hands the sweeper built objects): the trials' runs
        # build the same pruner from them (gnnexp.search.studies.load_trial). The pruner compares
        # the monitored value the trials report: with any other objective it stays off.
        pruner_spec = _mapping(self.config.hydra.sweeper.pruner)
        if (
            objectives != ["best_value"]
            and pruner_spec
            and "NopPruner" not in str(pruner_spec.get("_target_"))
        ):
            _say(
                f"no pruning: the pruner compares the monitored value, and the objective is {', '.join(objectives)}"
            )
            pruner_spec = {}
        pruner = build_pruner(pruner_spec)
        # An existing study is read and checked, and trial directories no study here knows
        # refused, before anything is written to the storage.
        exists = str(s.study_name) in names
        try:
            study = (
                optuna.load_study(
                    study_name=str(s.study_name), storage=storage, sampler=sampler, pruner=pruner
                )
                if exists
                else None
            )
        except Exception as err:
            raise GnnexpError(
                f"The study {s.study_name!r} in {storage_spec} cannot be used: {str(err).splitlines()[0]}",
                "start the search in a new hydra.sweep.dir.",
            ) from None
        if study is not None:
            _check_same_search(study, storage_spec, sweep_dir, own_journal, space, directions, objectives)
        unknown = sorted(on_disk - {t.number for t in (study.get_trials(deepcopy=False) if study else [])})
        if unknown:
            raise _earlier_search(
                sweep_dir,
                set(unknown),
                f"the study {s.study_name!r} in {storage_spec} has no trial {unknown[0]}",
            )
        if study is None:  # another worker may create it at the same time
            try:
                study = optuna.create_study(
                    study_name=str(s.study_name),
                    storage=storage,
                    sampler=sampler,
                    pruner=pruner,
                    directions=directions,
                    load_if_exists=True,
                )
            except Exception as err:
                raise GnnexpError(
                    f"The study {s.study_name!r} cannot be created in {storage_spec}: {str(err).splitlines()[0]}",
                    "set hydra.sweeper.storage to a journal file path or a database URL that can be written.",
                ) from None
        study.set_user_attr(FIXED_ATTR, space.fixed)
        study.set_user_attr(SPACE_ATTR, _space(space))
        study.set_user_attr(OBJECTIVES_ATTR, objectives)
        study.set_user_attr(SWEEP_ATTR, str(sweep_dir))
        study.set_user_attr(PRUNER_ATTR, pruner_spec)
        index = _worker_index()
        sampler_spec = _mapping(self.config.hydra.sweeper.sampler)
        recorded = len(study.get_trials(deepcopy=False))
        if (recorded or index) and sampler_spec.get("seed") is not None:
            # Optuna does not store a sampler's random state: a resumed search seeded as at
            # its start would propose its first points again. Seed + trials so far is as
            # reproducible (the same seed and history give the same points) and does not;
            # each further worker's sampler draws its own points.
            seed = int(sampler_spec["seed"]) + recorded + WORKER_SEED_STEP * index
            study.sampler = _sampler({**sampler_spec, "seed": seed}, space)
        for name in (BASIC_LAUNCHER_LOGGER, "hydra_plugins.hydra_joblib_launcher._core"):
            logging.getLogger(name).addFilter(_NoInfo())  # "Launching 1 jobs" for every trial
        worker = Worker(
            study,
            storage,
            space,
            lambda overrides, number: self._run_trial(overrides, number, objectives),
            _trials_wanted(int(s.n_trials), study.sampler),
            sweep_dir / LOCK_FILE,
            report=_say,
            # The sweep dir as an absolute path: a worker process (joblib, submitit, Slurm) may
            # start in another directory, and must not compose a new one.
            extra=lambda n: [
                f"trial.study={s.study_name}",
                override("trial.storage", storage_spec),  # quoted: a URL may hold ? and =
                f"trial.number={n}",
                override("hydra.sweep.dir", sweep_dir),  # quoted: any path
                f"hydra.sweep.subdir=trial_{n}",
            ],
            max_failure_rate=float(s.max_failure_rate),
        )
        worker.fail_stale()
        done = len(study.get_trials(deepcopy=False))
        missing = worker.missing()
        if index:  # a further worker of a search: the first one writes what the search found
            worker.run()
            return None
        if done:
            interrupted = sum(bool(t.system_attrs.get(INTERRUPTED)) for t in study.get_trials(deepcopy=False))
            _say(
                f"resuming study {s.study_name}: {done} trials recorded"
                + (f" ({interrupted} interrupted)" if interrupted else "")
                + f", {missing} to run"
            )
        helpers = self._start_workers(min(int(s.n_workers), missing) - 1, sweep_dir)
        if missing and runs_in_process(self.launcher):
            # Trials run in this process: torch and PyG are imported once, here, before the
            # first trial's clock starts.
            import gnnexp.running.run  # noqa: F401
        try:
            worker.run()
        except BaseException:
            # An error here: the other workers stop after their epoch. A signal: it may have
            # reached this process alone (kill PID), so the others are asked to stop too.
            _wait(helpers, stop=True)
            worker.fail_stale()  # the trials of workers that died at once are not left running
            raise
        if _wait(helpers):
            worker.fail_stale()
            raise KeyboardInterrupt  # a Ctrl-C once this worker had no trial left
        record = study_record(study, _labels(study, objectives), space.fixed)
        test = self._test_best(record)
        write_outcome(sweep_dir, record, test)
        draw_figures(study, sweep_dir)
        _say(headline(record))
        died = [(process.returncode, log) for process, log in helpers if not _ended_well(process.returncode)]
        if died and worker.missing():
            code, log = died[0]
            raise GnnexpError(
                f"A worker process of the search exited with status {code} ({worker.missing()} trials "
                f"not run); its output is in {log}.",
                "run the same command again: finished trials are kept and only the missing ones run.",
            )
        if worker.missing():  # e.g. a trial's job was interrupted by a signal that reached it alone
            raise GnnexpError(
                f"The search stopped with {worker.missing()} of its trials not run (an interrupted "
                "trial stops it); study.json and best.yaml hold what it found so far.",
                "run the same command again: finished trials are kept and only the missing ones run.",
            )
        return None

    def _start_workers(self, count: int, sweep_dir: Path) -> list[tuple[Any, Path]]:
        """``count`` more workers: this command again, each on the same study with its output
        in ``<sweep dir>/worker_<k>.log``, and without the sweep's summary and live view,
        which this process shows for all. In this process group, so that a Ctrl-C in the
        terminal reaches every worker once; a signal to this process alone is passed on as
        STOP_REQUEST (see _wait)."""
        from gnnexp.errors import GnnexpError
        from gnnexp.running.resume import override

        if count <= 0:
            return []
        if not sys.argv or not sys.argv[0].startswith("gnnexp train"):
            raise GnnexpError(
                f"hydra.sweeper.n_workers={self.settings['n_workers']} starts the gnnexp train command again, "
                "and this search was not started by it.",
                "run the same command several times on one hydra.sweep.dir, each with n_workers=1.",
            )
        callbacks = self.config.hydra.get("callbacks") or {}
        quiet = [
            f"~hydra.callbacks.{name}"
            for name, callback in callbacks.items()
            if str(callback.get("_target_", "")).rsplit(".", 1)[-1] in ("SweepSummary", "SweepView")
        ]
        command = [sys.executable, "-m", "gnnexp", "train", *sys.argv[1:], *quiet,
                   override("hydra.sweep.dir", sweep_dir)]  # fmt: skip
        started = []
        # Ignored by a worker until its sweep handles it (_stop_signals), rather than killing it.
        handler = signal.signal(STOP_REQUEST, signal.SIG_IGN)
        try:
            for index in range(1, count + 1):
                log = sweep_dir / f"worker_{index}.log"
                with open(log, "a", encoding="utf-8") as output:
                    process = subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, WORKER_ENV: str(index)},
                    )
                started.append((process, log))
        finally:
            signal.signal(STOP_REQUEST, handler)
        _say(f"{count} more worker{'s' if count > 1 else ''}: output in {sweep_dir}/worker_<n>.log")
        return started

    def _run_trial(self, overrides: list[str], number: int, objectives: list[str]) -> Any:
        (job,) = self.launcher.launch([overrides], initial_job_idx=number)
        out_dir = Path(str(job.hydra_cfg.hydra.runtime.output_dir)) if job.hydra_cfg is not None else None
        return _read_trial(out_dir, objectives)

    def _test_best(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The test metrics of the best trial's best checkpoint: the only test a search runs."""
        best = next((t for t in record["trials"] if t["number"] == record.get("best")), None)
        checkpoint = Path(best["dir"]) / "checkpoints" / "best.pt" if best and best["dir"] else None
        if checkpoint is None or not checkpoint.is_file():
            return None
        from gnnexp.commands.evaluate import evaluate_checkpoint

        result = evaluate_checkpoint(checkpoint, [], ("test",))
        return {k: float(v) for k, v in result["metrics"]["test"].items()}


# Set for the further workers a search starts (1, 2, ...): they run trials and leave the
# search's outcome to the first.
WORKER_ENV = "GNNEXP_SEARCH_WORKER"
WORKER_SEED_STEP = 1_000_003  # a further worker's sampler seed: seed + trials so far + this x its index
# The signal the first worker sends the others to stop them as a first Ctrl-C would: a worker
# that a stop signal reached already ignores it, so it is sent whenever in doubt.
STOP_REQUEST = signal.SIGUSR1


def _mapping(node: Any) -> dict[str, Any]:
    """A sweeper setting as written (null: {}); checked to be a mapping before."""
    from omegaconf import OmegaConf

    value = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _worker_index() -> int:
    value = os.environ.get(WORKER_ENV, "0")
    return int(value) if value.isdigit() else 0


def _ended_well(code: Any) -> bool:
    """A worker's exit status: done, or stopped by a signal after saving (128 + SIGINT or SIGTERM)."""
    return code in (0, 130, 143)


def _wait(helpers: list[tuple[Any, Path]], stop: bool = False) -> bool:
    """Wait for the further workers to end; whether a Ctrl-C or SIGTERM came meanwhile.

    ``stop`` (or such a signal): they are asked to stop as by a first Ctrl-C (finish the
    epoch, save, record the trial interrupted), again while they run: one may have been
    starting, with the request still ignored."""
    interrupted = False
    for process, _ in helpers:
        while process.poll() is None:
            if stop or interrupted:
                process.send_signal(STOP_REQUEST)
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                continue
            except KeyboardInterrupt:
                interrupted = True
    return interrupted


@contextmanager
def _stop_signals() -> Iterator[None]:
    """For the sweep: SIGTERM stops a worker as Ctrl-C does (training installs its own handler
    for both, which finishes the epoch and saves); the first worker's stop request
    (STOP_REQUEST) becomes a SIGTERM unless a stop signal reached this worker already."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    stopping = threading.Event()  # a stop signal reached this worker outside training

    def stop(signum: int, frame: Any) -> None:
        stopping.set()
        raise KeyboardInterrupt

    def request(signum: int, frame: Any) -> None:
        interrupt = sys.modules.get("gnnexp.training.interrupt")
        if stopping.is_set() or (interrupt is not None and interrupt.signalled()):
            return
        stopping.set()
        os.kill(os.getpid(), signal.SIGTERM)

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
        STOP_REQUEST: signal.signal(STOP_REQUEST, request),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _trial_dirs(sweep_dir: Path) -> set[int]:
    """The numbers of the trial directories (trial_<n>) in the sweep dir."""
    found = set()
    for path in sweep_dir.glob("trial_*"):
        number = path.name.removeprefix("trial_")
        if number.isdigit() and path.is_dir():
            found.add(int(number))
    return found


def _earlier_search(sweep_dir: Path, numbers: set[int], why: str) -> Any:
    """The refusal to run a search over the trial directories of another (its study is elsewhere)."""
    from gnnexp.errors import GnnexpError

    storage = _storage_of(sweep_dir / f"trial_{min(numbers)}")
    return GnnexpError(
        f"{sweep_dir} holds the trials of an earlier search ({len(numbers)} trial directories), and {why}: "
        "this search would overwrite them.",
        "give this search its own hydra.sweep.dir"
        + (f", or resume that one with its storage: hydra.sweeper.storage={storage}." if storage else "."),
    )


def _storage_of(trial_dir: Path) -> str | None:
    """The storage a trial's run reported to (its trial.storage override), if it says."""
    import yaml

    try:
        overrides = yaml.safe_load((trial_dir / ".hydra" / "overrides.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None
    for line in overrides if isinstance(overrides, list) else []:
        key, _, value = str(line).partition("=")
        if key == "trial.storage":
            return value.strip("'\"")
    return None


def _check_same_search(
    study: Any, storage: str, sweep_dir: Path, own_journal: bool, space: Any, directions: list[str],
    objectives: list[str],
) -> None:  # fmt: skip
    """Refuse a study that is not this search's: another objective, directions, search space or
    fixed settings, another sweep directory's, or one no gnnexp search made."""
    from gnnexp.errors import GnnexpError

    name = study.study_name
    attrs = study.user_attrs
    trials = study.get_trials(deepcopy=False)
    if trials and attrs.get(FIXED_ATTR) is None:
        raise GnnexpError(
            f"The study {name!r} in {storage} holds {len(trials)} trials that no gnnexp search made.",
            "give this search another hydra.sweeper.study_name or another hydra.sweeper.storage.",
        )
    if [d.name.lower() for d in study.directions] != [d.lower() for d in directions]:
        raise GnnexpError(
            f"The study {name!r} in {storage} was created with other directions.",
            "start the search in a new hydra.sweep.dir.",
        )
    before = attrs.get(FIXED_ATTR)
    recorded = attrs.get(OBJECTIVES_ATTR)
    if before is not None and (
        before != space.fixed
        or attrs.get(SPACE_ATTR) != _space(space)
        or (recorded is not None and recorded != objectives)
    ):
        raise GnnexpError(
            f"The study {name!r} was run with other settings or another search space (objectives: "
            f"{', '.join(recorded or ['best_value'])}; fixed: {' '.join(before) or 'none'}); its trials would not compare.",
            "resume with the same command, or start the search in a new hydra.sweep.dir.",
        )
    home = attrs.get(SWEEP_ATTR)
    # A journal in its own sweep dir goes where the directory goes (moved, or mounted elsewhere).
    if home is not None and home != str(sweep_dir) and not own_journal:
        raise GnnexpError(
            f"The study {name!r} in {storage} is the search in {home}; run here, its trials would be "
            "reported as this search's.",
            f"resume it with hydra.sweep.dir={home}, or give this search another hydra.sweeper.study_name.",
        )


def _refuse_resume(config: Any) -> None:
    """``trainer.resume`` continues one run; a search (and its trials) is resumed by re-running it."""
    import shlex

    from gnnexp.errors import ConfigError

    resume = config.trainer.get("resume")
    if not resume:
        return
    checkpoint = Path(str(resume))
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    if config.get("trial", {}).get("number") is None:
        raise ConfigError(
            f"trainer.resume={resume} continues one run, and this config is a search (hydra.mode=MULTIRUN).",
            "add hydra.mode=RUN to resume that run alone, or drop trainer.resume to run the search.",
        )
    overrides = [
        o for o in config.hydra.overrides.task
        if not o.split("=", 1)[0].lstrip("+~").startswith(("trial.", "trainer.resume", "hydra."))
    ]  # fmt: skip
    raise ConfigError(
        f"{run_dir} is trial {config.trial.number} of a search, which its search resumes: "
        "trainer.resume would start a new search.",
        f"re-run the search's command with hydra.sweep.dir={run_dir.parent} (its interrupted trials run "
        f"again); to train this trial's settings alone: {shlex.join(['gnnexp', 'train', *overrides, 'hydra.mode=RUN'])}",
    )


# Study user attributes: the fixed overrides, the search space, the objectives, the sweep dir.
FIXED_ATTR = "gnnexp:fixed"
SPACE_ATTR = "gnnexp:space"
OBJECTIVES_ATTR = "gnnexp:objectives"
SWEEP_ATTR = "gnnexp:sweep_dir"


def _space(space: Any) -> dict[str, str]:
    return {key: repr(dist) for key, dist in sorted(space.distributions.items())}


def _check_settings(s: Any, directions: list[str], objectives: list[str]) -> None:
    from gnnexp.errors import GnnexpError

    bad = [d for d in directions if d not in ("minimize", "maximize")]
    if bad:
        raise GnnexpError(
            f"hydra.sweeper.direction {bad[0]!r} is not minimize or maximize.", "use one of them."
        )
    if len(objectives) != len(directions):
        raise GnnexpError(
            f"{len(directions)} directions but {len(objectives)} objectives.",
            "give one results.json key per direction, e.g. directions=[maximize,minimize] "
            "objectives=[best_value,num_params].",
        )
    for key, least in (("n_trials", 1), ("n_workers", 1)):
        if not isinstance(getattr(s, key), int) or getattr(s, key) < least:
            raise GnnexpError(
                f"hydra.sweeper.{key}={getattr(s, key)} is invalid.", f"give an integer >= {least}."
            )
    rate = s.max_failure_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise GnnexpError(
            f"hydra.sweeper.max_failure_rate={rate} is invalid.",
            "give a fraction from 0 (stop at the first failures) to 1 (never stop for failures).",
        )


def _read_trial(out_dir: Path | None, objectives: list[str]) -> Any:
    """What a trial's run directory says: its status and objective values."""
    from gnnexp.search.driver import TrialRun
    from gnnexp.util.atomic import read_json_object

    results = read_json_object(out_dir / "results.json") if out_dir else None
    if results is None:
        failure = read_json_object(out_dir / "failed.json") if out_dir else None
        status = str((failure or {}).get("status", "failed"))
        return TrialRun("interrupted" if status == "interrupted" else "failed", out_dir, None)
    status = str(results.get("status"))
    if status not in ("completed", "pruned"):
        return TrialRun("failed", out_dir, None)
    values = [results.get(key) for key in objectives]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if status == "completed" and len(numbers) != len(objectives):
        from gnnexp.errors import GnnexpError

        wrong = next(k for k, v in zip(objectives, values, strict=True) if not isinstance(v, (int, float)))
        usable = sorted(
            k for k, v in results.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        )
        raise GnnexpError(
            f"objective {wrong!r} is not a numeric key of results.json ({out_dir}).",
            f"use one of: {', '.join(usable)}.",
        )
    return TrialRun(status, out_dir, numbers if len(numbers) == len(objectives) else None)


def _trials_wanted(n_trials: int, sampler: Any) -> int:
    """``n_trials``, or fewer for a grid that has fewer points (one more would repeat one)."""
    grid = getattr(sampler, "_search_space", None)
    if type(sampler).__name__ == "GridSampler" and isinstance(grid, dict):
        points = 1
        for values in grid.values():
            points *= len(values)
        return min(n_trials, points)
    return n_trials


def _sampler(spec: dict[str, Any], space: Any) -> Any:
    """The sampler ``spec`` names; a grid sampler without ``search_space`` gets the grid of
    the search space's choices, as Hydra's Optuna sweeper gives it."""
    from hydra.utils import instantiate

    from gnnexp.errors import GnnexpError

    spec = dict(spec)
    if str(spec.get("_target_", "")).endswith("GridSampler") and not spec.get("search_space"):
        grid = {}
        for key, dist in space.distributions.items():
            if not hasattr(dist, "choices"):
                raise GnnexpError(
                    f"A grid needs a list of values for {key}, which is a range.",
                    f"give {key} as choice(...), or use another sampler.",
                )
            grid[key] = list(dist.choices)
        spec["search_space"] = grid
    try:
        return instantiate(spec)
    except Exception as err:
        raise GnnexpError(
            f"hydra.sweeper.sampler cannot be built: {str(err).splitlines()[0]}",
            "check its _target_ (optuna.samplers.*) and arguments.",
        ) from None


def _labels(study: Any, objectives: list[str]) -> list[str]:
    """Objectives as people read them: best_value is the monitored value, e.g. "val accuracy"."""
    from gnnexp.util.atomic import read_json_object

    for trial in study.get_trials(deepcopy=False):
        results = read_json_object(Path(str(trial.user_attrs.get("dir", ""))) / "results.json")
        if results is not None:
            monitor, metric = str(results.get("monitor")), str(results.get("metric"))
            best = "val loss" if monitor in ("val_loss", "val_loss_and_metric") else f"val {metric}"
            return [best if o == "best_value" else o for o in objectives]
    return objectives


def _say(line: str) -> None:
    sys.stdout.write(f"[optuna] {line}\n")
    sys.stdout.flush()


class _NoInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING
