"""Interrupts, resume, eval, non-finite guards and write failures."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gnnexp.training.checkpoint import load_checkpoint
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


# The signals of these tests come from inside the run, at a chosen point, through the real
# handlers: a signal sent from outside lands wherever the run happens to be on a busy machine.
# signal.raise_signal delivers to the calling (main) thread and runs the handler before it returns.
SIGNALLING_CHILD = """
import signal, sys
from gnnexp.tasks.node import NodeTask
from gnnexp.training.interrupt import StopOnSignal, signalled

sig, at, twice = signal.Signals[sys.argv[1]], int(sys.argv[2]), sys.argv[3] == "twice"
del sys.argv[1:4]
end_of_epoch, loss = StopOnSignal.on_epoch_end, NodeTask.training_loss

def on_epoch_end(self, state, record):
    if record.epoch == at and not twice:
        signal.raise_signal(sig)  # this epoch is the last
    end_of_epoch(self, state, record)
    if record.epoch == at and twice:
        signal.raise_signal(sig)  # asks to stop after the next epoch

def training_loss(self, model, batch):
    if twice and signalled():
        signal.raise_signal(sig)  # the second signal, in the middle of that next epoch
    return loss(self, model, batch)

StopOnSignal.on_epoch_end, NodeTask.training_loss = on_epoch_end, training_loss
from gnnexp.cli import run
run()
"""


def _start(
    run_dir: Path, *args: str, signal_at: tuple[str, int, str] = ("SIGINT", 0, "once")
) -> subprocess.Popen:
    """``gnnexp train`` that signals itself at the end of epoch ``signal_at[1]`` (0: never)."""
    name, epoch, times = signal_at
    return subprocess.Popen(
        [sys.executable, "-c", SIGNALLING_CHILD, name, str(epoch), times, "train", *RUN, *args,
         f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_sigint_stops_cleanly_and_resume_matches_the_uninterrupted_run(gnnexp, tmp_path):
    run_dir = tmp_path / "interrupted"
    proc = _start(run_dir, signal_at=("SIGINT", 20, "once"))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "finishing this epoch" in err
    assert f"gnnexp train trainer.resume={run_dir}" in out
    stopped = len(_rows(run_dir / "metrics.csv")) - 1
    assert stopped == 20  # the epoch the signal arrived in was finished, and no other
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
    proc = _start(run_dir, signal_at=("SIGTERM", 5, "once"))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    assert "SIGTERM: finishing this epoch" in err
    assert len(_rows(run_dir / "metrics.csv")) - 1 == 5
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 5
    assert json.loads((run_dir / "failed.json").read_text())["status"] == "interrupted"


def test_second_sigint_exits_at_once_without_corrupting_files(tmp_path):
    run_dir = tmp_path / "twice"
    # The first SIGINT comes after epoch 2, the second while epoch 3 trains.
    proc = _start(run_dir, "trainer.max_epochs=1000", signal_at=("SIGINT", 2, "twice"))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "SIGINT: finishing this epoch" in err and "again: stopping now" in err
    assert not (run_dir / "checkpoints" / "last.pt").exists()  # it did not wait for epoch 3 to end
    rows = _rows(run_dir / "metrics.csv")
    assert rows[0][0] == "epoch" and all(len(r) == len(rows[0]) for r in rows)  # every row complete
    assert [int(r[0]) for r in rows[1:]] == [1, 2]
    assert load_checkpoint(run_dir / "checkpoints" / "best.pt")["epoch"] in (1, 2)  # still valid
    assert not list(run_dir.glob("**/*.tmp"))
    assert not (run_dir / "results.json").exists()


def test_a_second_signal_exits_at_once_with_its_status(monkeypatch, capsys):
    """The handler itself, without a process: the first asks, the second exits 128 + signal."""
    from gnnexp.training import interrupt

    exits: list[int] = []
    monkeypatch.setattr(interrupt.os, "_exit", exits.append)
    stop = interrupt.StopOnSignal()
    stop._handle(signal.SIGTERM, None)
    assert stop() and stop.exit_code == 143 and exits == []
    stop._handle(signal.SIGINT, None)
    assert exits == [130]
    err = capsys.readouterr().err
    assert "SIGTERM: finishing this epoch" in err and "SIGINT again: stopping now" in err


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


# Sends SIGINT to itself while gnnexp imports MODULE (a name from argv[1]), before any training.
SIGINT_WHILE_IMPORTING = """
import signal, sys

class Interrupting:
    module = sys.argv.pop(1)

    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            signal.raise_signal(signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupting())
from gnnexp.cli import run
run()
"""


@pytest.mark.parametrize("module", ["numpy", "hydra", "torch", "torch_geometric"])
def test_ctrl_c_at_start_up_stops_with_130(tmp_path, module):
    """Ctrl-C while torch imports and configs compose: status 130, no traceback, no result."""
    process = subprocess.run(
        [sys.executable, "-c", SIGINT_WHILE_IMPORTING, module, "train", *FAST, "trainer.max_epochs=400",
         "trainer.patience=null", f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert process.returncode == 130, process.stderr
    assert "Traceback" not in process.stdout + process.stderr
    assert "interrupted" in process.stderr
    assert not (tmp_path / "run" / "results.json").exists()
    rows = _rows(tmp_path / "run" / "metrics.csv")  # a swallowed Ctrl-C stops after the first epoch
    assert len(rows) <= 2


def test_a_ctrl_c_swallowed_during_start_up_still_stops_the_run(capsys):
    """Some C code clears a KeyboardInterrupt raised into it; the loop must still stop."""
    from gnnexp.training.interrupt import StopOnSignal
    from gnnexp.util import early_interrupt

    with early_interrupt.watch():
        with contextlib.suppress(KeyboardInterrupt):  # what the swallowing library does
            signal.raise_signal(signal.SIGINT)  # the handler runs before this returns
        stop = StopOnSignal()
        with stop:
            assert stop() and stop.exit_code == 130
        assert not early_interrupt.received()  # taken by the loop, not counted twice
    assert "SIGINT: finishing this epoch" in capsys.readouterr().err


def test_a_command_that_ends_well_after_a_swallowed_ctrl_c_exits_130(monkeypatch, capsys):
    import types

    from gnnexp import cli

    def swallowing_main(rest):
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        return 0

    monkeypatch.setitem(
        sys.modules, "gnnexp.commands.list_configs", types.SimpleNamespace(main=swallowing_main)
    )
    # Python's own handler first: an earlier test in this worker may have left another.
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert cli.main(["list"]) == 130
        assert capsys.readouterr().err.strip() == "gnnexp: interrupted."
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    finally:
        signal.signal(signal.SIGINT, outer)
