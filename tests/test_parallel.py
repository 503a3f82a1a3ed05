"""Parallel jobs: each takes its share of the cores; a parallel sweep shows one line per job;
summaries and plots that a reader can trust."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console

from gnnexp.reporting.plots import groups_figure, run_figure, short_label
from gnnexp.sweeps.summary import find_jobs, summarize
from gnnexp.sweeps.tables import to_csv, to_json
from gnnexp.sweeps.view import SweepView, read_line, render
from gnnexp.training.threads import Threads, decide, launcher_parallelism, share, usable_cores, use
from tests.conftest import FAST

# ---------------------------------------------------------------- the auto rule


def _cgroup(tmp_path: Path, cpu_max: str | None = None, v1: tuple[int, int] | None = None) -> Path:
    root = tmp_path / "cgroup"
    root.mkdir(parents=True)
    if cpu_max is not None:
        (root / "cpu.max").write_text(cpu_max + "\n")
    if v1 is not None:
        (root / "cpu").mkdir()
        (root / "cpu" / "cpu.cfs_quota_us").write_text(f"{v1[0]}\n")
        (root / "cpu" / "cpu.cfs_period_us").write_text(f"{v1[1]}\n")
    return root


def test_usable_cores_takes_the_tightest_limit(tmp_path):
    eight = lambda: set(range(8))  # noqa: E731
    none = _cgroup(tmp_path)
    assert usable_cores({}, eight, none) == (8, "CPU affinity")
    assert usable_cores({}, lambda: {0, 1, 2}, none) == (3, "CPU affinity")
    assert usable_cores({"SLURM_CPUS_PER_TASK": "4"}, eight, none) == (4, "SLURM_CPUS_PER_TASK")
    assert usable_cores({"SLURM_CPUS_PER_TASK": "junk"}, eight, none) == (8, "CPU affinity")
    quota = tmp_path / "v2"
    quota.mkdir()
    assert usable_cores({}, eight, _cgroup(quota, "250000 100000")) == (2, "cgroup CPU quota")
    unlimited = tmp_path / "v2max"
    unlimited.mkdir()
    assert usable_cores({}, eight, _cgroup(unlimited, "max 100000")) == (8, "CPU affinity")
    old = tmp_path / "v1"
    old.mkdir()
    assert usable_cores({}, eight, _cgroup(old, v1=(300000, 100000))) == (3, "cgroup CPU quota")
    assert usable_cores({}, lambda: {0}, _cgroup(tmp_path / "v1" / "x", v1=(-1, 100000)))[0] == 1


def test_launcher_parallelism_from_the_launcher_and_sweeper_config(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert (
        launcher_parallelism({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, {}, 8)
        == 1
    )
    assert launcher_parallelism({"_target_": joblib, "n_jobs": 3}, {}, 8) == 3
    # joblib reads -1 as every usable core (affinity, quota), not the machine's 16
    assert launcher_parallelism({"_target_": joblib, "n_jobs": -1}, {}, 8) == 8
    assert launcher_parallelism({"_target_": joblib, "n_jobs": -2}, {}, 8) == 7
    assert launcher_parallelism({"_target_": joblib, "n_jobs": None}, {}, 8) == 8
    local = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalSubmititLauncher"
    slurm = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmSubmititLauncher"
    assert launcher_parallelism({"_target_": local}, {}, 8) == 8  # the whole batch starts at once
    assert launcher_parallelism({"_target_": slurm}, {}, 8) == 1  # each job on its own allocation
    assert (
        launcher_parallelism({"_target_": joblib, "n_jobs": 4}, {"max_batch_size": 2}, 8) == 2
    )  # batches of 2
    basic = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
    # gnnexp's Optuna sweeper: n_workers trials at once here, whatever the local launcher
    assert launcher_parallelism({"_target_": basic}, {"n_workers": 3}, 8) == 3
    assert launcher_parallelism({"_target_": local}, {"n_workers": 2}, 8) == 2
    assert launcher_parallelism({"_target_": slurm}, {"n_workers": 4}, 8) == 1
    assert launcher_parallelism(None, None, 8) == 1


def test_share_divides_cores_between_jobs_and_sampling_workers():
    assert share(2, 1) == 2
    assert share(2, 2) == 1
    assert share(2, 4) == 1  # never below one thread
    assert share(16, 4) == 4
    assert share(16, 4, workers=2) == 2  # sampling workers are this job's processes
    assert share(16, 1, workers=20) == 1


@pytest.fixture
def torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_threads_are_decided_from_setting_environment_and_launcher():
    cores = usable_cores({})[0]
    auto = decide("auto", 2, 0, {})
    assert auto.count == max(1, cores // 2)
    assert auto.rule.startswith(f"auto: {cores} cores") and "2 jobs at once" in auto.rule
    assert decide("auto", 1, 0, {"SLURM_CPUS_PER_TASK": "1"}) == Threads(
        1, "auto: 1 cores (SLURM_CPUS_PER_TASK) / 1 job at once"
    )
    # An explicit count wins over everything; then OMP_NUM_THREADS (the user's or a launcher's).
    assert decide("3", 4, 2, {"OMP_NUM_THREADS": "1"}) == Threads(3, "trainer.num_threads")
    assert decide("auto", 1, 0, {"OMP_NUM_THREADS": "5"}) == Threads(5, "OMP_NUM_THREADS")
    assert decide("auto", 1, 0, {"OMP_NUM_THREADS": "0"}).rule.startswith("auto:")  # not a count
    eight = (8, "CPU affinity")
    assert decide("auto", 3, 0, {}, eight) == Threads(2, "auto: 8 cores (CPU affinity) / 3 jobs at once")
    workers = decide("auto", 2, 1, {}, eight)
    assert workers.count == 3 and workers.rule.endswith("/ 2 jobs at once - 1 sampling workers")
    assert workers.record({"OMP_WAIT_POLICY": "PASSIVE"}) == {
        "count": 3,
        "rule": workers.rule,
        "wait_policy": "PASSIVE",
    }


def test_use_sets_torch_threads_once(torch_threads):
    use(Threads(1, "trainer.num_threads"))
    assert torch.get_num_threads() == 1
    use(Threads(2, "trainer.num_threads"))  # interop threads are settable once: no error the second time
    assert torch.get_num_threads() == 2


def test_trainer_num_threads_reaches_torch_and_results(gnnexp, torch_threads):
    result = gnnexp(*FAST, "trainer.max_epochs=2", "trainer.num_threads=1")
    assert result.code == 0, result.err
    expected = {"count": 1, "rule": "trainer.num_threads", "wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    assert result.results["threads"] == expected
    assert torch.get_num_threads() == 1  # set in torch, not only recorded
    assert "threads" in result.out and "1 (trainer.num_threads)" in result.out
    bad = gnnexp(*FAST, "trainer.num_threads=0")
    assert bad.code == 2 and "trainer.num_threads=0 is invalid: it must be auto or an integer >= 1" in bad.err


# ---------------------------------------------------------------- the sweep view


def _job(
    sweep: Path, num: int, overrides: list[str], rows: list[tuple[int, float, int]], max_epochs: int = 50
) -> Path:
    job = sweep / f"{num}_{','.join(overrides)}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / ".hydra" / "config.yaml").write_text(f"trainer:\n  max_epochs: {max_epochs}\n")
    lines = ["epoch,train_loss,val_loss,val_accuracy,lr,time_s,best"]
    lines += [f"{e},1.0,0.9,{acc},0.01,0.003,{best}" for e, acc, best in rows]
    (job / "metrics.csv").write_text("\n".join(lines) + "\n")
    return job


def test_sweep_view_shows_one_line_per_running_job(tmp_path):
    sweep = tmp_path / "sweep"
    first = _job(sweep, 0, ["model=gat", "seed=1"], [(1, 0.5, 1), (2, 0.8, 1), (3, 0.7, 0)])
    _job(sweep, 1, ["model=gcn", "seed=1"], [])
    line = read_line(first, 50)
    assert (line.num, line.overrides, line.status) == ("0", "model=gat seed=1", "running")
    assert line.progress() == "epoch 3/50" and line.best == "val_accuracy 0.8000 @ 2"
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=True, color_system=None).print(
        render([line, read_line(sweep / "1_model=gcn,seed=1", 50)], 3, 1)
    )
    text = out.getvalue()
    assert "2 running, 3 finished, 1 not completed" in text
    row = next(r for r in text.splitlines() if "model=gat seed=1" in r)
    assert row.split("│")[1:5] == [
        f" {c} ".ljust(len(s))
        for c, s in zip(
            ["0", "model=gat seed=1", "epoch 3/50", "val_accuracy 0.8000 @ 2"],
            row.split("│")[1:5],
            strict=True,
        )
    ]
    assert "starting" in text  # the job that has no epoch yet


def test_sweep_view_survives_damaged_files(tmp_path):
    sweep = tmp_path / "sweep"
    job = _job(sweep, 0, ["seed=0"], [(1, 0.5, 1)])
    (job / "metrics.csv").write_bytes(b"epoch,val_loss,best\n\xff\xfe1,zz,1\n")
    line = read_line(job, 50)
    assert line.status == "running" and line.epoch == 0 and line.best == ""
    (job / "metrics.csv").write_text(
        "epoch,train_loss,val_loss,val_accuracy,lr,time_s,best\n1,1,0.9,oops,0.1,0.1,1\n"
    )
    assert read_line(job, 50).best == "val_loss 0.9000 @ 1"  # the metric is damaged: the loss


def test_sweep_view_plain_lines_when_not_a_terminal(tmp_path):
    sweep = tmp_path / "sweep"
    job = _job(sweep, 0, ["seed=0"], [(1, 0.5, 1)], max_epochs=3)
    out = io.StringIO()
    view = SweepView(sweep, Console(file=out, width=200))
    view.poll()
    assert out.getvalue() == f"[job 0] seed=0: started (table in {job}/console.log)\n"
    (job / "results.json").write_text(
        json.dumps(
            {"status": "completed", "metric": "accuracy", "val": {"accuracy": 0.5}, "test": {"accuracy": 0.4}}
        )
    )
    view.poll()
    (job / "metrics.csv").unlink()  # an ended job is not read again
    view.poll()  # each end is said once
    assert out.getvalue().splitlines()[1:] == [
        f"[job 0] seed=0: completed after epoch 1/3, best val_accuracy 0.5000 @ 1 (table in {job}/console.log)"
    ]


@pytest.mark.slow
def test_a_parallel_sweep_prints_job_lines_not_interleaved_tables(tmp_path):
    """joblib with two workers: the terminal gets one line per job start and end; each job's
    table is in its console.log; each job takes half the cores."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("OMP_NUM_THREADS", None)
    done = subprocess.run(
        [sys.executable, "-m", "gnnexp", "train", "-m", *FAST, "trainer.max_epochs=6", "seed=0,1",
         "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}", "trainer.curves=false"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(jobs) == 2
    for job in jobs:
        num = job.name.split("_")[0]
        assert f"[job {num}] " in done.stdout and f"(table in {job}/console.log)" in done.stdout
        ended = [
            line
            for line in done.stdout.splitlines()
            if line.startswith(f"[job {num}]") and "completed" in line
        ]
        assert len(ended) == 1 and "after epoch 6/6" in ended[0]
        table = (job / "console.log").read_text()
        rows = [line for line in table.splitlines() if line.split() and line.split()[0].isdigit()]
        assert [int(r.split()[0]) for r in rows] == [1, 2, 3, 4, 5, 6]
        threads = json.loads((job / "results.json").read_text())["threads"]
        # joblib gives its workers OMP_NUM_THREADS=cores // n_jobs; gnnexp's rule says the same.
        assert threads["count"] == share(usable_cores()[0], 2)
    assert "train loss" not in done.stdout  # no epoch table reached the terminal
    assert "2 jobs, 1 configuration" in done.stdout


# ---------------------------------------------------------------- summaries


def _result(sweep: Path, num: int, seed: int, test: dict[str, float], val: float, epochs: int) -> None:
    job = sweep / f"{num}_seed={seed}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- task=link\n- seed={seed}\n")
    results = {
        "status": "completed", "metric": "roc_auc", "val": {"roc_auc": val, "loss": 0.5},
        "test": {"loss": 0.4, **test}, "epochs_run": epochs, "train_time_s": 2.0 + seed,
        "num_params": 12345, "seed": seed, "overrides": ["task=link", f"seed={seed}"],
    }  # fmt: skip
    (job / "results.json").write_text(json.dumps(results))


def test_summarize_shows_every_metric_epochs_time_params_and_seeds(tmp_path, gnnexp):
    sweep = tmp_path / "sweep"
    _result(sweep, 0, 0, {"roc_auc": 0.8066666722297668, "ap": 0.75, "hits@50": 0.25}, 0.81, 100)
    _result(sweep, 1, 1, {"roc_auc": 0.9, "ap": 0.85, "hits@50": 0.35}, 0.91, 80)
    table = gnnexp(str(sweep), "--seeds", command="summarize")
    assert table.code == 0, table.err
    assert "2 jobs, 1 configuration" in table.out and "configurations" not in table.out
    header = next(line for line in table.out.splitlines() if "┃ config" in line)
    for column in (
        "val roc_auc",
        "test roc_auc",
        "test ap",
        "test hits@50",
        "epochs",
        "train time",
        "params",
    ):
        assert column in header, column
    row = next(line for line in table.out.splitlines() if "task=link" in line)
    mean_std = lambda a, b: f"{(a + b) / 2:.4f} ± {math.sqrt((a - b) ** 2 / 2):.4f}"  # noqa: E731
    for cell in (
        mean_std(0.8066666722297668, 0.9),
        mean_std(0.75, 0.85),
        mean_std(0.25, 0.35),
        " 90 ",
        "2.50 s",
        "12,345",
    ):
        assert cell in row, cell
    assert "seed 0: val 0.8100 test 0.8067, seed 1: val 0.9100 test 0.9000" in table.out
    failed = sweep / "2_task=link,seed=0,model=mlp"
    (failed / ".hydra").mkdir(parents=True)
    (failed / ".hydra" / "overrides.yaml").write_text("- task=link\n- model=mlp\n- seed=0\n")
    (failed / "failed.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    rows = summarize(find_jobs([sweep]))
    assert [r.failed for r in rows] == [0, 1]
    with_failed = to_csv(rows, seeds=True).splitlines()
    assert len(with_failed) == 4 and with_failed[-1].startswith("model=mlp task=link,")  # kept, no seed
    assert "seeds" not in json.loads(to_json(rows, seeds=False))[0]
    rows = rows[:1]
    as_csv = to_csv(rows, seeds=True)
    assert "0.8066666722297668" not in as_csv and "0.8066667" in as_csv
    lines = as_csv.splitlines()
    assert lines[0].endswith("seed,seed_val,seed_test") and len(lines) == 3  # one line per seed
    written = json.loads(to_json(rows))
    assert written[0]["seeds"][0] == {"seed": 0, "val": 0.81, "test": 0.8066667, "job": "0_seed=0"}
    assert written[0]["tests"]["hits@50"] == [0.3, pytest.approx(0.07071068)]


# ---------------------------------------------------------------- plots


def _data(epochs: int, lr: list[float] | None = None) -> dict[str, list[float]]:
    return {
        "epoch": [float(e) for e in range(1, epochs + 1)],
        "train_loss": [1.0 / e for e in range(1, epochs + 1)],
        "val_loss": [1.2 / e for e in range(1, epochs + 1)],
        "val_accuracy": [min(0.99, 0.5 + 0.05 * e) for e in range(1, epochs + 1)],
        "lr": lr or [0.01] * epochs,
    }


def test_run_figure_drops_a_constant_lr_panel_and_labels_the_best_epoch():
    figure = run_figure(_data(20), "accuracy", best_epoch=17, title="gcn on cora")
    assert len(figure.axes) == 2
    assert figure._suptitle.get_text() == "gcn on cora · learning rate 0.01 throughout"
    (label,) = [t for t in figure.axes[1].texts if t.get_text() == "best epoch 17"]
    assert label.xy[0] == 17  # anchored at the line, not in a corner
    figure.canvas.draw()
    box, panel = label.get_window_extent(), figure.axes[1].get_window_extent()
    assert panel.x0 <= box.x0 and box.x1 <= panel.x1  # inside its panel
    decaying = run_figure(_data(20, [0.01 * 0.9**e for e in range(20)]), "accuracy", best_epoch=3)
    assert len(decaying.axes) == 3 and decaying.axes[2].get_title() == "learning rate"
    assert decaying._suptitle.get_text() == "training curves"


def test_group_bands_stay_in_range_and_early_stops_do_not_jump():
    high = {
        "epoch": [1.0, 2.0, 3.0],
        "train_loss": [0.05, 0.02, 0.01],
        "val_loss": [0.1, 0.05, 0.02],
        "val_accuracy": [0.9, 0.99, 1.0],
        "lr": [0.1] * 3,
    }
    low = {
        "epoch": [1.0, 2.0, 3.0],
        "train_loss": [0.9, 0.6, 0.5],
        "val_loss": [0.9, 0.8, 0.7],
        "val_accuracy": [0.5, 0.6, 0.7],
        "lr": [0.1] * 3,
    }
    long_label = "model.hidden_channels=64 optimizer.lr=0.001 optimizer.weight_decay=0.0005 model.dropout=0.6"
    figure = groups_figure(
        {long_label: [high, low], "model=mlp": [_data(10), _data(4)]}, "accuracy", "sweep title"
    )
    loss_ax, _, metric_ax = figure.axes
    for ax, low_bound, high_bound in ((loss_ax, 0.0, math.inf), (metric_ax, 0.0, 1.0)):
        for band in ax.collections:
            ys = band.get_paths()[0].vertices[:, 1]
            assert ys.min() >= low_bound and ys.max() <= high_bound
    # model=mlp: a 10-epoch and a 4-epoch run; after epoch 4 the short one counts with its last value
    mlp = next(line for line in metric_ax.lines if line.get_label().startswith("model=mlp"))
    # the long run climbs 0.55, 0.60, ... (capped at 0.99); the short one stays at 0.70 after epoch 4
    long_run = [0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.99]
    short_run = [0.55, 0.60, 0.65, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70]
    expected = [(a + b) / 2 for a, b in zip(long_run, short_run, strict=True)]
    assert list(mlp.get_ydata()) == pytest.approx(expected)
    assert figure._suptitle.get_text() == "sweep title"
    (legend,) = figure.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert all(len(label) <= 56 for label in labels) and any("…" in label for label in labels)
    assert "a run that stopped early counts with its last value" in legend.get_title().get_text()
    figure.canvas.draw()
    top = legend.get_window_extent().y1
    assert all(top < ax.get_window_extent().y0 for ax in figure.axes)  # below every panel


def test_short_label():
    assert short_label("model.hidden_channels=64 seed=1") == "hidden_channels=64 seed=1"
    assert short_label("optimizer.lr=0.001 +trainer.x.y=a.b") == "lr=0.001 y=a.b"
    cut = short_label("x" * 100)
    assert len(cut) == 48 and "…" in cut


def test_the_sweep_view_reads_a_jobs_epochs_once_hydra_has_written_its_config(tmp_path):
    """A job's .hydra folder can exist before its config.yaml: the view must not keep the
    missing maximum for ever (the end line then lacked its '/6')."""
    from rich.console import Console

    from gnnexp.sweeps.view import SweepView

    job = tmp_path / "0_seed=0"
    (job / ".hydra").mkdir(parents=True)
    out = io.StringIO()
    view = SweepView(tmp_path, console=Console(file=out, width=300))
    view.poll()  # Hydra's folder, its files not written yet
    (job / ".hydra" / "config.yaml").write_text("trainer:\n  max_epochs: 6\n")
    (job / ".hydra" / "overrides.yaml").write_text("- seed=0\n")
    rows = "".join(f"{e},1.0,1.0,0.5,{int(e == 6)}\n" for e in range(1, 7))
    (job / "metrics.csv").write_text("epoch,train_loss,val_loss,val_accuracy,best\n" + rows)
    results = {
        "status": "completed",
        "metric": "accuracy",
        "val": {"accuracy": 0.5},
        "test": {"accuracy": 0.5},
    }
    (job / "results.json").write_text(json.dumps(results))
    view.poll()
    ended = [line for line in out.getvalue().splitlines() if "completed" in line]
    assert len(ended) == 1 and "completed after epoch 6/6" in ended[0], out.getvalue()
