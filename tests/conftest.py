"""Shared fixtures: a private copy of the datasets and an in-process ``gnnexp`` runner."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gnnexp.cli import main

REPO = Path(__file__).resolve().parents[1]


def _offline_copy() -> Path | None:
    """Raw dataset files shipped beside the repo (CI) or named by GNNEXP_TEST_DATA."""
    for candidate in (os.environ.get("GNNEXP_TEST_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "Planetoid" / "Cora" / "raw").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable data dir for the whole session, exported as GNNEXP_DATA_DIR.

    The shared copy is read-only and PyG writes ``processed/`` next to ``raw/``, so the
    files are copied. Without an offline copy PyG downloads into the same temp dir.
    """
    target = tmp_path_factory.mktemp("data")
    source = _offline_copy()
    if source is not None:
        shutil.copytree(source, target, dirs_exist_ok=True)
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    os.environ["GNNEXP_DATA_DIR"] = str(target)
    return target


@dataclass
class Result:
    code: int
    out: str
    err: str
    run_dir: Path

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "results.json").read_text())

    def metrics(self) -> list[dict[str, str]]:
        with open(self.run_dir / "metrics.csv") as f:
            return list(csv.DictReader(f))

    def column(self, name: str) -> list[float]:
        return [float(row[name]) for row in self.metrics() if row[name] != ""]


@pytest.fixture
def gnnexp(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Run ``gnnexp train ARGS`` in-process with its output dir under tmp_path."""
    counter = iter(range(1000))

    def run(*args: str, command: str = "train", run_dir: Path | None = None) -> Result:
        run_dir = run_dir or tmp_path / f"run{next(counter)}"
        argv = [command, *args]
        resuming = any(a.startswith("trainer.resume=") for a in args)  # goes back to the run's dir
        if command == "train" and not resuming:
            multirun = "-m" in args or "--multirun" in args
            argv.append(f"hydra.{'sweep' if multirun else 'run'}.dir={run_dir}")
        code = main(argv)
        out, err = capsys.readouterr()
        return Result(code, out, err, run_dir)

    return run


# What `make test-fast` (pytest -m "not slow") leaves out; `make test` runs everything. Kept
# here rather than as marks in the test files so the subset is chosen in one place: a whole
# file, or one test with all its parameters by its node id without them. The tests listed
# took 6 s or more each under `pytest --durations=0` (load 6-9 on 2 cores); the files are
# end-to-end matrices (documented commands, hostile inputs, launchers, searches, OGB,
# molecules, packaging). A test renamed here falls into the fast subset, never out of CI.
SLOW_FILES = {
    "tests/test_readme.py",  # every documented command: ~7 minutes
    "tests/test_hostile.py",
    "tests/test_bad_input.py",
    "tests/test_ecosystem.py",
    "tests/test_search.py",
    "tests/test_packaging.py",
    "tests/test_ogb.py",
    "tests/test_molecules.py",
    "tests/test_hostile_trust.py",
    "tests/test_hostile_rough.py",
    "tests/test_hostile_search.py",
    "tests/test_hostile_more.py",
}
SLOW_TESTS = {
    # three trainings of 40 epochs (HGT, R-GCN, MLP) on the planted typed graph; a sweep of two jobs
    "tests/test_hetero.py::test_native_models_find_the_planted_signal_and_features_alone_do_not",
    "tests/test_hetero.py::test_a_sweep_over_typed_models",
    "tests/test_components.py::test_a_built_in_model_and_logger_are_one_class_and_one_yaml_each",
    "tests/test_components.py::test_a_forged_checkpoint_runs_no_code",
    "tests/test_components.py::test_a_model_and_a_tracker_of_ones_own_train_and_are_listed",
    "tests/test_components.py::test_a_plain_user_class_gets_its_own_keys",
    "tests/test_components.py::test_eval_accepts_and_refuses_what_train_does",
    "tests/test_components.py::test_trainer_deterministic_sets_torchs_mode",
    "tests/test_parallel.py::test_a_parallel_sweep_prints_job_lines_not_interleaved_tables",
    "tests/test_reliability.py::test_eval_reproduces_the_recorded_test_metric_exactly",
    "tests/test_reliability.py::test_resume_latest_and_changed_shape",
    "tests/test_reliability.py::test_second_sigint_exits_at_once_without_corrupting_files",
    "tests/test_reliability.py::test_sigint_stops_cleanly_and_resume_matches_the_uninterrupted_run",
    "tests/test_reliability.py::test_sigterm_saves_last_checkpoint_and_exits_143",
    "tests/test_sampling.py::test_peak_memory_grows_with_batch_size_not_with_training_nodes",
    "tests/test_sampling.py::test_sampling_is_uniform_on_a_star",
    "tests/test_speed_paths.py::test_compile_option_trains",
    "tests/test_speed_paths.py::test_ddp_under_torchrun",
    "tests/test_speed_paths.py::test_ddp_with_two_gloo_processes_matches_single_process",
    "tests/test_speed_paths.py::test_fast_paths_can_be_turned_off",
    "tests/test_speed_paths.py::test_fast_paths_give_identical_eval_outputs",
    "tests/test_speed_paths.py::test_fast_paths_give_identical_gradients",
    "tests/test_speed_paths.py::test_full_graph_passes_compute_only_the_targets_needs",
    "tests/test_speed_paths.py::test_mixed_precision_trains_on_cpu",
    "tests/test_speed_paths.py::test_sampled_batches_give_identical_seed_outputs_and_gradients",
    "tests/test_sweeps.py::test_a_failing_job_does_not_stop_the_sweep",
    "tests/test_sweeps.py::test_consecutive_jobs_reuse_the_loaded_dataset",
    "tests/test_sweeps.py::test_grid_of_two_by_two_and_its_summary",
    "tests/test_sweeps.py::test_joblib_launcher_with_two_workers",
    "tests/test_sweeps.py::test_multirun_works_for_every_task",
    "tests/test_sweeps.py::test_submitit_local_launcher",
    "tests/test_sweeps.py::test_summarize_command_and_its_formats",
    "tests/test_sweeps.py::test_unfinished_jobs_are_marked_not_crashed_on",
    "tests/test_tasks.py::test_any_model_is_a_graph_encoder",
    "tests/test_tasks.py::test_bad_files_name_the_file_and_row",
    "tests/test_tasks.py::test_gin_on_mutag_ten_fold_target",
    "tests/test_tasks.py::test_graph_classification_end_to_end",
    "tests/test_tasks.py::test_graph_regression",
    "tests/test_tasks.py::test_link_prediction_gcn_on_cora",
    "tests/test_tasks.py::test_neighbor_sampling_matches_full_batch_sage_on_cora",
    "tests/test_tasks.py::test_over_smoothing_mitigations_help_a_deep_gcn",
    "tests/test_tasks.py::test_results_of_every_task_have_the_same_shape",
    "tests/test_tasks.py::test_xu_et_al_protocol_reports_the_epoch_with_the_best_mean_over_the_held_out_folds",
    "tests/test_train.py::test_early_stopping_stops_at_the_right_epoch",
    "tests/test_train.py::test_every_model_trains",
    "tests/test_train.py::test_gat_on_cora_reaches_published_accuracy",
    "tests/test_train.py::test_multirun_writes_one_dir_per_job",
    "tests/test_train.py::test_same_command_twice_gives_identical_epochs",
    "tests/test_train.py::test_scheduler_changes_lr_as_documented",
    # A gnnexp subprocess on a pseudo-terminal (imports torch): ~8 s.
    "tests/test_wandb.py::test_online_without_a_login_names_wandb_login_and_never_prompts",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::")[0] in SLOW_FILES or item.nodeid.split("[")[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    # A renamed or deleted slow test would otherwise slip into make test-fast unnoticed: when
    # every test is collected, each listed one must exist.
    collected = {item.nodeid.split("[")[0] for item in items}
    if not config.getoption("keyword") and {i.nodeid.split("::")[0] for i in items} >= {
        f for f in SLOW_FILES if (REPO / f).exists()
    }:
        stale = sorted(SLOW_TESTS - collected)
        if stale:
            raise pytest.UsageError(f"tests/conftest.py SLOW_TESTS names tests that do not exist: {stale}")


# Small, fast settings for end-to-end tests that are not about accuracy.
FAST = ("dataset=synthetic", "dataset.num_nodes=300", "trainer.max_epochs=8")


@pytest.fixture(autouse=True)
def _no_logging_handlers_on_closed_streams():
    """An in-process Hydra run points the logging handlers it configures at the stderr of
    that moment, which is pytest's capture stream of that test; once the test ends the
    stream is closed, and the next test that logs gets Python's own "--- Logging error ---"
    report on its stderr. Handlers left on a closed stream are detached after each test."""
    import logging

    yield
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in list(getattr(logger, "handlers", [])):
            stream = getattr(handler, "stream", None)
            if stream is not None and getattr(stream, "closed", False):
                logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def _joblib_workers_end_with_their_test():
    """joblib keeps its worker processes for the next sweep of this process; they keep the
    working directory they started in, so a later test that changed directory would see a
    relative sweep dir land elsewhere. Each test that started workers ends them."""
    yield
    import sys

    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)
