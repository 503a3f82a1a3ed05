"""gnnexp's Optuna sweeper: ``hydra/sweeper=gnnexp_optuna`` (the hparams_search presets use it).

It keeps the keys of Hydra's Optuna sweeper (``sampler``, ``direction``, ``study_name``,
``storage``, ``n_trials``, ``params`` in the same syntax) on current Optuna, and adds:

- ``pruner``: any ``optuna.pruners.*`` by ``_target_``. Each trial's run reports its
  monitored validation value every evaluated epoch and stops when pruned.
- ``n_workers``: trials at once, each worker taking the next trial as soon as its last one
  ends (no batches); several workers run through the configured launcher, or, when that is
  the basic (in-process) one, as processes forked from this one (gnnexp.search.forked;
  joblib's launcher where fork does not exist).
- resuming: the study lives in the sweep directory (or ``storage``); re-running with the
  same ``hydra.sweep.dir`` runs only the missing trials.
- ``directions`` with ``objectives`` (results.json keys) for a multi-objective search.

Hydra imports every module of ``hydra_plugins`` at start-up, so this one imports Optuna and
the rest of gnnexp only when it sweeps.
"""

# No "from __future__ import annotations": Hydra loads this module without registering it,
# and dataclasses then cannot resolve string annotations.

import contextlib
import logging
import sys
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
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher
        from hydra.types import HydraContext

        from gnnexp.config.sweep_loader import ReusingConfigLoader

        loader = hydra_context.config_loader
        if isinstance(self.launcher, BasicLauncher) and isinstance(loader, ConfigLoaderImpl):
            # Trials run here, one after another: each composes from the files read once.
            # (A launcher that pickles the context to other processes would gain nothing.)
            reusing = HydraContext(
                config_loader=ReusingConfigLoader(loader.config_search_path),
                callbacks=hydra_context.callbacks,
            )
            self.launcher.setup(hydra_context=reusing, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        from gnnexp.errors import GnnexpError, report

        try:
            return self._sweep(arguments)
        except GnnexpError as err:
            report(err)
            sys.exit(err.exit_code)

    def _sweep(self, arguments: list[str]) -> Any:
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher
        from omegaconf import OmegaConf, open_dict, read_write

        from gnnexp.errors import GnnexpError
        from gnnexp.resume import override
        from gnnexp.search.driver import INTERRUPTED, Workers, fail_stale
        from gnnexp.search.outcome import draw_figures, headline, read_study, study_record, write_outcome
        from gnnexp.search.space import parse_space
        from gnnexp.studies import JOURNAL_FILE, PRUNER_ATTR, build_pruner, open_storage, optuna_module

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
        others = optuna.get_all_study_names(storage) if not s.storage else []
        if others and str(s.study_name) not in others:
            raise GnnexpError(
                f"{sweep_dir} holds the search {others[0]!r}; a second study there would replace its "
                "trial directories.",
                "give the new search its own hydra.sweep.dir.",
            )
        sampler = _sampler(s.sampler, space) if isinstance(s.sampler, dict) else s.sampler
        # The settings as written (Hydra hands the sweeper built objects): the trials' runs
        # build the same pruner from them (gnnexp.studies.load_trial). The pruner compares
        # the monitored value the trials report: with any other objective it stays off.
        pruner_spec = OmegaConf.to_container(self.config.hydra.sweeper.pruner, resolve=True) or {}
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
                f"The study {s.study_name!r} in {storage_spec} cannot be used: {str(err).splitlines()[0]}",
                "start the search in a new hydra.sweep.dir.",
            ) from None
        if [d.name.lower() for d in study.directions] != [d.lower() for d in directions]:
            raise GnnexpError(
                f"The study {s.study_name!r} in {storage_spec} was created with other directions.",
                "start the search in a new hydra.sweep.dir.",
            )
        before = study.user_attrs.get(FIXED_ATTR)
        if before is not None and (
            before != space.fixed or study.user_attrs.get(SPACE_ATTR) != _space(space)
        ):
            raise GnnexpError(
                f"The study {s.study_name!r} was run with other settings or another search space "
                f"(fixed: {' '.join(before) or 'none'}); its trials would not compare.",
                "resume with the same command, or start the search in a new hydra.sweep.dir.",
            )
        study.set_user_attr(FIXED_ATTR, space.fixed)
        study.set_user_attr(SPACE_ATTR, _space(space))
        study.set_user_attr(PRUNER_ATTR, pruner_spec)
        fail_stale(study, storage)
        sampler_spec = OmegaConf.to_container(self.config.hydra.sweeper.sampler, resolve=True) or {}
        recorded = len(study.get_trials(deepcopy=False))
        if recorded and isinstance(sampler_spec, dict) and sampler_spec.get("seed") is not None:
            # Optuna does not store a sampler's random state: a resumed search seeded as at
            # its start would propose its first points again. Seed + trials so far is as
            # reproducible (the same seed and history give the same points) and does not.
            study.sampler = _sampler({**sampler_spec, "seed": int(sampler_spec["seed"]) + recorded}, space)
        forking = self._forks(int(s.n_workers))
        launcher = None if forking else self._launcher_for(int(s.n_workers))
        pool: Any = None
        for name in (
            "hydra._internal.core_plugins.basic_launcher",
            "hydra_plugins.hydra_joblib_launcher._core",
        ):
            logging.getLogger(name).addFilter(_NoInfo())  # "Launching 1 jobs" for every trial
        workers = Workers(
            study,
            storage,
            space,
            lambda overrides, number: (
                self._run_forked(pool, overrides, number, objectives)
                if pool is not None
                else self._run_trial(launcher, overrides, number, objectives)
            ),
            _trials_wanted(int(s.n_trials), study.sampler),
            int(s.n_workers),
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
        done = len(study.get_trials(deepcopy=False))
        missing = workers.missing()
        if done:
            interrupted = sum(bool(t.system_attrs.get(INTERRUPTED)) for t in study.get_trials(deepcopy=False))
            _say(
                f"resuming study {s.study_name}: {done} trials recorded"
                + (f" ({interrupted} interrupted)" if interrupted else "")
                + f", {missing} to run"
            )
        if missing and isinstance(self.launcher, BasicLauncher):
            # Trials run in this process or in processes forked from it: torch and PyG are
            # imported once, here, before the first trial's clock starts.
            import gnnexp.run  # noqa: F401
        if forking:
            pool = self._fork_workers(int(s.n_workers), list(space.fixed))
        try:
            workers.run()
            all_died = pool is not None and not pool.alive()
        except BaseException:  # Ctrl-C, or an error: the workers stop after their epoch
            if pool is not None:
                pool.interrupt()
            raise
        finally:
            if pool is not None:
                pool.close()
        if all_died and workers.missing():
            raise GnnexpError(
                f"Every worker process of the search died ({workers.missing()} trials not run); "
                "the messages above say how.",
                "run the same command again: finished trials are kept and only the missing ones run.",
            )
        record = study_record(study, _labels(study, objectives), space.fixed)
        test = self._test_best(record)
        write_outcome(sweep_dir, record, test)
        draw_figures(study, sweep_dir)
        _say(headline(record))
        return None

    def _forks(self, n_workers: int) -> bool:
        """Whether several workers run as processes forked from this one (gnnexp.search.forked):
        for the in-process basic launcher, where fork exists."""
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher

        from gnnexp.search import forked

        return n_workers > 1 and isinstance(self.launcher, BasicLauncher) and forked.available()

    def _fork_workers(self, n_workers: int, fixed: list[str]) -> Any:
        """``n_workers`` processes that run trials with the basic launcher, as one worker does here."""
        from gnnexp.search.forked import ForkedWorkers

        launcher = self.launcher
        # Composed once here, the config files are read once for every worker, not by each;
        # only a warm-up: the trials compose (and report errors) for themselves.
        with contextlib.suppress(Exception):
            launcher.hydra_context.config_loader.load_sweep_config(self.config, fixed)

        def run_trial(overrides: list[str], number: int) -> str | None:
            (job,) = launcher.launch([overrides], initial_job_idx=number)
            return str(job.hydra_cfg.hydra.runtime.output_dir) if job.hydra_cfg is not None else None

        return ForkedWorkers(run_trial, n_workers)

    def _launcher_for(self, n_workers: int) -> Any:
        """The configured launcher; for several workers with the in-process basic launcher
        where fork does not exist, joblib's (each trial in a worker process)."""
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher

        from gnnexp.errors import GnnexpError

        if n_workers <= 1 or not isinstance(self.launcher, BasicLauncher):
            return self.launcher
        try:
            from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
        except ImportError:
            raise GnnexpError(
                f"hydra.sweeper.n_workers={n_workers} runs trials in parallel processes, which needs "
                "the joblib launcher.",
                "pip install 'gnnexp[joblib]', or choose hydra/launcher=submitit_local (or a cluster launcher).",
            ) from None
        launcher = JoblibLauncher(n_jobs=n_workers, backend=None, prefer="processes", require=None,
                                  verbose=0, timeout=None, pre_dispatch="2*n_jobs", batch_size="auto",
                                  temp_folder=None, max_nbytes=None, mmap_mode="r")  # fmt: skip
        launcher.setup(hydra_context=self.hydra_context, task_function=self.task_function, config=self.config)
        return launcher

    def _run_trial(self, launcher: Any, overrides: list[str], number: int, objectives: list[str]) -> Any:
        (job,) = launcher.launch([overrides], initial_job_idx=number)
        out_dir = Path(str(job.hydra_cfg.hydra.runtime.output_dir)) if job.hydra_cfg is not None else None
        return _read_trial(out_dir, objectives)

    def _run_forked(self, workers: Any, overrides: list[str], number: int, objectives: list[str]) -> Any:
        from gnnexp.search.driver import TrialRun

        outcome, value = workers.run(overrides, number)
        if outcome == "ran":
            return _read_trial(Path(value) if value else None, objectives)
        if outcome in ("interrupted", "gone"):  # not run to its end: its place is run again
            return TrialRun("interrupted", None, None)
        _say(f"trial {number} failed: {value}")
        return TrialRun("failed", None, None)

    def _test_best(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The test metrics of the best trial's best checkpoint: the only test a search runs."""
        best = next((t for t in record["trials"] if t["number"] == record.get("best")), None)
        checkpoint = Path(best["dir"]) / "checkpoints" / "best.pt" if best and best["dir"] else None
        if checkpoint is None or not checkpoint.is_file():
            return None
        from gnnexp.commands.evaluate import evaluate_checkpoint

        result = evaluate_checkpoint(checkpoint, [], ("test",))
        return {k: float(v) for k, v in result["metrics"]["test"].items()}


FIXED_ATTR = "gnnexp:fixed"  # study user attributes: the fixed overrides and the search space
SPACE_ATTR = "gnnexp:space"


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


def _read_trial(out_dir: Path | None, objectives: list[str]) -> Any:
    """What a trial's run directory says: its status and objective values."""
    from gnnexp.atomic import read_json_object
    from gnnexp.search.driver import TrialRun

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
    from gnnexp.atomic import read_json_object

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
