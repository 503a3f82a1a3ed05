"""Trackers, pictures, predictions and discoverability, checked by reading what they produce."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import FAST, REPO


def _png(path):
    from matplotlib.image import imread

    image = imread(path)
    assert image.ndim == 3 and image.shape[0] >= 300 and image.shape[1] >= 800
    # Not blank: many distinct colours (lines, bands, text), not a uniform canvas.
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 50
    return image


def test_every_run_draws_its_curves(gnnexp):
    result = gnnexp(*FAST, "trainer.max_epochs=12")
    assert result.code == 0, result.err
    assert (result.run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = _png(result.run_dir / "curves.png")
    assert image.shape[1] == 840  # loss and metric, 4.2 inches each at 100 dpi: the LR is constant
    scheduled = gnnexp(*FAST, "trainer.max_epochs=12", "scheduler=cosine")
    assert scheduled.code == 0, scheduled.err
    assert _png(scheduled.run_dir / "curves.png").shape[1] == 1260  # and a learning-rate panel


def test_curves_are_drawn_in_the_run_and_a_failing_figure_never_fails_it(gnnexp, monkeypatch):
    import gnnexp.reporting.plots as plots

    drawn = []
    monkeypatch.setattr(plots, "plot_run", lambda *args: drawn.append(args))
    result = gnnexp(*FAST, "trainer.max_epochs=3")
    assert result.code == 0, result.err
    ((metrics, out, metric, best_epoch, title),) = drawn  # once, in this process, at the end
    assert (metrics, out) == (result.run_dir / "metrics.csv", result.run_dir / "curves.png")
    assert (metric, best_epoch, title) == ("accuracy", result.results["best_epoch"], "gcn on synthetic")

    def broken(*args):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(plots, "plot_run", broken)
    failed = gnnexp(*FAST, "trainer.max_epochs=3")
    assert failed.code == 0 and failed.results["status"] == "completed"
    assert not (failed.run_dir / "curves.png").exists()
    assert "WARNING: curves.png not drawn: no fonts" in failed.err  # said, and kept in train.log
    assert "curves.png not drawn: no fonts" in (failed.run_dir / "train.log").read_text()


def test_matplotlib_is_not_imported_before_the_end_of_a_run():
    code = "import sys, gnnexp.cli, gnnexp.commands.train, gnnexp.running.run; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_curves_can_be_turned_off(gnnexp):
    result = gnnexp(*FAST, "trainer.curves=false")
    assert result.code == 0, result.err  # a run that failed would draw nothing either
    assert len(result.metrics()) == 8 and result.results["status"] == "completed"
    assert not (result.run_dir / "curves.png").exists()


def test_tensorboard_scalars_read_back(gnnexp):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = gnnexp(*FAST, "logger=[csv,tensorboard]", "trainer.max_epochs=6")
    assert result.code == 0, result.err
    events = EventAccumulator(str(result.run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "val/loss", "val/accuracy", "lr"} <= set(scalars)
    losses = [e.value for e in events.Scalars("train/loss")]
    assert losses == pytest.approx(result.column("train_loss"), rel=1e-6)
    assert [e.step for e in events.Scalars("lr")] == list(range(1, 7))
    (config_text,) = events.Tensors("config/text_summary")
    assert "model.name: gcn" in config_text.tensor_proto.string_val[0].decode()
    hparams = EventAccumulator(str(result.run_dir / "tensorboard" / "hparams"))
    hparams.Reload()
    final = {tag: hparams.Scalars(tag)[0].value for tag in hparams.Tags()["scalars"]}
    assert final["final/test/accuracy"] == pytest.approx(result.results["test"]["accuracy"])


def test_mlflow_run_reads_back(gnnexp, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlruns.db"
    result = gnnexp(*FAST, "logger=[csv,mlflow]", f"logger.mlflow.tracking_uri={uri}", "trainer.max_epochs=5")
    assert result.code == 0, result.err
    _, run_id = (result.run_dir / "mlflow_run.txt").read_text().split()
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.name"] == "gcn" and run.data.params["optimizer.lr"] == "0.01"
    history = client.get_metric_history(run_id, "train_loss")
    assert [m.step for m in history] == [1, 2, 3, 4, 5]
    assert [m.value for m in history] == pytest.approx(result.column("train_loss"), rel=1e-6)
    assert run.data.metrics["final_test_accuracy"] == pytest.approx(result.results["test"]["accuracy"])


def test_several_loggers_and_unknown_logger(gnnexp, tmp_path):
    # An unknown one: refused before anything is written, in one line, with exit status 2.
    bad = gnnexp(*FAST, "logger=[csv,comet]")
    assert bad.code == 2, bad.err
    assert bad.err.startswith("gnnexp: error: Unknown logger 'comet'.") and bad.err.count("\n") == 1
    assert "A new option is a file logger/comet.yaml" in bad.err
    assert not bad.run_dir.exists()
    # csv alone: metrics.csv with one row per epoch, and no tracker files.
    plain = gnnexp(*FAST, "logger=[csv]")
    assert plain.code == 0, plain.err
    assert [int(row["epoch"]) for row in plain.metrics()] == list(range(1, 9))
    assert not (plain.run_dir / "tensorboard").exists() and not (plain.run_dir / "mlflow_run.txt").exists()
    # csv, tensorboard and mlflow together: each one records the same eight training losses.
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    uri = f"sqlite:///{tmp_path}/mlruns.db"
    every = gnnexp(*FAST, "logger=[csv,tensorboard,mlflow]", f"logger.mlflow.tracking_uri={uri}")
    assert every.code == 0, every.err
    losses = every.column("train_loss")
    assert len(losses) == 8
    events = EventAccumulator(str(every.run_dir / "tensorboard"))
    events.Reload()
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx(losses, rel=1e-6)
    _, run_id = (every.run_dir / "mlflow_run.txt").read_text().split()
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [m.value for m in client.get_metric_history(run_id, "train_loss")] == pytest.approx(
        losses, rel=1e-6
    )
    # The refusal of the list form names the valid options too (Hydra gives none for it).
    assert "Valid logger options: csv, mlflow, tensorboard, wandb." in bad.err


def test_plot_overlays_a_sweep_with_bands(gnnexp, tmp_path):
    ran = gnnexp("-m", *FAST, "trainer.max_epochs=8", "model=gcn,mlp", "seed=0,1,2")
    assert ran.code == 0, ran.err
    sweep = ran.run_dir
    out = tmp_path / "overlay.png"
    result = gnnexp(str(sweep), "--out", str(out), command="plot")
    assert result.code == 0, result.err
    assert "6 runs in 2 configurations" in result.out
    _png(out)
    (tmp_path / "empty").mkdir()
    empty = gnnexp(str(tmp_path / "empty"), command="plot")
    assert empty.code == 2 and "no metrics.csv" in empty.err


@pytest.mark.parametrize(
    ("args", "level", "columns"),
    [
        (FAST, "node", ["node", "prediction", "prob_0", "prob_1", "prob_2", "prob_3", "label", "split"]),
        (
            ("dataset=synthetic_graphs", "trainer.max_epochs=3"),
            "graph",
            ["graph", "prediction", "prob_0", "prob_1", "label"],
        ),
        (("task=link", *FAST), "edge", ["source", "target", "prob_edge"]),
    ],
)
def test_predict_writes_one_row_per_item(gnnexp, tmp_path, args, level, columns):
    run = gnnexp(*args)
    assert run.code == 0, run.err
    out = tmp_path / "preds.csv"
    result = gnnexp(str(run.run_dir), "--out", str(out), command="predict")
    assert result.code == 0, result.err
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == columns
    probs = [float(v) for k, v in rows[0].items() if k.startswith("prob_") and k != "prob_edge"]
    if probs:
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert int(rows[0]["prediction"]) == int(np.argmax(probs))
    if level == "node":
        assert len(rows) == 300
        test_rows = [r for r in rows if r["split"] == "test"]
        accuracy = sum(r["prediction"] == r["label"] for r in test_rows) / len(test_rows)
        assert accuracy == pytest.approx(run.results["test"]["accuracy"], abs=1e-6)


def test_predict_on_a_users_unlabelled_graph_and_a_wrong_width(gnnexp, tmp_path):
    run = gnnexp(*FAST, "dataset.num_features=4")
    assert run.code == 0, run.err
    edges = tmp_path / "edges.csv"
    edges.write_text("source,target\n0,1\n1,2\n2,3\n")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32))
    files = (
        "dataset=files",
        f"dataset.edges={edges}",
        f"dataset.features={tmp_path / 'x.npy'}",
        "dataset.labels=null",
    )
    result = gnnexp(str(run.run_dir), *files, "--out", str(tmp_path / "p.csv"), command="predict")
    assert result.code == 0, result.err
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 5
    np.save(tmp_path / "x.npy", np.zeros((4, 7), dtype=np.float32))
    refused = gnnexp(str(run.run_dir), *files, command="predict")
    assert refused.code == 2
    assert "has 7 features per node, but the model" in refused.err and "trained on 4" in refused.err


def test_list_shows_groups_with_descriptions_quickly():
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gnnexp", "list"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert time.perf_counter() - started < 5  # far below a torch import; make bench times it properly
    for group in (
        "model",
        "dataset",
        "task",
        "loader",
        "optimizer",
        "scheduler",
        "trainer",
        "logger",
        "experiment",
    ):
        assert group in done.stdout
    assert "GCN (Kipf & Welling 2017)" in done.stdout and "gcn*" in done.stdout


def test_list_does_not_import_torch():
    code = "import sys; from gnnexp.cli import main; main(['list', 'model']); assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-c", code.replace("['list', 'model']", "['--help']")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_a_users_own_model_class_from_a_config_dir(gnnexp, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # the list's description column unwrapped
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text(
        "import torch\n"
        "class TinyGNN(torch.nn.Module):\n"
        "    '''One linear layer after mean aggregation.'''\n"
        "    def __init__(self, in_channels, out_channels, hidden_channels=8, **kwargs):\n"
        "        super().__init__()\n"
        "        from torch_geometric.nn import SAGEConv\n"
        "        self.conv = SAGEConv(in_channels, out_channels)\n"
        "    def forward(self, x, edge_index):\n"
        "        return self.conv(x, edge_index)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    conf = tmp_path / "myconf" / "model"
    conf.mkdir(parents=True)
    (conf / "tiny.yaml").write_text(
        "# TinyGNN: my one-layer model\ndefaults:\n  - base_model\n  - _self_\nname: tiny\n_target_: mypkg.TinyGNN\n"
    )
    listed = gnnexp("model", "--config-dir", str(tmp_path / "myconf"), command="list")
    assert listed.code == 0, listed.err
    assert "tiny" in listed.out and "TinyGNN: my one-layer model" in listed.out
    result = gnnexp("--config-dir", str(tmp_path / "myconf"), "model=tiny", *FAST)
    assert result.code == 0, result.err
    assert result.results["num_params"] == 2 * 32 * 4 + 4  # SAGEConv: lin_l, lin_r, one bias


def test_bash_completion_of_groups():
    script = (
        'set -e; eval "$(gnnexp completion bash)"; COMP_LINE="gnnexp train model=ga"; COMP_WORDS=(gnnexp train model=ga); '
        'COMP_CWORD=2; COMP_POINT=${#COMP_LINE}; _gnnexp_completion; echo "${COMPREPLY[@]}"'
    )
    import os
    from pathlib import Path

    # The venv's bin (where the gnnexp script is), also from a worktree without its own .venv.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["model=gat", "model=gatv2"]


def test_model_summary_panel(gnnexp):
    result = gnnexp("model=gat", "trainer.max_epochs=1")
    assert result.code == 0, result.err
    for fragment in (
        "GAT(1433, 7",
        "parameters",
        "nodes",
        "2,708",
        "edges",
        "features",
        "classes",
        "train/val/test",
        "140/500/1,000",
    ):
        assert fragment in result.out


def test_progress_degrades_to_plain_lines_when_piped(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gnnexp",
            "train",
            *FAST,
            "trainer.max_epochs=3",
            f"hydra.run.dir={tmp_path / 'r'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout  # no control codes in a file or pipe
    rows = [line for line in done.stdout.splitlines() if line.strip().split(" ")[0].isdigit()]
    assert [int(r.split()[0]) for r in rows] == [1, 2, 3]
    json.loads((tmp_path / "r" / "results.json").read_text())


def test_a_failed_run_ends_its_mlflow_run_as_failed(gnnexp, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from tests.test_reliability import _nan_at_call

    _nan_at_call(monkeypatch, 3)
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    result = gnnexp(*FAST, "logger=[csv,mlflow]", f"logger.mlflow.tracking_uri={uri}", "trainer.max_epochs=5")
    assert result.code == 1 and "Training diverged" in result.err
    _, run_id = (result.run_dir / "mlflow_run.txt").read_text().split()
    run = MlflowClient(uri).get_run(run_id)
    assert run.info.status == "FAILED"
    assert len(MlflowClient(uri).get_metric_history(run_id, "train_loss")) == 2
