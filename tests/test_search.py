"""gnnexp's Optuna sweeper: search space, pruning from the loop, workers, resuming, outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import tomllib
import yaml

from gnnexp.search.driver import HEARTBEAT, INTERRUPTED, TrialRun, Worker, counted, fail_stale
from gnnexp.search.space import parse_space
from gnnexp.search.studies import open_storage
from tests.conftest import REPO

TINY = """\
# @package _global_
defaults:
  - override /hydra/sweeper: gnnexp_optuna
  - override /hydra/sweeper/pruner: none
trainer:
  monitor: val_metric
hydra:
  mode: MULTIRUN
  sweeper:
    direction: maximize
    study_name: tiny
    n_trials: 6
    sampler:
      _target_: optuna.samplers.RandomSampler
      seed: 0
    params:
      optimizer.lr: choice(0.05, 0.0000001)
      model.hidden_channels: choice(8, 16, 32)
"""
DATA = ("dataset=synthetic", "dataset.num_nodes=300", "model=gcn", "trainer.curves=false")


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    """A config dir with a tiny search; lr 1e-7 never learns."""
    (tmp_path / "conf" / "hparams_search").mkdir(parents=True)
    (tmp_path / "conf" / "hparams_search" / "tiny.yaml").write_text(TINY)
    return tmp_path / "conf"


def _study(sweep: Path, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(str(sweep / "optuna.journal")))


def test_the_search_space_reads_hydra_optuna_syntax():
    space = parse_space(
        {
            "optimizer.lr": "tag(log, interval(0.0001, 0.1))",
            "model.hidden_channels": "choice(8, 16, 32)",
            "model.num_layers": "range(1, 4)",
            "model": "choice(gcn, gat)",
        },
        ["trainer.max_epochs=5", "model=sage,gin", "seed=3"],
    )
    d = space.distributions
    assert d["optimizer.lr"] == optuna.distributions.FloatDistribution(0.0001, 0.1, log=True)
    assert d["model.hidden_channels"] == optuna.distributions.CategoricalDistribution([8, 16, 32])
    assert d["model.num_layers"] == optuna.distributions.IntDistribution(1, 3)
    assert d["model"] == optuna.distributions.CategoricalDistribution(
        ["sage", "gin"]
    )  # the command line wins
    assert space.fixed == ["trainer.max_epochs=5", "seed=3"]
    assert space.overrides({"optimizer.lr": 0.001, "model": "gin"}) == [
        "trainer.max_epochs=5", "seed=3", "optimizer.lr=0.001", "model=gin",
    ]  # fmt: skip


def _png_has_content(path: Path) -> bool:
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    return pixels.shape[0] > 100 and float(pixels[..., :3].std()) > 0.05


def test_a_search_prunes_hopeless_trials_and_tests_only_the_best(gnnexp, tmp_path, conf_dir):
    sweep = tmp_path / "search"
    result = gnnexp("-m", "--config-dir", str(conf_dir), "hparams_search=tiny", *DATA, "trainer.max_epochs=15",
                    "hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.lower=0.5", "hydra.sweeper.pruner.n_warmup_steps=3",
                    run_dir=sweep)  # fmt: skip
    assert result.code == 0, result.err
    study = _study(sweep)
    states = {t.number: t.state for t in study.trials}
    assert len(states) == 6
    hopeless = [t for t in study.trials if t.params["optimizer.lr"] < 1e-6]
    assert hopeless, "the seeded sampler drew no lr=1e-7 trial: pick another seed"
    for trial in study.trials:
        results = json.loads((sweep / f"trial_{trial.number}" / "results.json").read_text())
        assert results["trial"] == trial.number
        assert results["test"] == {}  # trials are not tested
        if trial in hopeless:
            assert trial.state == optuna.trial.TrialState.PRUNED
            assert results["status"] == "pruned"
            assert 3 <= results["pruned_epoch"] < 15
            assert max(trial.intermediate_values) == results["pruned_epoch"]
        else:
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert results["status"] == "completed" and results["epochs_run"] == 15
    assert "pruned after epoch" in result.out  # the live table says why it stopped
    assert f"{len(hopeless)} pruned" in result.out and "failed" not in result.out
    record = json.loads((sweep / "study.json").read_text())
    assert record["counts"]["pruned"] == len(hopeless)
    assert record["counts"]["complete"] == 6 - len(hopeless)
    best = yaml.safe_load((sweep / "best.yaml").read_text())
    assert best["trial"] == study.best_trial.number
    assert best["value"] == pytest.approx(study.best_value)
    assert "optimizer.lr=0.05" in best["overrides"]
    assert best["command"].startswith("gnnexp train hparams_search=tiny dataset=synthetic")
    assert 0 < best["test"]["accuracy"] <= 1  # the one test of the search
    for name in ("optuna_history.png", "optuna_importances.png", "optuna_intermediate.png"):
        assert _png_has_content(sweep / name), name

    import shlex

    again = gnnexp(
        *shlex.split(best["command"])[2:], "--config-dir", str(conf_dir), run_dir=tmp_path / "again"
    )
    assert again.code == 0, again.err  # the command re-trains the best trial as a plain run
    assert again.results["val"]["accuracy"] == pytest.approx(best["value"])
    assert again.results["test"]["accuracy"] == pytest.approx(best["test"]["accuracy"])

    summary = gnnexp(str(sweep), command="summarize")
    assert summary.code == 0, summary.err
    assert f"study tiny: 6 trials: {6 - len(hopeless)} complete, {len(hopeless)} pruned" in summary.out
    assert f"best: trial {best['trial']}" in summary.out
    assert "re-train it: gnnexp train hparams_search=tiny" in summary.out


def test_a_multi_objective_search_lists_its_pareto_front(gnnexp, tmp_path, conf_dir):
    sweep = tmp_path / "pareto"
    result = gnnexp(
        "-m", "--config-dir", str(conf_dir), "hparams_search=tiny", *DATA, "trainer.max_epochs=10",
        "hydra.sweeper.n_trials=5", "hydra.sweeper.directions=[maximize,minimize]",
        "hydra.sweeper.objectives=[best_value,num_params]",
        run_dir=sweep,
    )  # fmt: skip
    assert result.code == 0, result.err
    study = _study(sweep)
    front = sorted(t.number for t in study.best_trials)
    record = json.loads((sweep / "study.json").read_text())
    assert record["pareto_front"] == front and front
    assert record["objectives"] == ["val accuracy", "num_params"]
    # Trials of several objectives report no epochs to a pruner; their epochs come from results.json.
    assert {t["last_epoch"] for t in record["trials"]} == {10}
    assert f"pareto front: trials {', '.join(map(str, front))}" in result.out
    assert _png_has_content(sweep / "optuna_pareto_front.png")
    assert not (sweep / "best.yaml").exists()  # no single best among several objectives


FIGURES_WITHOUT_SKLEARN = """
import sys
sys.modules["sklearn"] = None  # as where only gnnexp[optuna] is installed: importing it fails
import optuna
from gnnexp.search.figures import draw_figures
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
for _ in range(12):
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
                       "hidden": optuna.distributions.CategoricalDistribution([8, 16])})
    for epoch in range(5):
        trial.report(trial.params["lr"] * epoch, epoch)
    study.tell(trial, trial.params["lr"])
print(" ".join(sorted(p.name for p in draw_figures(study, __import__("pathlib").Path(sys.argv[1])))))
"""


def test_figures_need_no_scikit_learn(tmp_path):
    done = subprocess.run([sys.executable, "-c", FIGURES_WITHOUT_SKLEARN, str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["optuna_history.png", "optuna_importances.png", "optuna_intermediate.png"]
    assert all(_png_has_content(tmp_path / name) for name in done.stdout.split())


def _fake_launch(root: Path, interrupt_at: int | None = None):
    """Each trial makes its directory (which fails if a second worker gets the same number)."""

    def launch(overrides: list[str], number: int) -> TrialRun:
        if number == interrupt_at:
            raise KeyboardInterrupt
        (root / f"trial_{number}").mkdir()
        time.sleep(0.01 * (number % 3))  # trials of different lengths
        return TrialRun("completed", root / f"trial_{number}", [float(number)])

    return launch


def _worker(root: Path, n_trials: int, interrupt_at: int | None = None) -> Worker:
    storage = open_storage(str(root / "j"))
    study = optuna.load_study(study_name="w", storage=storage)
    space = parse_space({"x": "interval(0, 1)"}, [])
    return Worker(study, storage, space, _fake_launch(root, interrupt_at), n_trials, root / "lock",
                  report=lambda line: None)  # fmt: skip


WORKER = """
import sys
from pathlib import Path
from tests.test_search import _worker
print(_worker(Path(sys.argv[1]), int(sys.argv[2])).run())
"""


def _workers(root: Path, n_trials: int, count: int) -> list[int]:
    """``count`` worker processes on one study at once; how many trials each ran."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(n_trials)], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]  # fmt: skip
    ran = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        ran.append(int(out))
    return ran


def test_worker_processes_on_one_study_run_exactly_n_trials_each_once(tmp_path):
    study = optuna.create_study(
        study_name="w", storage=open_storage(str(tmp_path / "j")), direction="maximize"
    )
    assert sum(_workers(tmp_path, 10, 3)) == 10
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE"] * 10
    assert sorted(p.name for p in tmp_path.glob("trial_*")) == sorted(f"trial_{n}" for n in range(10))
    assert [t.user_attrs["dir"] for t in study.get_trials()] == [
        str(tmp_path / f"trial_{n}") for n in range(10)
    ]
    # Run again: nothing is missing, nothing runs.
    assert _workers(tmp_path, 10, 2) == [0, 0]


def test_an_interrupted_worker_leaves_exactly_the_missing_trials_to_the_rerun(tmp_path):
    study = optuna.create_study(
        study_name="w", storage=open_storage(str(tmp_path / "j")), direction="maximize"
    )
    with pytest.raises(KeyboardInterrupt):
        _worker(tmp_path, 6, interrupt_at=2).run()  # a Ctrl-C in its third trial
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL"]
    assert trials[2].system_attrs[INTERRUPTED] and not counted(trials[2])
    assert sum(_workers(tmp_path, 6, 2)) == 4  # the interrupted place and the three never started
    states = [t.state.name for t in study.get_trials()]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", *["COMPLETE"] * 4]


def test_trials_of_a_dead_worker_are_failed_and_run_again(tmp_path):
    storage = open_storage(str(tmp_path / "j"))
    study = optuna.create_study(study_name="w", storage=storage)
    done = study.ask()
    study.tell(done, 1.0)
    dead = study.ask()  # running, and its worker no longer beats
    alive = study.ask()
    storage.set_trial_system_attr(alive._trial_id, HEARTBEAT, time.time())  # another live worker's
    assert fail_stale(study, storage) == [dead.number]
    trials = {t.number: t for t in study.get_trials()}
    assert trials[dead.number].state.name == "FAIL" and trials[dead.number].system_attrs[INTERRUPTED]
    assert trials[alive.number].state.name == "RUNNING"
    assert [counted(t) for t in study.get_trials()] == [True, False, False]
    worker = _worker(tmp_path, 4)
    assert worker.missing() == 2  # the live worker's trial is taken
    assert worker.run() == 2
    # A trial whose worker dies while this one runs is taken for dead at the next ask.
    storage.set_trial_system_attr(alive._trial_id, HEARTBEAT, time.time() - 3600)
    assert _worker(tmp_path, 4).run() == 1
    assert [counted(t) for t in study.get_trials()] == [True, False, False, True, True, True]


@pytest.mark.slow
def test_a_search_stopped_with_ctrl_c_resumes_with_exactly_the_missing_trials(tmp_path, conf_dir, data_dir):
    sweep = tmp_path / "resume"
    command = [sys.executable, "-m", "gnnexp", "train", "-m", "--config-dir", str(conf_dir), "hparams_search=tiny",
               *DATA, "hydra.sweeper.n_trials=4", "trainer.max_epochs=400",
               "trainer.patience=null", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    env = {**os.environ, "GNNEXP_DATA_DIR": str(data_dir)}
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    metrics = sweep / "trial_1" / "metrics.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.is_file() and len(metrics.read_text().splitlines()) > 5):
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    study = _study(sweep)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL"], states
    assert study.trials[1].system_attrs[INTERRUPTED]

    second = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert second.returncode == 0, second.err
    assert "2 trials recorded (1 interrupted), 3 to run" in second.stdout
    study = _study(sweep)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert sorted(p.name for p in sweep.glob("trial_*")) == [
        f"trial_{n}" for n in range(5)
    ]  # numbering went on
    assert "3 failed" not in second.stdout and "4 complete" in second.stdout


@pytest.mark.slow
def test_two_worker_processes_run_every_trial_once_with_a_core_each(tmp_path, conf_dir, data_dir):
    sweep = tmp_path / "workers"
    command = [sys.executable, "-m", "gnnexp", "train", "-m", "--config-dir", str(conf_dir), "hparams_search=tiny",
               *DATA, "trainer.max_epochs=10", "hydra.sweeper.n_workers=2", "hydra.sweeper.n_trials=4",
               f"hydra.sweep.dir={sweep}"]  # fmt: skip
    env = {**os.environ, "GNNEXP_DATA_DIR": str(data_dir)}
    env.pop("OMP_NUM_THREADS", None)
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    study = _study(sweep)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    dirs = [json.loads((sweep / f"trial_{n}" / "results.json").read_text()) for n in range(4)]
    assert [d["trial"] for d in dirs] == [0, 1, 2, 3]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert all(1 <= d["threads"]["count"] <= max(1, cores // 2) for d in dirs)  # a share of the cores each
    assert all((sweep / f"trial_{n}" / "console.log").is_file() for n in range(4))  # tables kept apart
    # The second worker ran trials too, and left the outcome and the summary to the first.
    helper = (sweep / "worker_1.log").read_text()
    assert "[optuna] trial " in helper and "study tiny" not in helper
    assert "1 more worker: output in" in result.stdout and "study tiny: 4 trials: 4 complete" in result.stdout
    assert json.loads((sweep / "study.json").read_text())["counts"]["complete"] == 4


@pytest.mark.slow
def test_two_workers_through_an_explicit_joblib_launcher_run_every_trial_once(gnnexp, tmp_path, conf_dir):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "joblib"
    result = gnnexp("-m", "--config-dir", str(conf_dir), "hparams_search=tiny", *DATA, "trainer.max_epochs=5",
                    "hydra/launcher=joblib", "hydra.sweeper.n_workers=2", "hydra.sweeper.n_trials=3",
                    run_dir=sweep)  # fmt: skip
    assert result.code == 0, result.err
    assert sorted(t.number for t in _study(sweep).trials) == [0, 1, 2]
    assert [json.loads((sweep / f"trial_{n}" / "results.json").read_text())["trial"] for n in range(3)] == [
        0,
        1,
        2,
    ]


def _long_search(conf_dir: Path, sweep: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "gnnexp", "train", "-m", "--config-dir", str(conf_dir), "hparams_search=tiny",
            *DATA, "hydra.sweeper.n_trials=4", "trainer.max_epochs=1500", "trainer.patience=null",
            f"hydra.sweeper.n_workers={workers}", f"hydra.sweep.dir={sweep}"]  # fmt: skip


def _wait_for_epochs(sweep: Path, trials: tuple[int, ...], deadline_s: float = 120) -> None:
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        files = [sweep / f"trial_{n}" / "metrics.csv" for n in trials]
        if all(f.is_file() and len(f.read_text().splitlines()) > 5 for f in files):
            return
        time.sleep(0.1)
    raise AssertionError(f"trials {trials} did not start in {deadline_s} s")


def _processes_of(sweep: Path) -> list[int]:
    """Live processes started for this sweep (every worker carries it on its command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(sweep) in (entry / "cmdline").read_text():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_ctrl_c_stops_two_workers_which_save_and_the_rerun_completes(tmp_path, conf_dir, data_dir):
    sweep = tmp_path / "ctrl_c"
    env = {**os.environ, "GNNEXP_DATA_DIR": str(data_dir)}
    # A terminal sends Ctrl-C to its foreground process group: the search's own here.
    first = subprocess.Popen(_long_search(conf_dir, sweep, 2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=REPO, start_new_session=True)  # fmt: skip
    _wait_for_epochs(sweep, (0, 1))
    os.killpg(first.pid, signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "stopping now" not in err  # one Ctrl-C reached each run: they finished the epoch and saved
    study = _study(sweep)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]
    assert all(t.system_attrs[INTERRUPTED] for t in study.trials)
    for n in (0, 1):
        assert json.loads((sweep / f"trial_{n}" / "failed.json").read_text())["status"] == "interrupted"
    assert _processes_of(sweep) == []

    second = subprocess.run(_long_search(conf_dir, sweep, 2), capture_output=True, text=True, env=env, cwd=REPO,
                            timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "2 trials recorded (2 interrupted), 4 to run" in second.stdout
    states = [t.state.name for t in _study(sweep).trials]
    assert states == ["FAIL", "FAIL", "COMPLETE", "COMPLETE", "COMPLETE", "COMPLETE"], states


def test_the_old_optuna_plugin_is_in_no_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [dep for deps in project["optional-dependencies"].values() for dep in deps]
    assert not [d for d in wanted if "hydra-optuna-sweeper" in d]
    assert any(d.startswith("optuna>=4") for d in project["optional-dependencies"]["optuna"])


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["hydra.sweeper.direction=max"], "hydra.sweeper.direction 'max' is not minimize or maximize"),
        (["hydra.sweeper.direction=minimize"], "the search would pick the worst trial"),
        (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 is invalid"),
        (["hydra.sweeper.directions=[maximize,minimize]"], "2 directions but 1 objectives"),
        (["model.dropout=interval(0.8,0.2)"], "is not a range Optuna can sample"),
        (["hydra.sweeper.storage=nosuch://x"], "Cannot open the study storage nosuch://x"),
        (["hydra.sweeper.pruner=median"], "hydra.sweeper.pruner=median is not a mapping"),
        (
            ["hydra.sweeper.objectives=[num_parms]"],
            "objective 'num_parms' is not a numeric key of results.json",
        ),
    ],
)
def test_a_wrong_search_ends_in_one_line(gnnexp, conf_dir, tmp_path, extra, said):
    result = gnnexp("-m", "--config-dir", str(conf_dir), "hparams_search=tiny", *DATA, "trainer.max_epochs=2",
                    "hydra.sweeper.n_trials=2", *extra, run_dir=tmp_path / "bad")  # fmt: skip
    assert result.code != 0
    assert said in result.err and "Traceback" not in result.err + result.out, result.err


def test_a_sweep_dir_keeps_its_one_study_and_its_settings(gnnexp, conf_dir, tmp_path):
    sweep = tmp_path / "one"
    common = ("-m", "--config-dir", str(conf_dir), "hparams_search=tiny", *DATA, "hydra.sweeper.n_trials=1")
    assert gnnexp(*common, "trainer.max_epochs=2", run_dir=sweep).code == 0
    before = (sweep / "trial_0" / "results.json").read_bytes()
    other = gnnexp(*common, "trainer.max_epochs=2", "hydra.sweeper.study_name=other", run_dir=sweep)
    assert other.code != 0 and "holds the search 'tiny'" in other.err
    changed = gnnexp(*common, "trainer.max_epochs=3", "hydra.sweeper.n_trials=2", run_dir=sweep)
    assert changed.code != 0 and "was run with other settings or another search space" in changed.err
    assert (sweep / "trial_0" / "results.json").read_bytes() == before  # nothing replaced
    assert not (sweep / "trial_1").exists()
    (sweep / "study.json").write_text('{"trials": [{}]}')
    damaged = gnnexp(str(sweep), command="summarize")
    assert damaged.code != 0 and "study.json is damaged" in damaged.err


def test_a_grid_search_takes_its_grid_from_the_choices_and_runs_it_once(gnnexp, conf_dir, tmp_path):
    sweep = tmp_path / "grid"
    grid = ("-m", "--config-dir", str(conf_dir), "hparams_search=tiny", *DATA, "trainer.max_epochs=2",
            "hydra.sweeper.sampler._target_=optuna.samplers.GridSampler", "~hydra.sweeper.sampler.seed",
            "hydra.sweeper.n_trials=10")  # fmt: skip
    result = gnnexp(*grid, run_dir=sweep)
    assert result.code == 0, result.err
    points = {tuple(sorted(t.params.items())) for t in _study(sweep).trials}
    assert len(_study(sweep).trials) == 6 and len(points) == 6  # lr x hidden: each point once
    again = gnnexp(*grid, run_dir=sweep)
    assert again.code == 0 and "0 to run" in again.out and len(_study(sweep).trials) == 6
