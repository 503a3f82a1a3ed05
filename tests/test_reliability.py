"""Interrupts, resume, eval, non-finite guards and write failures."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gnnexp.checkpoint import load_checkpoint
from tests.conftest import FAST, REPO

# A fixed thread count: runs compared bit for bit must not take different shares of the cores.
RUN = (
    "dataset=synthetic",
    "model=gat",
    "trainer.max_epochs=150",
    "trainer.log_every=50",
    "trainer.num_threads=1",
)


def _rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _without_time(rows: list[list[str]]) -> list[list[str]]:
    return [r[:5] + r[6:] for r in rows]  # drop time_s: the only column allowed to differ


def _start(run_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gnnexp", "train", *RUN, *args, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_rows(run_dir: Path, count: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while len(_rows(run_dir / "metrics.csv")) <= count:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)


def test_sigint_stops_cleanly_and_resume_matches_the_uninterrupted_run(gnnexp, tmp_path):
    run_dir = tmp_path / "interrupted"
    proc = _start(run_dir)
    _wait_for_rows(run_dir, 20, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "finishing this epoch" in err
    assert f"gnnexp train trainer.resume={run_dir}" in out
    stopped = len(_rows(run_dir / "metrics.csv")) - 1
    assert 20 <= stopped < 150
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert last["epoch"] == stopped
    status = json.loads((run_dir / "failed.json").read_text())
    assert status["status"] == "interrupted" and status["epoch"] == stopped
    assert not (run_dir / "results.json").exists()

    resumed = gnnexp(f"trainer.resume={run_dir}")  # the run's own overrides are reused
    assert resumed.code == 0, resumed.err
    assert f"resuming after epoch {stopped}" in resumed.out
    reference = gnnexp(*RUN)
    assert _without_time(_rows(run_dir / "metrics.csv")) == _without_time(
        _rows(reference.run_dir / "metrics.csv")
    )
    with_resume = json.loads((run_dir / "results.json").read_text())
    assert with_resume["test"] == reference.results["test"]
    assert with_resume["best_epoch"] == reference.results["best_epoch"]
    assert not (run_dir / "failed.json").exists()
    assert (run_dir / ".hydra" / "resume" / "overrides.yaml").is_file()  # the original .hydra is kept


def test_sigterm_saves_last_checkpoint_and_exits_143(tmp_path):
    run_dir = tmp_path / "terminated"
    proc = _start(run_dir)
    _wait_for_rows(run_dir, 5, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert (
        load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"]
        == len(_rows(run_dir / "metrics.csv")) - 1
    )


def test_second_sigint_exits_at_once_without_corrupting_files(tmp_path):
    run_dir = tmp_path / "twice"
    proc = _start(run_dir, "trainer.max_epochs=100000", "dataset.num_nodes=60000")
    _wait_for_rows(run_dir, 2, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)  # two signals sent back to back would arrive as one
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "again: stopping now" in err
    assert not (run_dir / "checkpoints" / "last.pt").exists()  # it did not wait for the epoch
    rows = _rows(run_dir / "metrics.csv")
    assert all(len(r) == 7 for r in rows)  # every row complete
    assert [int(r[0]) for r in rows[1:]] == list(range(1, len(rows)))
    load_checkpoint(run_dir / "checkpoints" / "best.pt")  # still a valid checkpoint
    assert not list(run_dir.glob("**/*.tmp"))
    assert not (run_dir / "results.json").exists()


def test_resume_latest_and_changed_shape(gnnexp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = gnnexp(*FAST, "trainer.max_epochs=4", run_dir=tmp_path / "outputs" / "runs" / "a")
    assert first.code == 0
    more = gnnexp("trainer.resume=latest", "trainer.max_epochs=6", run_dir=None)
    assert more.code == 0, more.err
    assert "resuming with changed settings: trainer.max_epochs: 4 -> 6" in more.out
    assert [int(r["epoch"]) for r in first.metrics()] == [1, 2, 3, 4, 5, 6]
    refused = gnnexp(f"trainer.resume={first.run_dir}", "model.hidden_channels=32", run_dir=None)
    assert refused.code == 2
    assert "Cannot resume" in refused.err and "model.hidden_channels: 16 -> 32" in refused.err


@pytest.mark.parametrize(
    "args",
    [FAST, ("dataset=synthetic_graphs", "trainer.max_epochs=5"), ("task=link", *FAST)],
    ids=["node", "graph", "link"],
)
def test_eval_reproduces_the_recorded_test_metric_exactly(gnnexp, args):
    run = gnnexp(*args)
    assert run.code == 0, run.err
    result = gnnexp(str(run.run_dir), command="eval")
    assert result.code == 0, result.err
    written = json.loads((run.run_dir / "eval.json").read_text())
    assert written["metrics"]["test"] == run.results["test"]
    assert written["metrics"]["val"] == run.results["val"]
    assert f"{run.results['test'][run.results['metric']]:.4f}" in result.out


def test_eval_of_a_cross_validation_fold(gnnexp):
    run = gnnexp("dataset=synthetic_graphs", "trainer.folds=3", "trainer.max_epochs=3")
    fold = run.results["folds"][2]  # the third fold, in fold_3
    assert fold["fold"] == 3
    result = gnnexp(str(run.run_dir / "fold_3"), "--split", "test", command="eval")
    assert result.code == 0, result.err
    assert json.loads((run.run_dir / "fold_3" / "eval.json").read_text())["metrics"]["test"] == fold["test"]


def test_eval_with_another_feature_width_is_refused(gnnexp):
    run = gnnexp(*FAST)
    result = gnnexp(str(run.run_dir), "dataset.num_features=7", command="eval")
    assert result.code == 2
    assert "do not fit the model" in result.err and "(16, 32)" in result.err


def _nan_at_call(monkeypatch, n: int) -> None:
    from gnnexp.tasks.node import NodeTask

    original = NodeTask.training_loss
    calls = {"n": 0}

    def loss(self, model, batch):
        calls["n"] += 1
        value = original(self, model, batch)
        return value * float("nan") if calls["n"] == n else value

    monkeypatch.setattr(NodeTask, "training_loss", loss)


def test_nonfinite_loss_stops_naming_the_epoch_and_keeps_the_best(gnnexp, monkeypatch):
    _nan_at_call(monkeypatch, 5)
    result = gnnexp(*FAST, "trainer.max_epochs=20")
    assert result.code == 1
    assert "Training diverged: the loss became non-finite at epoch 5" in result.err
    assert "trainer.nonfinite=skip" in result.err
    res = result.results
    assert res["status"] == "failed" and res["failed_epoch"] == 5
    best = load_checkpoint(result.run_dir / "checkpoints" / "best.pt")
    assert best["epoch"] <= 4
    assert len(result.metrics()) == 4


def test_nonfinite_step_can_be_skipped(gnnexp, monkeypatch):
    _nan_at_call(monkeypatch, 5)
    result = gnnexp(*FAST, "trainer.max_epochs=10", "trainer.nonfinite=skip")
    assert result.code == 0, result.err
    assert result.results["status"] == "completed" and result.results["skipped_steps"] == 1
    losses = [row["train_loss"] for row in result.metrics()]
    assert losses[4] == "nan" and all(v != "nan" for i, v in enumerate(losses) if i != 4)


def test_unwritable_output_dir_is_refused_before_training(gnnexp, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = gnnexp(*FAST, run_dir=blocker / "run")
    assert result.code == 2
    assert "Cannot write" in result.err and "hydra.run.dir" in result.err
    assert "Traceback" not in result.err


def test_full_disk_while_training_leaves_no_partial_results(gnnexp, monkeypatch):
    real_save = torch.save
    calls = {"n": 0}

    def save(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 3:  # the disk stays full from the third write on
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    result = gnnexp(*FAST, "trainer.max_epochs=20", "trainer.checkpoint.best_min_interval_s=0")
    assert result.code == 2
    assert "The disk is full" in result.err and "results.json was not written" in result.err
    assert not (result.run_dir / "results.json").exists()
    assert not list(result.run_dir.glob("**/*.tmp"))
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(result.run_dir / "checkpoints" / "best.pt")["epoch"] == 2  # the last good one


def test_checkpoint_loading_never_runs_code_from_the_file(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    torch.save({"format": "gnnexp-checkpoint/1", "x": Evil()}, path)
    from gnnexp.errors import CheckpointError

    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("delay", [0.2, 0.8, 1.6])
def test_ctrl_c_at_start_up_stops_with_130(tmp_path, delay):
    """Ctrl-C while torch imports and configs compose: status 130, no traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gnnexp", "train", *FAST, "trainer.max_epochs=400", "trainer.patience=null",
         f"hydra.run.dir={tmp_path / 'run'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in out + err


def test_a_ctrl_c_swallowed_during_start_up_still_stops_the_run(capsys):
    """Some C code clears a KeyboardInterrupt raised into it; the loop must still stop."""
    from gnnexp import early_interrupt
    from gnnexp.training.interrupt import StopOnSignal

    with early_interrupt.watch():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the handler runs here
        except KeyboardInterrupt:
            pass  # what the swallowing library does
        stop = StopOnSignal()
        with stop:
            assert stop() and stop.exit_code == 130
        assert not early_interrupt.received()  # taken by the loop, not counted twice
    assert "SIGINT: finishing this epoch" in capsys.readouterr().err


def test_a_command_that_ends_well_after_a_swallowed_ctrl_c_exits_130(monkeypatch, capsys):
    import types

    from gnnexp import cli

    def swallowing_main(rest):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        return 0

    monkeypatch.setitem(
        sys.modules, "gnnexp.commands.list_configs", types.SimpleNamespace(main=swallowing_main)
    )
    assert cli.main(["list"]) == 130
    assert capsys.readouterr().err.strip() == "gnnexp: interrupted."
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
