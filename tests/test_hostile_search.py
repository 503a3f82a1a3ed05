"""Searches pointed at what they must not touch: another search's directory or storage, a torn
journal, a foreign study, a trial to resume, a plain sweep, stop signals, impossible settings.

Each refusal is one line with a non-zero exit, and the earlier search's files keep their bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from gnnexp.cli import main
from gnnexp.search.driver import INTERRUPTED, WORKER, fail_stale
from gnnexp.search.outcome import study_record, write_outcome
from gnnexp.search.studies import open_storage, repair_journal
from tests.conftest import REPO
from tests.test_search import DATA, TINY, _long_search, _processes_of, _wait_for_epochs

SEARCH = ("-m", "hparams_search=tiny", *DATA, "trainer.max_epochs=2", "hydra.sweeper.n_trials=2")


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conf")
    (root / "hparams_search").mkdir()
    (root / "hparams_search" / "tiny.yaml").write_text(TINY)
    return root


@pytest.fixture(scope="module")
def finished(conf: Path, tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """One finished two-trial search, copied by each test that needs one."""
    sweep = tmp_path_factory.mktemp("finished") / "search"
    code = main(["train", "--config-dir", str(conf), *SEARCH, f"hydra.sweep.dir={sweep}"])
    assert code == 0 and (sweep / "trial_1" / "checkpoints" / "last.pt").is_file()
    return sweep


@pytest.fixture
def search(finished: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "search"
    shutil.copytree(finished, copy)
    return copy


def hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` by its path, with its bytes' hash: nothing added, removed or changed."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def refused(result, said: str) -> None:
    assert result.code != 0, result.out
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and said in lines[0], result.err
    assert "Traceback" not in result.out + result.err


def run_search(gnnexp, conf: Path, sweep: Path, *extra: str):
    return gnnexp("--config-dir", str(conf), *SEARCH, *extra, run_dir=sweep)


# 1. Another storage, or no journal any more: the trial directories are another search's.


@pytest.mark.parametrize("storage", ["other.journal", "sqlite"])
def test_a_search_with_another_storage_leaves_the_first_searchs_trials(
    gnnexp, conf, search, tmp_path, storage
):
    before = hashes(search)
    spec = f"sqlite:///{tmp_path / 'other.db'}" if storage == "sqlite" else str(tmp_path / storage)
    result = run_search(gnnexp, conf, search, f"hydra.sweeper.storage={spec}")
    refused(result, f"{search} holds the trials of an earlier search (2 trial directories)")
    assert "resume that one with its storage: hydra.sweeper.storage=" in result.err
    assert hashes(search) == before


def test_a_search_whose_journal_was_deleted_leaves_its_trials(gnnexp, conf, search):
    (search / "optuna.journal").unlink()
    before = hashes(search)
    result = run_search(gnnexp, conf, search)
    refused(result, "there is no journal")
    assert "give this search its own hydra.sweep.dir" in result.err
    assert hashes(search) == before  # and no new, empty journal either


# 2. A torn last record: reported, cut off (the original kept), and the search goes on.


def test_a_torn_last_record_is_cut_off_and_kept_beside_the_journal(tmp_path):
    journal = tmp_path / "optuna.journal"
    study = optuna.create_study(study_name="s", storage=open_storage(str(journal)))
    study.tell(study.ask(), 1.0)
    whole = journal.read_bytes()
    assert repair_journal(journal) is None and journal.read_bytes() == whole  # nothing to repair
    journal.write_bytes(whole + b'{"op_code": 4, "worker_id": "x", "stu')  # a full disk mid-write
    said = repair_journal(journal)
    assert said is not None and "last record was cut short (37 bytes" in said
    assert journal.read_bytes() == whole
    assert (
        tmp_path / "optuna.journal.torn-1"
    ).read_bytes() == whole + b'{"op_code": 4, "worker_id": "x", "stu'
    journal.write_bytes(whole + b"\x00" * 10 + b"\n")  # zeros, as some file systems leave
    assert repair_journal(journal) is not None and journal.read_bytes() == whole
    assert (tmp_path / "optuna.journal.torn-2").read_bytes() == whole + b"\x00" * 10 + b"\n"
    again = optuna.load_study(study_name="s", storage=open_storage(str(journal)))
    again.tell(again.ask(), 2.0)  # appends are well-formed again
    assert [
        t.value for t in optuna.load_study(study_name="s", storage=open_storage(str(journal))).trials
    ] == [
        1.0,
        2.0,
    ]


def test_a_search_resumes_over_a_torn_journal(gnnexp, conf, search):
    journal = search / "optuna.journal"
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"op_code": 5, "worker_id": "')
    trials = hashes(search / "trial_0") | hashes(search / "trial_1")
    result = run_search(gnnexp, conf, search, "hydra.sweeper.n_trials=3")
    assert result.code == 0, result.err
    assert f"{journal}: its last record was cut short (29 bytes" in result.out
    assert (search / "optuna.journal.torn-1").read_bytes() == whole + b'{"op_code": 5, "worker_id": "'
    assert "2 trials recorded, 1 to run" in result.out
    assert hashes(search / "trial_0") | hashes(search / "trial_1") == trials
    study = optuna.load_study(study_name="tiny", storage=open_storage(str(journal)))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    again = run_search(gnnexp, conf, search, "hydra.sweeper.n_trials=3")
    assert again.code == 0 and "0 to run" in again.out and "cut short" not in again.out


# 3. A study that is not this search's is not adopted.


def test_a_foreign_study_in_the_sweep_dirs_journal_is_refused(gnnexp, conf, tmp_path):
    sweep = tmp_path / "foreign"
    sweep.mkdir()
    storage = open_storage(str(sweep / "optuna.journal"))
    made = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    made.tell(made.ask(), 0.99)  # a study no gnnexp search made, under the same name
    before = hashes(sweep)
    refused(run_search(gnnexp, conf, sweep), "holds 1 trials that no gnnexp search made")
    other = tmp_path / "other"
    other.mkdir()
    optuna.create_study(study_name="mine", storage=open_storage(str(other / "optuna.journal")))
    before_other = hashes(other)
    # The sweep dir's own journal named explicitly is still this directory's one search.
    refused(
        run_search(gnnexp, conf, other, f"hydra.sweeper.storage={other / 'optuna.journal'}"),
        "holds the search 'mine'",
    )
    assert hashes(sweep) == before and hashes(other) == before_other


def test_a_study_with_other_objectives_is_refused(gnnexp, conf, search):
    before = hashes(search)
    result = run_search(
        gnnexp, conf, search, "hydra.sweeper.directions=[maximize]", "hydra.sweeper.objectives=[num_params]"
    )
    refused(result, "was run with other settings or another search space (objectives: best_value")
    assert hashes(search) == before


def test_a_shared_storage_does_not_hand_one_searchs_study_to_another_dir(gnnexp, conf, tmp_path):
    shared = f"hydra.sweeper.storage={tmp_path / 'shared.journal'}"
    first = tmp_path / "first"
    assert run_search(gnnexp, conf, first, shared, "hydra.sweeper.n_trials=1").code == 0
    before, journal = hashes(first), (tmp_path / "shared.journal").read_bytes()
    result = run_search(gnnexp, conf, tmp_path / "second", shared, "hydra.sweeper.n_trials=1")
    refused(result, f"The study 'tiny' in {tmp_path / 'shared.journal'} is the search in {first}")
    assert f"resume it with hydra.sweep.dir={first}" in result.err
    assert hashes(first) == before and (tmp_path / "shared.journal").read_bytes() == journal
    assert not list((tmp_path / "second").glob("trial_*"))


# 4. trainer.resume on a trial's directory: the search resumes its trials; this refuses in one line.


def test_resuming_one_trial_says_how_to_resume_the_search(gnnexp, conf, search, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a new search would put its default sweep dir
    before = hashes(search)
    result = gnnexp("--config-dir", str(conf), f"trainer.resume={search / 'trial_1'}")
    refused(result, f"{search / 'trial_1'} is trial 1 of a search, which its search resumes")
    assert f"re-run the search's command with hydra.sweep.dir={search}" in result.err
    assert "to train this trial's settings alone: gnnexp train hparams_search=tiny" in result.err
    assert "hydra.mode=RUN" in result.err and "trial.number" not in result.err
    assert hashes(search) == before
    assert not (tmp_path / "outputs").exists()  # no new search started


# 6. A plain sweep into a search's directory.


def test_a_plain_sweep_into_a_search_dir_is_refused(gnnexp, search):
    before = hashes(search)
    result = gnnexp("-m", *DATA, "trainer.max_epochs=2", "model.hidden_channels=8,16", run_dir=search)
    refused(result, f"{search} holds a search (study.json, optuna.journal, optuna.lock)")
    assert "give the sweep its own hydra.sweep.dir" in result.err
    assert hashes(search) == before


# 7. Impossible settings, one line each; values that are no number do not reach the outcome.


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["optimizer.lr=tag(lgo, interval(0.001, 0.1))"], "unknown tag 'lgo'"),
        (["optimizer.lr=interval(0.001, inf)"], "an interval needs two finite numbers, not 0.001 and inf"),
        (["hydra.sweeper.max_failure_rate=-1"], "hydra.sweeper.max_failure_rate=-1.0 is invalid"),
        (["hydra.sweeper.max_failure_rate=1.5"], "hydra.sweeper.max_failure_rate=1.5 is invalid"),
    ],
)
def test_an_impossible_search_setting_is_one_line(gnnexp, conf, tmp_path, extra, said):
    sweep = tmp_path / "bad"
    result = run_search(gnnexp, conf, sweep, *extra)
    refused(result, said)
    assert not list(sweep.glob("trial_*")) and not (sweep / "optuna.journal").exists()
    if "tag" in extra[0]:
        assert "tag(log, interval(" in result.err  # the valid choice


def test_values_that_are_no_number_are_neither_best_nor_written(tmp_path):
    study = optuna.create_study(direction="maximize")
    for value in (float("inf"), 0.5, 0.7):
        study.tell(study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}), value)
    record = study_record(study, ["best_value"], [])
    write_outcome(tmp_path, record, {"accuracy": float("nan"), "loss": 0.3})

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} written into study.json")

    written = json.loads((tmp_path / "study.json").read_text(), parse_constant=no_constants)
    assert [t["values"] for t in written["trials"]] == [None, [0.5], [0.7]]
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert best["trial"] == 2 and best["value"] == 0.7
    assert best["test"] == {"accuracy": None, "loss": 0.3}


# 5. Stop signals: every worker stops as on Ctrl-C; no trial is left running.


def test_a_trial_of_a_dead_worker_on_this_machine_is_failed_at_once(tmp_path):
    import socket
    import time

    storage = open_storage(str(tmp_path / "j"))
    study = optuna.create_study(study_name="w", storage=storage)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead, alive = study.ask(), study.ask()
    for trial, pid in ((dead, int(gone.stdout)), (alive, os.getppid())):
        storage.set_trial_system_attr(
            trial._trial_id, "gnnexp:heartbeat", time.time()
        )  # beating a moment ago
        storage.set_trial_system_attr(trial._trial_id, WORKER, [socket.gethostname(), pid])
    assert fail_stale(study, storage) == [dead.number]
    states = {t.number: (t.state.name, t.system_attrs.get(INTERRUPTED)) for t in study.get_trials()}
    assert states == {dead.number: ("FAIL", True), alive.number: ("RUNNING", None)}


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("to", ["first worker", "process group"])
def test_sigterm_stops_every_worker_and_an_immediate_resume_counts_none_running(conf, tmp_path, data_dir, to):
    sweep = tmp_path / "term"
    env = {**os.environ, "GNNEXP_DATA_DIR": str(data_dir)}
    first = subprocess.Popen(_long_search(conf, sweep, 2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=REPO, start_new_session=True)  # fmt: skip
    _wait_for_epochs(sweep, (0, 1))
    if to == "first worker":  # kill PID
        first.send_signal(signal.SIGTERM)
    else:  # timeout, a scheduler: every process of the search
        os.killpg(first.pid, signal.SIGTERM)
    _, err = first.communicate(timeout=180)
    assert first.returncode in (130, 143), err
    assert "Traceback" not in err
    assert _processes_of(sweep) == []
    study = optuna.load_study(study_name="tiny", storage=open_storage(str(sweep / "optuna.journal")))
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]
    assert all(t.system_attrs[INTERRUPTED] for t in study.trials)
    for n in (0, 1):  # each finished its epoch and saved, as on a Ctrl-C
        failure = json.loads((sweep / f"trial_{n}" / "failed.json").read_text())
        assert failure["status"] == "interrupted"
    assert "stopping now" not in (sweep / "worker_1.log").read_text()
    # The same command again at once: it reports both as interrupted, and is stopped once it has.
    resumed = subprocess.Popen(_long_search(conf, sweep, 1), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=REPO, start_new_session=True)  # fmt: skip
    assert resumed.stdout is not None
    line = next((line for line in resumed.stdout if "resuming" in line), "")
    os.killpg(resumed.pid, signal.SIGINT)
    resumed.communicate(timeout=180)
    assert "resuming study tiny: 2 trials recorded (2 interrupted), 4 to run" in line, line
