"""End-to-end training runs: accuracy targets, files, determinism, schedules, stopping."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import yaml
from omegaconf import OmegaConf

from gnnexp.config.components import declared
from gnnexp.data import load_dataset
from gnnexp.models import GNNSpec
from gnnexp.paths import resolve_data_dir
from gnnexp.tasks import build_task
from gnnexp.training.checkpoint import load_checkpoint
from gnnexp.training.loop import evaluate
from tests.conftest import FAST, REPO

# Every built-in architecture that works without edge features (tests/test_edge_features.py
# covers the others).
MODELS = sorted(
    name
    for name, cls in declared("model").items()
    if issubclass(cls, GNNSpec)
    and not cls.needs_edge_features
    and not getattr(cls, "hetero_only", False)  # not the knowledge-graph models
)


def test_default_gcn_on_cora_reaches_published_accuracy(gnnexp):
    result = gnnexp()
    assert result.code == 0, result.err
    res = result.results
    assert (res["model"], res["dataset"], res["seed"]) == ("gcn", "cora", 0)
    assert res["test"]["accuracy"] >= 0.80
    # The reported test metric belongs to the best validation epoch, not the last one.
    rows = result.metrics()
    best_rows = [r for r in rows if r["best"] == "1"]
    assert int(best_rows[-1]["epoch"]) == res["best_epoch"]
    # The same weights on the same nodes; the final pass covers val and test nodes together,
    # so its float32 sums run in another order (last-digit differences on some CPUs).
    assert float(best_rows[-1]["val_loss"]) == pytest.approx(res["val"]["loss"], abs=0, rel=1e-6)
    assert res["num_params"] == 1433 * 16 + 16 + 16 * 7 + 7
    for name in ("best.pt", "last.pt"):
        assert (result.run_dir / "checkpoints" / name).stat().st_size > 0
    assert (result.run_dir / ".hydra" / "config.yaml").is_file()
    assert "test accuracy" in result.out and "best epoch" in result.out


def test_gat_on_cora_reaches_published_accuracy(gnnexp):
    result = gnnexp("model=gat")
    assert result.code == 0, result.err
    assert result.results["test"]["accuracy"] >= 0.81
    config = yaml.safe_load((result.run_dir / ".hydra" / "config.yaml").read_text())
    assert config["optimizer"]["lr"] == "${model.lr}"
    assert result.results["choices"]["model"] == "gat"


@pytest.mark.parametrize(
    ("model", "dataset"),
    # GPS attends over every pair of nodes: CiteSeer's 3,327 took 35 s and reach no code
    # that Cora's graph does not.
    [(m, d) for d in ("cora", "citeseer") for m in MODELS if (m, d) != ("gps", "citeseer")],
)
def test_every_model_trains(gnnexp, model, dataset):
    result = gnnexp(f"model={model}", f"dataset={dataset}", "trainer.max_epochs=12")
    assert result.code == 0, result.err
    losses = result.column("train_loss")
    assert len(losses) == 12
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses


def test_same_command_twice_gives_identical_epochs(gnnexp):
    args = (*FAST, "model=gat", "trainer.max_epochs=15")
    first, second = gnnexp(*args), gnnexp(*args)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time_s"} for r in rows]  # noqa: E731
    assert strip(first.metrics()) == strip(second.metrics())
    assert first.results["test"] == second.results["test"]
    third = gnnexp(*args, "seed=1")
    assert strip(third.metrics()) != strip(first.metrics())


LR = 0.01
SCHEDULES = {
    "scheduler=none": [LR] * 8,
    "scheduler=step scheduler.step_size=2 scheduler.gamma=0.5": [
        LR * 0.5 ** ((e - 1) // 2) for e in range(1, 9)
    ],
    "scheduler=multistep scheduler.milestones=[2,5] scheduler.gamma=0.1": [LR] * 2
    + [LR * 0.1] * 3
    + [LR * 0.01] * 3,
    "scheduler=exponential scheduler.gamma=0.5": [LR * 0.5 ** (e - 1) for e in range(1, 9)],
    "scheduler=cosine scheduler.t_max=7 scheduler.eta_min=0.001": [
        0.001 + (LR - 0.001) * (1 + math.cos(math.pi * (e - 1) / 7)) / 2 for e in range(1, 9)
    ],
    "scheduler=none scheduler.warmup_epochs=4 scheduler.warmup_start_factor=0.25": [
        LR * f for f in (0.25, 0.4375, 0.625, 0.8125, 1, 1, 1, 1)
    ],
    "scheduler=step scheduler.step_size=2 scheduler.gamma=0.5 scheduler.warmup_epochs=2 "
    "scheduler.warmup_start_factor=0.5": [LR * f for f in (0.5, 0.75, 1, 1, 0.5, 0.5, 0.25, 0.25)],
}


@pytest.mark.parametrize("overrides", list(SCHEDULES))
def test_scheduler_changes_lr_as_documented(gnnexp, overrides):
    result = gnnexp(*FAST, f"optimizer.lr={LR}", *overrides.split())
    assert result.code == 0, result.err
    assert result.column("lr") == pytest.approx(SCHEDULES[overrides], rel=1e-9)


def test_plateau_steps_on_the_monitored_value(gnnexp):
    # A relative threshold of 50% on the validation loss: the value rarely "improves" by
    # that much, so the LR is cut several times. The expected LRs follow ReduceLROnPlateau's
    # rule (mode min, relative threshold 0.5, patience 1) applied to the recorded losses.
    result = gnnexp(
        *FAST,
        f"optimizer.lr={LR}",
        "scheduler=plateau",
        "scheduler.patience=1",
        "scheduler.factor=0.5",
        "scheduler.threshold=0.5",
        "trainer.max_epochs=12",
    )
    assert result.code == 0, result.err
    expected, lr, best, bad = [], LR, math.inf, 0
    for value in result.column("val_loss"):
        expected.append(lr)
        if value < best * (1 - 0.5):
            best, bad = value, 0
        else:
            bad += 1
            if bad > 1:
                lr, bad = lr * 0.5, 0
    assert result.column("lr") == pytest.approx(expected, rel=1e-9)
    assert min(expected) <= LR / 4


@pytest.mark.parametrize(("eval_every", "stop_epoch"), [(1, 4), (2, 8)])
def test_early_stopping_stops_at_the_right_epoch(gnnexp, eval_every, stop_epoch):
    # Accuracy cannot change with a negligible LR: the first evaluation stays the best and
    # patience=3 evaluations later the run stops.
    result = gnnexp(
        *FAST,
        "optimizer.lr=1e-9",
        "trainer.monitor=val_metric",
        "trainer.patience=3",
        "trainer.max_epochs=50",
        f"trainer.eval_every={eval_every}",
    )
    assert result.code == 0, result.err
    res = result.results
    assert res["epochs_run"] == stop_epoch
    assert res["best_epoch"] == eval_every
    assert res["stopped_early"] is True
    assert len(result.metrics()) == stop_epoch
    assert len(result.column("val_loss")) == stop_epoch // eval_every


def test_best_checkpoint_reproduces_recorded_validation_metric(gnnexp):
    result = gnnexp(*FAST, "model=sage", "trainer.max_epochs=20", "trainer.monitor=val_metric")
    assert result.code == 0, result.err
    path = result.run_dir / "checkpoints" / "best.pt"
    state = torch.load(path, weights_only=True)  # plain data: no code runs from the file
    assert load_checkpoint(path)["checksum"] == state["checksum"]
    assert state["epoch"] == result.results["best_epoch"]
    assert set(state) >= {"model", "optimizer", "scheduler", "epoch", "metrics", "config"}
    cfg = OmegaConf.create(state["config"])
    data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir))
    task = build_task(cfg, data, torch.device("cpu"))
    model = task.build_model(cfg.model)
    model.load_state_dict(state["model"])
    val = evaluate(model, task, ("val",))["val"]
    assert val["accuracy"] == state["metrics"]["accuracy"] == result.results["val"]["accuracy"]
    assert val["loss"] == state["metrics"]["loss"]
    rows = {int(r["epoch"]): r for r in result.metrics()}
    assert float(rows[state["epoch"]]["val_accuracy"]) == val["accuracy"]


def test_results_json_records_choices_and_overrides(gnnexp):
    result = gnnexp(*FAST, "model=mlp", "optimizer=sgd", "optimizer.lr=0.1")
    res = result.results
    assert res["choices"]["model"] == "mlp" and res["choices"]["optimizer"] == "sgd"
    assert "optimizer.lr=0.1" in res["overrides"]
    assert res["status"] == "completed"
    assert json.loads(json.dumps(res)) == res


def test_one_good_epoch_is_not_called_learning_nothing(gnnexp):
    """One epoch gives no loss trend to judge: a 1-epoch run that reached 0.986 test accuracy
    was warned that it "learned nothing" (and told to try Adam, which it used)."""
    result = gnnexp(*FAST, "trainer.max_epochs=1")
    assert result.code == 0, result.err
    res = result.results
    assert res["epochs_run"] == 1
    assert res["learned"] is True and res["warning"] is None
    assert "learned nothing" not in result.out


@pytest.mark.parametrize(("optimizer", "suggests_adam"), [("adam", False), ("sgd", True)])
def test_a_run_that_learns_nothing_says_so_without_suggesting_its_own_optimizer(
    gnnexp, optimizer, suggests_adam
):
    # A learning rate so small that neither the loss nor the validation loss moves (no dropout:
    # its noise alone moves the training loss by more than 1%).
    result = gnnexp(
        *FAST,
        "trainer.max_epochs=4",
        f"optimizer={optimizer}",
        "optimizer.lr=1e-12",
        "trainer.min_delta=0.01",
        "model.dropout=0",
    )
    assert result.code == 0, result.err
    res = result.results
    assert res["learned"] is False and "learned nothing" in res["warning"]
    assert ("optimizer=adam" in res["warning"]) is suggests_adam
    assert "learned nothing" in result.out


def test_the_command_counts_its_start_up_and_keeps_waiting_threads_asleep(tmp_path):
    """Run as a command, results.json's wall time runs from the process's start, and the
    command sets OMP_WAIT_POLICY=PASSIVE before torch loads (gnnexp.training.threads)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_WAIT_POLICY", None)
    done = subprocess.run(
        [sys.executable, "-m", "gnnexp", "train", *FAST, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["startup_s"] > 0  # importing torch, at least
    assert res["wall_time_s"] > res["startup_s"] + res["train_time_s"]
    assert f"start-up {res['startup_s']:.2f} s" in done.stdout
    assert res["threads"]["wait_policy"] == "PASSIVE"


def test_wall_time_in_a_callers_process_counts_from_the_call(gnnexp):
    res = gnnexp(*FAST, "trainer.max_epochs=2").results
    assert res["startup_s"] == 0 and res["wall_time_s"] > res["train_time_s"]


def test_multirun_writes_one_dir_per_job(gnnexp):
    result = gnnexp("-m", *FAST, "trainer.max_epochs=2", "model=gcn,mlp", "seed=0,1")
    assert result.code == 0, result.err
    jobs = sorted(p for p in result.run_dir.iterdir() if (p / "results.json").exists())
    assert len(jobs) == 4
    combos = {
        (
            json.loads((j / "results.json").read_text())["model"],
            json.loads((j / "results.json").read_text())["seed"],
        )
        for j in jobs
    }
    assert combos == {("gcn", 0), ("gcn", 1), ("mlp", 0), ("mlp", 1)}


def test_cfg_job_prints_the_composed_config(gnnexp):
    result = gnnexp("--cfg", "job", "model=gat")
    assert result.code == 0
    cfg = yaml.safe_load(result.out)
    assert cfg["model"]["name"] == "gat" and cfg["model"]["heads"] == 8
    assert cfg["optimizer"]["lr"] == "${model.lr}"
    assert not result.run_dir.exists()


def test_user_config_dir_adds_a_model(gnnexp, tmp_path):
    (tmp_path / "mine" / "model").mkdir(parents=True)
    (tmp_path / "mine" / "model" / "tiny_gcn.yaml").write_text(
        "# A 4-unit GCN\ndefaults:\n  - base_model\n  - _self_\nname: gcn\nhidden_channels: 4\n"
    )
    result = gnnexp("--config-dir", str(tmp_path / "mine"), "model=tiny_gcn", *FAST, "trainer.max_epochs=2")
    assert result.code == 0, result.err
    assert result.results["num_params"] == 32 * 4 + 4 + 4 * 4 + 4
