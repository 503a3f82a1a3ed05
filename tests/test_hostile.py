"""Hostile input across every command: one line naming the fix, the right exit status, and
no earlier result changed (every file of a finished run is hashed before and after).

With tests/test_bad_input.py this makes the matrix the README counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from gnnexp.cli import main
from tests.conftest import FAST

Setup = Callable[[Path, Path], list[str]]  # (tmp dir, finished run) -> extra arguments


@dataclass
class Case:
    id: str
    command: str
    args: list[str]
    fragments: list[str]
    code: int = 2
    setup: Setup | None = None
    lines: int = 1  # lines on stderr (argparse's usage errors print two)
    skip: str | None = field(default=None)


# ----------------------------------------------------------------- setups


def _files(tmp: Path, n: int = 30) -> list[str]:
    (tmp / "edges.csv").write_text("source,target\n" + "".join(f"{i},{(i + 1) % n}\n" for i in range(n)))
    (tmp / "y.csv").write_text("label\n" + "".join(f"{i % 3}\n" for i in range(n)))
    return ["dataset=files", f"dataset.edges={tmp / 'edges.csv'}", f"dataset.labels={tmp / 'y.csv'}"]


def _edges(text: str | bytes) -> Setup:
    def setup(tmp: Path, run: Path) -> list[str]:
        args = _files(tmp)
        path = tmp / "edges.csv"
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
        return args

    return setup


def _labels_npy(array: np.ndarray | bytes, allow_pickle: bool = False) -> Setup:
    def setup(tmp: Path, run: Path) -> list[str]:
        args = _files(tmp)
        path = tmp / "y.npy"
        if isinstance(array, bytes):
            path.write_bytes(array)
        else:
            np.save(path, array, allow_pickle=allow_pickle)
        return [*args[:2], f"dataset.labels={path}"]

    return setup


def _labels_csv(text: str) -> Setup:
    def setup(tmp: Path, run: Path) -> list[str]:
        args = _files(tmp)
        (tmp / "y.csv").write_text(text)
        return args

    return setup


def _features(array: np.ndarray) -> Setup:
    def setup(tmp: Path, run: Path) -> list[str]:
        np.save(tmp / "x.npy", array)
        return [*_files(tmp), f"dataset.features={tmp / 'x.npy'}"]

    return setup


def _run(tmp: Path, run: Path) -> list[str]:
    return [str(run)]


def _run_with(*more: str) -> Setup:
    return lambda tmp, run: [str(run), *more]


def _into_run(tmp: Path, run: Path) -> list[str]:
    return [f"hydra.run.dir={run}"]


def _resume(*more: str) -> Setup:
    return lambda tmp, run: [f"trainer.resume={run}", *more]


def _copy_of_run(edit: Callable[[Path], None], *more: str) -> Setup:
    def setup(tmp: Path, run: Path) -> list[str]:
        copy = tmp / "copy"
        shutil.copytree(run, copy)
        edit(copy)
        return [f"trainer.resume={copy}", *more]

    return setup


def _sweep_dir(edit: Callable[[Path], None]) -> Setup:
    def setup(tmp: Path, run: Path) -> list[str]:
        copy = tmp / "sweep" / "0_job"
        shutil.copytree(run, copy)
        edit(copy)
        return [str(tmp / "sweep")]

    return setup


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda d: (d / name).write_text(text)


def _unfinished_with_broken_overrides(d: Path) -> None:
    (d / "results.json").unlink()
    (d / ".hydra" / "overrides.yaml").write_text("- [oops\n")


def _code_in_overrides(d: Path) -> None:
    (d / ".hydra" / "overrides.yaml").write_text("- model._target_=os.system\n")


def _broken_yaml(tmp: Path, run: Path) -> list[str]:
    (tmp / "conf" / "model").mkdir(parents=True)
    (tmp / "conf" / "model" / "broken.yaml").write_text(
        "defaults:\n  - base_gcn\n  - _self_\nhidden_channels: [8\n"
    )
    return ["--config-dir", str(tmp / "conf"), "model=broken"]


def _damaged_cache(tmp: Path, run: Path) -> list[str]:
    from torch_geometric.datasets import Planetoid

    source = Path(os.environ["GNNEXP_DATA_DIR"]) / "Planetoid" / "Cora" / "raw"
    shutil.copytree(source, tmp / "data" / "Planetoid" / "Cora" / "raw")
    Planetoid(str(tmp / "data" / "Planetoid"), "Cora")  # builds the processed cache
    processed = tmp / "data" / "Planetoid" / "Cora" / "processed"
    for cached in processed.glob("data*.pt"):
        cached.write_bytes(b"not a torch file")
    # Recorded as gnnexp's own (gnnexp.data.processed): an unrecorded file would be rebuilt.
    record = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in processed.glob("*.pt")}
    (processed / "gnnexp-sha256.json").write_text(json.dumps(record))
    return [f"data_dir={tmp / 'data'}"]


# ----------------------------------------------------------------- the cases

T = "train"
CASES = [
    # Values that cannot mean anything.
    Case("min_delta inf", T, ["trainer.min_delta=inf"], ["trainer.min_delta=inf is not a finite number"]),
    Case("lr inf", T, ["optimizer.lr=inf"], ["optimizer.lr=inf is not a finite number"]),
    Case("lr nan", T, ["optimizer.lr=nan"], ["optimizer.lr=nan is not a finite number"]),
    Case(
        "plateau threshold nan", T, ["scheduler=plateau", "scheduler.threshold=nan"], ["not a finite number"]
    ),
    Case("dropout inf", T, ["model.dropout=inf"], ["model.dropout=inf is not a finite number"]),
    Case("grad clip -inf", T, ["trainer.grad_clip=-inf"], ["trainer.grad_clip=-inf is not a finite"]),
    Case(
        "mode contradicts loss",
        T,
        ["trainer.mode=max"],
        ["trainer.mode=max contradicts trainer.monitor=val_loss"],
    ),
    Case(
        "mode contradicts metric",
        T,
        ["trainer.monitor=val_metric", "trainer.mode=min"],
        ["trainer.mode=min contradicts trainer.monitor=val_metric"],
    ),
    Case(
        "warm-up too long", T, ["scheduler.warmup_epochs=200"], ["is not shorter than trainer.max_epochs=200"]
    ),
    Case("warm-up equal", T, [*FAST, "scheduler.warmup_epochs=8"], ["warmup_epochs=8 is not shorter"]),
    Case("plus model key", T, ["+model.fooo=1"], ["model.fooo is not a setting of model=gcn"]),
    Case("plus top key", T, ["+lerning_rate=0.1"], ["lerning_rate is not a setting of the config"]),
    Case("plus trainer key", T, ["+trainer.epochs=5"], ["trainer.epochs is not a setting of trainer"]),
    Case(
        "plus checkpoint key",
        T,
        ["+trainer.checkpoint.every=5"],
        ["trainer.checkpoint.every is not a setting"],
    ),
    Case(
        "plus optimizer key",
        T,
        ["+optimizer.momentum=0.9"],
        ["optimizer.momentum is not a setting of optimizer=adam"],
    ),
    Case(
        "plus logger key", T, ["+logger.csv.path=x"], ["logger.csv.path is not a setting of the csv tracker"]
    ),
    Case(
        "unknown logger in list",
        T,
        ["logger=[csv,comet]"],
        ["Unknown logger 'comet'", "csv, mlflow, tensorboard, wandb"],
    ),
    Case(
        "dropout one",
        T,
        ["model.dropout=1.0"],
        ["model.dropout=1.0 is invalid: it must be a number in [0, 1)"],
    ),
    Case(
        "hidden zero",
        T,
        ["model.hidden_channels=0"],
        ["model.hidden_channels=0 is invalid", "an integer >= 1"],
    ),
    Case("negative lr", T, ["optimizer.lr=-0.1"], ["optimizer.lr=-0.1 is invalid: it must be a number > 0"]),
    Case("activation typo", T, ["model.act=rleu"], ["model.act=rleu is not one of", "Did you mean 'relu'?"]),
    Case("gat heads zero", T, ["model=gat", "model.heads=0"], ["model.heads=0 is invalid"]),
    Case(
        "sage aggr typo",
        T,
        ["model=sage", "model.aggr=maen"],
        ["model.aggr=maen is not one of mean, max, sum"],
    ),
    Case(
        "momentum 1.5", T, ["optimizer=sgd", "optimizer.momentum=1.5"], ["optimizer.momentum=1.5 is invalid"]
    ),
    Case("one beta", T, ["optimizer.betas=[0.9]"], ["must be two numbers in [0, 1)"]),
    Case(
        "milestones down",
        T,
        ["scheduler=multistep", "scheduler.milestones=[50,30]"],
        ["increasing epochs >= 1"],
    ),
    Case("fan-out zero", T, ["loader=neighbor", "loader.num_neighbors=[0,5]"], ["a list of fan-outs >= 1"]),
    Case(
        "two folds",
        T,
        ["trainer.folds=2"],
        ["trainer.folds=2 is invalid: it must be null or an integer >= 3"],
    ),
    Case(
        "homophily 1.5",
        T,
        ["dataset=synthetic", "dataset.homophily=1.5"],
        ["dataset.homophily=1.5 is invalid"],
    ),
    Case("metric typo", T, ["task.metric=acuracy"], ["task.metric=acuracy is not one of", "accuracy"]),
    Case(
        "regression metric on classes",
        T,
        ["dataset.metric=rmse"],
        ["metric 'rmse' does not fit a classification"],
    ),
    Case("link metric", T, ["task=link", "task.metric=accuracy"], ["does not apply to task=link"]),
    Case("precision 8", T, ["trainer.precision=8"], ["trainer.precision=8 is not one of 32, bf16, 16"]),
    Case("unknown device", T, ["device=tpu"], ["Unknown device 'tpu'"]),
    Case("undeclared model name", T, ["model.name=nope"], ["model.name=nope is not a declared model"]),
    Case("negative seed", T, ["seed=-1"], ["seed=-1 is invalid: it must be an integer >= 0"]),
    Case("eval every zero", T, ["trainer.eval_every=0"], ["trainer.eval_every=0 is invalid"]),
    Case("zero epochs", T, ["trainer.max_epochs=0"], ["trainer.max_epochs=0 is invalid"]),
    Case(
        "ratios sum",
        T,
        ["dataset=synthetic", "dataset.train_ratio=0.9"],
        ["leaves nothing for the remaining split"],
    ),
    Case(
        "missing module",
        T,
        ["imports=[no_such_module_xyz]"],
        ["module no_such_module_xyz cannot be imported"],
    ),
    Case("wrong type", T, ["model.num_layers=two"], ["model.num_layers=two"]),
    Case("folds on node task", T, ["trainer.folds=3"], ["applies to graph classification"]),
    Case(
        "too many folds",
        T,
        ["dataset=mutag", "trainer.folds=100", "trainer.max_epochs=1"],
        ["trainer.folds=100 exceeds the 63 graphs of mutag's smallest class"],
    ),
    Case("neighbour loader on graphs", T, ["dataset=mutag", "loader=neighbor"], ["loader=neighbor samples"]),
    Case("broken yaml in a config dir", T, [], ["broken.yaml line 5 is not valid YAML"], setup=_broken_yaml),
    Case(
        "damaged processed cache",
        T,
        ["trainer.max_epochs=1"],
        ["processed cache", "may be stale or damaged", "delete"],
        setup=_damaged_cache,
    ),
    # A user's files, read by dataset=files.
    Case(
        "binary edges",
        T,
        ["trainer.max_epochs=1"],
        ["is not a text CSV"],
        setup=_edges(b"\x89PNG\r\n\x1a\n\xff\xfe\x00"),
    ),
    Case(
        "edges without header",
        T,
        ["trainer.max_epochs=1"],
        ["row 1: ['0', '1'] looks like data"],
        setup=_edges("0,1\n1,2\n"),
    ),
    Case("empty edges", T, ["trainer.max_epochs=1"], ["edges file", "is empty"], setup=_edges("")),
    Case(
        "three edge columns",
        T,
        ["trainer.max_epochs=1"],
        ["an edge list needs exactly two"],
        setup=_edges("a,b,c\n0,1,2\n"),
    ),
    Case(
        "edge id inf",
        T,
        ["trainer.max_epochs=1"],
        ["row 3: [1.0, inf] are not non-negative integer node ids"],
        setup=_edges("source,target\n0,1\n1,inf\n"),
    ),
    Case(
        "edge id nan",
        T,
        ["trainer.max_epochs=1"],
        ["are not non-negative integer node ids"],
        setup=_edges("source,target\n0,1\nnan,2\n"),
    ),
    Case(
        "edge id huge",
        T,
        ["trainer.max_epochs=1"],
        ["are not non-negative integer node ids"],
        setup=_edges("source,target\n0,1e300\n"),
    ),
    Case(
        "edge id fraction",
        T,
        ["trainer.max_epochs=1"],
        ["row 2: [0.5, 1.0] are not"],
        setup=_edges("source,target\n0.5,1\n"),
    ),
    Case(
        "edge id negative",
        T,
        ["trainer.max_epochs=1"],
        ["are not non-negative integer node ids"],
        setup=_edges("source,target\n-1,1\n"),
    ),
    Case(
        "edge text cell",
        T,
        ["trainer.max_epochs=1"],
        ["row 2: ['zero', '1'] is not numeric"],
        setup=_edges("source,target\nzero,1\n"),
    ),
    Case(
        "ragged edges",
        T,
        ["trainer.max_epochs=1"],
        ["row 2 has 3 columns, the header 2"],
        setup=_edges("source,target\n0,1,2\n"),
    ),
    Case(
        "corrupt npy labels",
        T,
        ["trainer.max_epochs=1"],
        ["is not a readable .npy array"],
        setup=_labels_npy(b"\x93NUMPY\x01\x00garbage"),
    ),
    Case(
        "pickled npy labels",
        T,
        ["trainer.max_epochs=1"],
        ["is not a readable .npy array", "pickled objects are not read"],
        setup=_labels_npy(np.array([{"a": 1}] * 30, dtype=object), allow_pickle=True),
    ),
    Case(
        "string npy labels",
        T,
        ["trainer.max_epochs=1"],
        ["values, not numbers"],
        setup=_labels_npy(np.array(["a"] * 30)),
    ),
    Case(
        "0-d npy labels",
        T,
        ["trainer.max_epochs=1"],
        ["holds no rows (shape ())"],
        setup=_labels_npy(np.array(3)),
    ),
    Case(
        "class id huge",
        T,
        ["trainer.max_epochs=1"],
        ["class 1000000 is not below the number of nodes (30)"],
        setup=_labels_csv("label\n" + "1000000\n" + "0\n1\n" * 14 + "2\n"),
    ),
    Case(
        "label inf",
        T,
        ["trainer.max_epochs=1"],
        ["row 3: the label is inf"],
        setup=_labels_csv("label\n0\ninf\n" + "1\n" * 28),
    ),
    Case(
        "label fraction",
        T,
        ["trainer.max_epochs=1"],
        ["class label 0.5 is not a non-negative integer"],
        setup=_labels_csv("label\n0.5\n" + "1\n" * 29),
    ),
    Case(
        "features inf",
        T,
        ["trainer.max_epochs=1"],
        ["row 5: features of node 4 are not finite"],
        setup=_features(np.where(np.arange(90).reshape(30, 3) == 13, np.inf, 1.0)),
    ),
    Case(
        "features no columns",
        T,
        ["trainer.max_epochs=1"],
        ["has no columns (shape (30, 0))"],
        setup=_features(np.ones((30, 0))),
    ),
    Case(
        "features wrong rows",
        T,
        ["trainer.max_epochs=1"],
        ["has 10 rows but the labels file has 30 nodes"],
        setup=_features(np.ones((10, 3))),
    ),
    Case(
        "features string",
        T,
        ["trainer.max_epochs=1"],
        ["values, not numbers"],
        setup=_features(np.array([["x"] * 3] * 30)),
    ),
    # A finished run's directory belongs to that run.
    Case(
        "new run into a finished dir", T, [*FAST], ["already holds a run", "overwrite=true"], setup=_into_run
    ),
    # eval and predict of the finished run, with overrides checked like train's.
    Case(
        "eval wrong type", "eval", ["model.dropout=abc"], ["model.dropout=abc has the wrong type"], setup=_run
    ),
    Case("eval out of range", "eval", ["model.dropout=2"], ["model.dropout=2.0 is invalid"], setup=_run),
    Case("eval adds a key", "eval", ["+model.x=1"], ["adds a key"], setup=_run),
    Case("eval unknown key", "eval", ["model.fooo=1"], ["Unknown key 'model.fooo'"], setup=_run),
    Case("eval non-finite", "eval", ["trainer.min_delta=inf"], ["not a finite number"], setup=_run),
    Case("eval mode contradiction", "eval", ["trainer.mode=max"], ["contradicts"], setup=_run),
    Case("eval unknown model", "eval", ["model=nope"], ["Unknown model 'nope'"], setup=_run),
    Case("eval empty split", "eval", ["--split", ","], ["names no split"], setup=_run),
    Case("eval split typo", "eval", ["--split", "tset"], ["--split tset is not a split"], setup=_run),
    Case(
        "eval out to a device",
        "eval",
        ["--out", "/dev/null"],
        ["/dev/null is not a regular file"],
        setup=_run,
    ),
    Case("eval out to a directory", "eval", ["--out", "/tmp"], ["/tmp is a directory"], setup=_run),
    Case("eval missing run", "eval", ["/nonexistent/run"], ["No checkpoint at /nonexistent/run"]),
    Case("predict out to a device", "predict", ["--out", "/dev/null"], ["not a regular file"], setup=_run),
    Case("predict out to a directory", "predict", ["--out", "/tmp"], ["/tmp is a directory"], setup=_run),
    Case("predict wrong type", "predict", ["seed=abc"], ["seed=abc has the wrong type"], setup=_run),
    Case(
        "predict missing features",
        "predict",
        ["dataset=files", "dataset.edges=/nonexistent.csv", "dataset.labels=null"],
        ["dataset.labels=null needs dataset.features"],
        setup=_run,
    ),
    Case(
        "predict missing edges",
        "predict",
        ["dataset=files", "dataset.edges=/nonexistent.csv", "dataset.labels=/nonexistent.npy"],
        ["does not exist"],
        setup=_run,
    ),
    Case(
        "predict trust flag typo",
        "predict",
        ["--trust-conifg"],
        ["unrecognized arguments: --trust-conifg", "Fix: see 'gnnexp predict --help'"],
        setup=_run,
    ),
    # Resume.
    Case(
        "resume with another split",
        T,
        ["dataset.split_seed=3"],
        ["continue on another split", "dataset.split_seed: 0 -> 3"],
        setup=_resume(),
    ),
    Case(
        "resume with another data seed",
        T,
        ["dataset.data_seed=2"],
        ["dataset.data_seed: 0 -> 2"],
        setup=_resume(),
    ),
    Case(
        "resume a missing run",
        T,
        ["trainer.resume=/nonexistent/run"],
        ["no such run directory or checkpoint"],
    ),
    Case(
        "resume with a new width",
        T,
        [],
        ["another shape than the checkpoint's", "model.hidden_channels"],
        setup=_copy_of_run(lambda d: None, "model.hidden_channels=7"),
    ),
    Case(
        "resume with the weight decay on other layers",
        T,
        [],
        ["groups the optimizer's parameters otherwise", "optimizer.weight_decay_on: all -> first_layer"],
        setup=_copy_of_run(lambda d: None, "optimizer.weight_decay_on=first_layer"),
    ),
    Case(
        "resume code in overrides",
        T,
        [],
        ["names code to import (model._target_=os.system)", "--trust-config"],
        setup=_copy_of_run(_code_in_overrides),
    ),
    Case(
        "resume broken overrides",
        T,
        [],
        ["overrides.yaml cannot be read back"],
        setup=_copy_of_run(_write(".hydra/overrides.yaml", "- [unclosed\n")),
    ),
    Case(
        "resume not a list",
        T,
        [],
        ["is not a list of overrides"],
        setup=_copy_of_run(_write(".hydra/overrides.yaml", "a: 1\n")),
    ),
    Case(
        "resume truncated last.pt",
        T,
        [],
        ["last.pt is not a readable checkpoint"],
        setup=_copy_of_run(lambda d: (d / "checkpoints" / "last.pt").write_bytes(b"PK\x03\x04")),
    ),
    # summarize, plot, list.
    Case("summarize nothing", "summarize", ["/nonexistent/sweep"], ["not a directory: /nonexistent/sweep"]),
    Case(
        "summarize a damaged results.json",
        "summarize",
        [],
        ["results.json is damaged"],
        code=0,
        lines=0,
        setup=_sweep_dir(_write("results.json", '{"status": "completed", "metric": "accuracy", "val": 3}')),
    ),
    Case(
        "summarize garbage results.json",
        "summarize",
        [],
        ["1 unfinished"],
        code=0,
        lines=0,
        setup=_sweep_dir(_write("results.json", "\x00\x01 not json")),
    ),
    Case(
        "summarize broken overrides",
        "summarize",
        [],
        ["unreadable .hydra/overrides.yaml", "1 unfinished"],
        code=0,
        lines=0,
        setup=_sweep_dir(_unfinished_with_broken_overrides),
    ),
    Case(
        "plot a damaged metrics.csv",
        "plot",
        [],
        ["row 2: train_loss='x' is not a number"],
        setup=_sweep_dir(_write("metrics.csv", "epoch,train_loss\n1,x\n")),
    ),
    Case(
        "plot a foreign csv",
        "plot",
        [],
        ["has no epoch column"],
        setup=_sweep_dir(_write("metrics.csv", "a,b\n1,2\n")),
    ),
    Case(
        "plot unknown extension",
        "plot",
        ["--out", "/tmp/gnnexp-plot.foo"],
        ["extension matplotlib cannot write (foo)"],
        setup=_run,
    ),
    Case("plot nothing", "plot", ["/nonexistent/run"], ["not a directory: /nonexistent/run"]),
    Case("list unknown group", "list", ["modle"], ["unknown config group 'modle'", "Did you mean 'model'?"]),
    Case(
        "list unknown option",
        "list",
        ["model", "gcnn"],
        ["unknown model option 'gcnn'", "Did you mean 'gcn'?"],
    ),
    Case("list missing config dir", "list", ["--config-dir", "/nonexistent/conf"], ["is not a directory"]),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", *FAST, "trainer.max_epochs=3", f"hydra.run.dir={run}"]) == 0
    return run


def _hashes(*roots: Path) -> dict[str, str]:
    """Every file of earlier runs. Not the lock file, nor Hydra's record of the latest resume
    invocation (``.hydra/resume``), nor what this invocation may create (``new-run``)."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.name != ".gnnexp.lock"
        and ".hydra/resume" not in str(p)
        and "new-run" not in p.relative_to(root).parts
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, finished_run: Path, tmp_path: Path, capsys, monkeypatch):
    if case.skip:
        pytest.skip(case.skip)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    extra = case.setup(tmp_path, finished_run) if case.setup else []
    before = _hashes(finished_run, tmp_path)
    args = [case.command, *extra, *case.args]
    if case.command == "train" and not any(a.startswith(("hydra.run.dir=", "trainer.resume=")) for a in args):
        args.append(f"hydra.run.dir={tmp_path / 'new-run'}")
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    assert code == case.code, err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == case.lines, err
    text = err if case.lines else out
    for fragment in case.fragments:
        assert fragment in text, text
    if case.code and case.lines == 1:
        assert lines[0].startswith("gnnexp: error: ")
    assert _hashes(finished_run, tmp_path) == before, "an earlier run's files changed"
    if case.code:
        assert not list((tmp_path / "new-run").rglob("results.json")), "a failed invocation left a result"


def test_the_hostile_matrix_holds_at_least_100_cases():
    from tests.test_bad_input import CASES as BAD_INPUT

    assert len(CASES) + len(BAD_INPUT) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


# A run that waits after its first epoch until the file named by argv[1] exists: the test
# decides when it goes on, so it is still running whatever the machine's speed.
WAITING_RUN = """
import sys, time
from pathlib import Path
from gnnexp.training.interrupt import StopOnSignal

go, end_of_epoch = Path(sys.argv.pop(1)), StopOnSignal.on_epoch_end

def on_epoch_end(self, state, record):
    if record.epoch == 1:  # every file of epoch 1 is written (checkpoints come before this)
        go.with_name("waiting").touch()
    while record.epoch == 1 and not go.exists():
        time.sleep(0.05)
    end_of_epoch(self, state, record)

StopOnSignal.on_epoch_end = on_epoch_end
from gnnexp.cli import run
run()
"""


def test_a_second_run_into_a_running_dir_is_refused_and_the_first_finishes(tmp_path):
    """Two runs into one directory at once: the second is refused naming the first's PID."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    run, go = tmp_path / "shared", tmp_path / "go"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        [sys.executable, "-c", WAITING_RUN, str(go), "train", *FAST, "trainer.max_epochs=40",
         "trainer.patience=null", "trainer.curves=false", f"hydra.run.dir={run}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    try:
        while not (tmp_path / "waiting").exists():  # epoch 1's files are written: it waits now
            assert first.poll() is None, "the first run did not start"
            time.sleep(0.05)
        before = _hashes(run)
        second = subprocess.run(
            [sys.executable, "-m", "gnnexp", "train", *FAST, "trainer.max_epochs=2", "overwrite=true",
             f"hydra.run.dir={run}"],
            capture_output=True, text=True, env=env, timeout=300, cwd=REPO,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert f"is in use by another gnnexp run (PID {first.pid})" in second.stderr
        assert _hashes(run) == before, "the refused run changed the first run's files"
    finally:
        go.touch()
        output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, output
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "completed" and results["epochs_run"] == 40
    rows = _rows_of(run / "metrics.csv")
    assert [r[0] for r in rows] == ["epoch", *map(str, range(1, 41))]  # one writer: header + 40 rows


def _rows_of(path: Path) -> list[list[str]]:
    import csv

    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.reader(f))
