"""Rough edges of issue 24, in the hostile matrix's terms: exit status, the message, and the
files of earlier runs hashed before and after (tests/test_hostile.py's conventions)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gnnexp.cli import main
from gnnexp.training.checkpoint import load_checkpoint
from tests.conftest import FAST, REPO
from tests.test_hostile import _hashes, finished_run  # noqa: F401  (a fixture)
from tests.test_reliability import SIGNALLING_CHILD

WRONG_BLAME = ("disk is full", "Writing failed", "cannot write", "Cannot write", "Traceback")


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _closed_stdout_run(run_dir: Path, *args: str, signal_at: str = "0") -> subprocess.CompletedProcess:
    """``gnnexp train`` whose stdout is a pipe nobody reads any more (``| tee`` after tee died)."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the run prints its first line
    try:
        return subprocess.run(
            [sys.executable, "-c", SIGNALLING_CHILD, "SIGINT", signal_at, "once", "train", *FAST, *args,
             f"hydra.run.dir={run_dir}"],
            stdout=write, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=300,
        )  # fmt: skip
    finally:
        os.close(write)


def test_a_closed_stdout_does_not_fail_a_run(tmp_path):
    done = _closed_stdout_run(tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert not any(blame in done.stderr for blame in WRONG_BLAME), done.stderr
    assert "test accuracy" in done.stderr  # what stdout could not take went to stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "completed" and results["epochs_run"] == 8
    assert len(_rows(tmp_path / "run" / "metrics.csv")) == 1 + 8
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 8


def test_ctrl_c_through_a_closed_pipe_is_an_interruption_with_its_record(tmp_path):
    run = tmp_path / "run"
    done = _closed_stdout_run(run, "trainer.max_epochs=50", "trainer.patience=null", signal_at="3")
    assert done.returncode == 130, done.stderr
    assert not any(blame in done.stderr for blame in WRONG_BLAME), done.stderr
    assert f"Resume with: gnnexp train trainer.resume={run}" in done.stderr
    assert len(_rows(run / "metrics.csv")) == 1 + 3
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3  # as far as metrics.csv
    assert (run / "checkpoints" / "last.pt").stat().st_mtime >= (run / "metrics.csv").stat().st_mtime
    failure = json.loads((run / "failed.json").read_text())
    assert failure["status"] == "interrupted" and failure["epoch"] == 3
    assert not (run / "results.json").exists()


def _main(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("override", "key"),
    [("dataset.split_seed=5", "dataset.split_seed"), ("dataset.train_ratio=0.5", "dataset.train_ratio")],
)
def test_eval_on_another_split_is_refused(finished_run, capsys, override, key):  # noqa: F811
    before = _hashes(finished_run)
    code, _, err = _main(capsys, "eval", str(finished_run), override)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gnnexp: error: "), err
    assert f"{key}=" in err and "another split" in err and f"drop the {key} override" in err
    assert _hashes(finished_run) == before


def test_eval_of_another_fold_count_is_refused(gnnexp, capsys):
    run = gnnexp("dataset=synthetic_graphs", "trainer.folds=3", "trainer.max_epochs=2")
    assert run.code == 0, run.err
    before = _hashes(run.run_dir)
    code, _, err = _main(capsys, "eval", str(run.run_dir / "fold_2"), "trainer.folds=5")
    assert code == 2 and "trainer.folds=5 makes another split" in err and "(trainer.folds=3)" in err
    assert _hashes(run.run_dir) == before


def test_eval_title_is_one_line_in_a_120_column_terminal(finished_run, capsys, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = _main(capsys, "eval", str(finished_run), "--out", str(tmp_path / "eval.json"))
    assert code == 0, err
    title = f"epoch {json.loads((tmp_path / 'eval.json').read_text())['epoch']} of {finished_run}/checkpoints/best.pt"
    assert title in out.splitlines()  # whole, on a line of its own


def test_predict_names_unreadable_smiles_and_keeps_rows_aligned(gnnexp, capsys, tmp_path):
    train = tmp_path / "train.csv"
    smiles = ["CCO", "CCN", "CCC", "CCCl", "CCBr", "CC=O", "C1CC1", "CCOC", "CNC", "COC", "CCCC", "c1ccccc1"]
    train.write_text("smiles,y\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(smiles)))
    run = gnnexp("dataset=smiles", f"dataset.path={train}", "dataset.targets=[y]", "dataset.split=random",
                 "trainer.max_epochs=2", "task.val_ratio=0.25", "task.test_ratio=0.25")  # fmt: skip
    assert run.code == 0, run.err
    new = tmp_path / "new.csv"
    new.write_text('smiles\nCCO\nC1CC\nCCN\n""\nnot-a-molecule\nc1ccccc1\n')  # rows 2-7
    before = _hashes(run.run_dir)
    out = tmp_path / "preds.csv"
    code, stdout, err = _main(capsys, "predict", str(run.run_dir), f"dataset.path={new}", "--out", str(out))
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gnnexp: warning: "), err
    assert "3 rows" in err and "row 3 'C1CC'" in err and "row 5 ''" in err and "row 6 'not-a-molecule'" in err
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == ["CCO", "C1CC", "CCN", "", "not-a-molecule", "c1ccccc1"]
    empty = [all(v == "" for k, v in r.items() if k != "id") for r in rows]
    assert empty == [False, True, False, True, True, False]
    assert all(r["graph"].isdigit() for r, e in zip(rows, empty, strict=True) if not e)
    assert "3 predictions" in stdout
    assert _hashes(run.run_dir) == before


def _sweep_copy(finished: Path, root: Path, n: int = 2) -> list[Path]:
    jobs = []
    for i in range(n):
        job = root / f"{i}_seed={i}"
        shutil.copytree(finished, job)
        (job / ".hydra" / "overrides.yaml").write_text(f"- seed={i}\n")
        jobs.append(job)
    return jobs


def _edit_json(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_summarize_non_finite_values(finished_run, capsys, tmp_path, fmt):  # noqa: F811
    first, second = _sweep_copy(finished_run, tmp_path / "sweep")
    test_value = json.loads((first / "results.json").read_text())["test"]["accuracy"]
    _edit_json(first / "results.json", f'"accuracy": {test_value}', '"accuracy": NaN')
    _edit_json(second / "results.json", '"train_time_s": ', '"train_time_s": 1e400, "was": ')
    before = _hashes(tmp_path / "sweep")
    code, out, err = _main(capsys, "summarize", str(tmp_path / "sweep"), "--format", fmt)
    assert code == 0, err
    warnings = err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("gnnexp: warning: ") for w in warnings), err
    assert f"{first / 'results.json'} holds non-finite values (test.accuracy=nan)" in err
    assert "train_time_s=inf" in err and "Traceback" not in out + err
    if fmt == "json":
        rows = json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
        assert rows[0]["n"] == 2 and rows[0]["test_mean"] is not None  # the other job's test value
    if fmt == "csv":
        assert "nan" not in out.lower() and "inf" not in out.lower()
    assert _hashes(tmp_path / "sweep") == before


def test_plot_infinite_values_are_gaps_with_a_warning(finished_run, capsys, tmp_path):  # noqa: F811
    (job,) = _sweep_copy(finished_run, tmp_path / "sweep", n=1)
    rows = _rows(job / "metrics.csv")
    rows[2][1] = "1e400"
    with open(job / "metrics.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    before = _hashes(tmp_path / "sweep")
    code, out, err = _main(capsys, "plot", str(tmp_path / "sweep"), "--out", str(tmp_path / "c.png"))
    assert code == 0, err
    assert (
        err.strip()
        == f"gnnexp: warning: {job / 'metrics.csv'} holds infinite values (train_loss row 3): drawn as gaps."
    )
    assert (tmp_path / "c.png").stat().st_size > 0 and "plotted to" in out
    assert _hashes(tmp_path / "sweep") == before


def test_latest_picks_the_newest_start_and_names_it(finished_run, capsys, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "outputs" / "runs" / "2030-01-01" / "10-00-00"
    sweep = tmp_path / "outputs" / "multirun" / "2030-01-01" / "11-00-00"
    shutil.copytree(finished_run, run)
    _sweep_copy(finished_run, sweep, n=1)
    os.utime(sweep, (1, 1))  # the sweep dir was last changed long before the run finished
    before = _hashes(tmp_path / "outputs")
    code, _, err = _main(capsys, "plot", "latest", "--out", str(tmp_path / "c.png"))
    assert code == 0, err
    assert err.strip() == "gnnexp: latest: outputs/multirun/2030-01-01/11-00-00"
    assert _hashes(tmp_path / "outputs") == before


def test_resume_over_a_garbage_metrics_row(finished_run, gnnexp, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    with open(run / "metrics.csv", "ab") as f:
        f.write(b"\x00\xffgarbage,,\n")
    resumed = gnnexp(f"trainer.resume={run}", "trainer.max_epochs=4")
    assert resumed.code == 0, resumed.err
    assert "Traceback" not in resumed.out + resumed.err
    assert (
        f"gnnexp: warning: {run / 'metrics.csv'} row 5 of no epoch (a damaged line) dropped." in resumed.err
    )
    assert [r[0] for r in _rows(run / "metrics.csv")] == ["epoch", "1", "2", "3", "4"]
    assert json.loads((run / "results.json").read_text())["epochs_run"] == 4


def test_a_signal_under_the_live_bar_writes_past_rich(monkeypatch):
    """Under the progress bar sys.stderr is rich's proxy; the handler, which may run inside a
    rich print, writes to the real stream instead (re-entered, rich printed the row twice)."""
    import io
    import signal

    from gnnexp.training.interrupt import StopOnSignal

    class Proxy(io.StringIO):
        def __init__(self, real: io.StringIO) -> None:
            super().__init__()
            self.rich_proxied_file = real

    real = io.StringIO()
    proxy = Proxy(real)
    monkeypatch.setattr(sys, "stderr", proxy)
    StopOnSignal()._handle(signal.SIGINT, None)
    assert proxy.getvalue() == ""
    assert real.getvalue() == (
        "\r\x1b[2Kgnnexp: SIGINT: finishing this epoch, then saving checkpoints/last.pt (again to quit now).\n"
    )
