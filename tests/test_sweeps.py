"""Sweeps: grids, failures, launchers, Optuna resume, summaries and run directories."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics

import pytest
import yaml

from gnnexp.config.resolvers import direction, fresh_dir
from gnnexp.data import loading
from gnnexp.data import synthetic_readers as sources
from gnnexp.sweeps.summary import find_jobs, summarize
from tests.conftest import FAST


def _results(sweep):
    return {
        p.name: json.loads((p / "results.json").read_text())
        for p in sweep.iterdir()
        if (p / "results.json").exists()
    }


def _completed_jobs(sweep, expected):
    """Every job's results.json: ``expected`` of them, each completed with finite metrics, in
    the directory named for its own overrides (workers did not write into each other's dirs)."""
    jobs = _results(sweep)
    assert len(jobs) == expected, sorted(jobs)
    for name, job in jobs.items():
        assert job["status"] == "completed", (name, job.get("error"))
        metric = job["metric"]
        assert math.isfinite(job["val"][metric]) and math.isfinite(job["test"][metric]), name
        assert 0 <= job["test"][metric] <= 1, name  # every metric of these tasks is a fraction
        assert all(o in name for o in job["overrides"]), (name, job["overrides"])
    return jobs


def _pm(values):
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def _check_summary(sweep, jobs, failed=None):
    """summary.json and summary.md hold, per configuration (overrides without the seed), the
    mean ± std of the jobs' own val and test metric, and the count of jobs that did not complete."""
    failed = failed or {}
    groups: dict[frozenset, list] = {}
    for job in jobs.values():
        groups.setdefault(frozenset(o for o in job["overrides"] if not o.startswith("seed=")), []).append(job)
    rows = {frozenset(row["config"].split()): row for row in json.loads((sweep / "summary.json").read_text())}
    assert set(rows) == set(groups) | set(failed)
    markdown = (sweep / "summary.md").read_text()
    for key, members in groups.items():
        row = rows[key]
        metric = members[0]["metric"]
        val_mean, val_std = _pm([j["val"][metric] for j in members])
        test_mean, test_std = _pm([j["test"][metric] for j in members])
        assert row["metric"] == metric and row["n"] == len(members) and row["unfinished"] == 0
        assert row["failed"] == failed.get(key, 0)
        assert row["val_mean"] == pytest.approx(val_mean) and row["val_std"] == pytest.approx(val_std)
        assert row["test_mean"] == pytest.approx(test_mean) and row["test_std"] == pytest.approx(test_std)
        if len(members) > 1:
            cells = f"| {len(members)} | {val_mean:.4f} ± {val_std:.4f} | {test_mean:.4f} ± {test_std:.4f} |"
        else:  # one job has no spread to show
            cells = f"| 1 | {val_mean:.4f} | {test_mean:.4f} |"
        assert cells in markdown, (cells, markdown)
    for key, count in failed.items():
        if key not in groups:
            assert rows[key]["n"] == 0 and rows[key]["failed"] == count and rows[key]["test_mean"] is None
    return rows


def _said(out):
    """Console output with line wrapping undone."""
    return " ".join(out.split())


GCN_MLP_BY_TWO_SEEDS = [("gcn", 0), ("gcn", 1), ("mlp", 0), ("mlp", 1)]


def test_grid_of_two_by_two_and_its_summary(gnnexp):
    result = gnnexp("-m", *FAST, "trainer.max_epochs=3", "model=gcn,mlp", "seed=0,1")
    assert result.code == 0, result.err
    jobs = _completed_jobs(result.run_dir, 4)
    assert sorted((j["model"], j["seed"]) for j in jobs.values()) == GCN_MLP_BY_TWO_SEEDS
    rows = {r.config: r for r in summarize(find_jobs([result.run_dir]))}
    for model in ("gcn", "mlp"):
        accs = [j["test"]["accuracy"] for j in jobs.values() if j["model"] == model]
        vals = [j["val"]["accuracy"] for j in jobs.values() if j["model"] == model]
        (key,) = [k for k in rows if f"model={model}" in k]
        row = rows[key]
        assert row.n == 2 and "seed" not in key
        assert row.test_mean == pytest.approx(statistics.fmean(accs))
        assert row.test_std == pytest.approx(statistics.stdev(accs))
        assert row.val_mean == pytest.approx(statistics.fmean(vals))
    _check_summary(result.run_dir, jobs)
    summary = (result.run_dir / "summary.md").read_text()
    assert "| model=gcn |" in summary and "| model=mlp |" in summary
    assert f"sweep {result.run_dir}: 4 jobs, 2 configurations" in _said(result.out)
    assert "model=gcn" in result.out


def test_summarize_command_and_its_formats(gnnexp, tmp_path):
    ran = gnnexp("-m", *FAST, "trainer.max_epochs=2", "model=gcn,mlp", "seed=0,1")
    assert ran.code == 0, ran.err
    sweep = ran.run_dir
    written = _check_summary(sweep, _completed_jobs(sweep, 4))
    table = gnnexp(str(sweep), command="summarize")
    assert table.code == 0 and "4 jobs, 2 configurations" in table.out
    for row in written.values():  # the table shows the same numbers as the files
        assert f"{row['test_mean']:.4f} ± {row['test_std']:.4f}" in table.out
    as_json = gnnexp(str(sweep), "--format", "json", command="summarize")
    assert as_json.code == 0, as_json.err
    rows = json.loads(as_json.out)
    assert [r["n"] for r in rows] == [2, 2]
    without_seeds = {k: {f: v for f, v in r.items() if f != "seeds"} for k, r in written.items()}
    assert {frozenset(r["config"].split()): r for r in rows} == without_seeds  # seeds: with --seeds
    best_first = [r["val_mean"] for r in rows]
    assert best_first == sorted(best_first, reverse=True)  # accuracy: higher is better
    as_csv = gnnexp(str(sweep), "--format", "csv", command="summarize")
    assert as_csv.code == 0, as_csv.err
    assert as_csv.out.splitlines()[0] == (
        "config,metric,n,val_mean,val_std,test_mean,test_std,test_accuracy_mean,test_accuracy_std,"
        "epochs,train_time_s,num_params,failed,unfinished"
    )
    for line in as_csv.out.splitlines()[1:]:  # no float32 noise such as 0.8066666722297668
        assert all(len(cell.split(".")[-1]) <= 9 for cell in line.split(",")[2:] if "." in cell), line
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert [r["config"] for r in csv_rows] == [r["config"] for r in rows]
    for got, want in zip(csv_rows, rows, strict=True):
        assert int(got["n"]) == want["n"] and int(got["failed"]) == 0 and int(got["unfinished"]) == 0
        for column in ("val_mean", "val_std", "test_mean", "test_std"):
            assert float(got[column]) == pytest.approx(want[column]), column
    out = tmp_path / "table.md"
    as_markdown = gnnexp(str(sweep), "--format", "markdown", "--out", str(out), command="summarize")
    assert as_markdown.code == 0 and as_markdown.out == ""  # written to the file, not printed
    assert out.read_text() == (sweep / "summary.md").read_text()
    missing = gnnexp(str(tmp_path / "nowhere"), command="summarize")
    assert missing.code == 2 and "not a directory" in missing.err


def test_a_failing_job_does_not_stop_the_sweep(gnnexp):
    result = gnnexp("-m", *FAST, "trainer.max_epochs=2", "model.dropout=0.5,1.5,0.2")
    assert result.code == 1
    assert "1 of 3 jobs did not complete" in result.err
    assert f"sweep {result.run_dir}: 3 jobs, 3 configurations, 1 failed" in _said(result.out)
    dirs = sorted(result.run_dir.iterdir())
    completed = [d for d in dirs if (d / "results.json").exists()]
    failed = [d for d in dirs if (d / "failed.json").exists()]
    assert len(completed) == 2 and len(failed) == 1
    jobs = _completed_jobs(result.run_dir, 2)
    assert sorted(j["overrides"][-1] for j in jobs.values()) == ["model.dropout=0.2", "model.dropout=0.5"]
    # The later trainer.max_epochs=2 replaced FAST's =8 in the jobs' overrides.
    bad_key = frozenset(
        ["dataset=synthetic", "dataset.num_nodes=300", "trainer.max_epochs=2", "model.dropout=1.5"]
    )
    _check_summary(result.run_dir, jobs, failed={bad_key: 1})
    assert "model.dropout=1.5" in failed[0].name
    assert "model.dropout=1.5 is invalid" in json.loads((failed[0] / "failed.json").read_text())["error"]
    rows = {r.config: r for r in summarize(find_jobs([result.run_dir]))}
    bad = next(r for k, r in rows.items() if "model.dropout=1.5" in k)
    assert bad.failed == 1 and bad.n == 0
    assert "did not complete" in (result.run_dir / "summary.md").read_text()


def test_unfinished_jobs_are_marked_not_crashed_on(gnnexp, tmp_path):
    ran = gnnexp("-m", *FAST, "trainer.max_epochs=2", "seed=0,1")
    assert ran.code == 0, ran.err
    sweep = ran.run_dir
    jobs = _completed_jobs(sweep, 2)
    victim = next(p for p in sweep.iterdir() if (p / "results.json").exists())
    (victim / "results.json").unlink()  # as if the job had been killed
    (survivor,) = [job for name, job in jobs.items() if name != victim.name]
    (sweep / "junk").mkdir()
    rows = summarize(find_jobs([sweep]))
    assert len(rows) == 1 and rows[0].n == 1 and rows[0].unfinished == 1 and rows[0].failed == 0
    assert rows[0].test_mean == pytest.approx(survivor["test"]["accuracy"]) and rows[0].test_std == 0
    table = gnnexp(str(sweep), command="summarize")
    assert table.code == 0, table.err
    assert "2 jobs, 1 configuration, 1 unfinished" in table.out


def test_a_job_that_learned_nothing_is_a_warning_not_a_failure(gnnexp, tmp_path):
    """It ran to its end (a chance-level 2-epoch run, say): summarize must not call it failed."""

    def job(name: str, model: str, **results: object) -> None:
        (tmp_path / name / ".hydra").mkdir(parents=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text(f"- model={model}\n")
        base = {
            "status": "completed",
            "metric": "accuracy",
            "val": {"accuracy": 0.3},
            "test": {"accuracy": 0.3},
        }
        (tmp_path / name / "results.json").write_text(json.dumps({**base, **results}))

    job("0_flat", "gcn", learned=False)
    job("1_broken", "gat", status="failed", error="CUDA out of memory")
    table = gnnexp(str(tmp_path), command="summarize")
    assert table.code == 0, table.err
    lines = [line for line in table.out.splitlines() if "learned nothing" in line or "out of memory" in line]
    labels = {line.split()[0]: line for line in lines}
    assert sorted(labels) == ["failed", "warning"], table.out
    assert "learned nothing" in labels["warning"] and "out of memory" in labels["failed"]
    rows = {row.config: row for row in summarize(find_jobs([tmp_path]))}
    row_flat, row_broken = rows["model=gcn"], rows["model=gat"]
    assert row_flat.errors == [] and row_flat.not_learned == 1 and "0_flat" in row_flat.warnings[0]
    assert row_broken.failed == 1 and row_broken.warnings == []
    markdown = gnnexp(str(tmp_path), "--format", "markdown", command="summarize")
    assert "0_flat: completed, but learned nothing" in markdown.out and "1_broken: failed" in markdown.out


@pytest.mark.parametrize(
    "args",
    [("task=link", *FAST), ("dataset=synthetic_graphs",), ("dataset=synthetic_graphs", "trainer.folds=3")],
)
def test_multirun_works_for_every_task(gnnexp, args):
    result = gnnexp("-m", *args, "trainer.max_epochs=2", "seed=0,1")
    assert result.code == 0, result.err
    jobs = _completed_jobs(result.run_dir, 2)
    assert sorted(j["seed"] for j in jobs.values()) == [0, 1]
    assert {j["task"] for j in jobs.values()} == {"link" if "task=link" in args else "graph"}
    for job in jobs.values():
        if "trainer.folds=3" not in args:
            assert job["epochs_run"] == 2
            continue
        # k-fold: each fold ran its epochs, and the job's test metric is the mean over folds.
        metric = job["metric"]
        assert [(f["fold"], f["epochs_run"]) for f in job["folds"]] == [(1, 2), (2, 2), (3, 2)]
        fold_tests = [f["test"][metric] for f in job["folds"]]
        assert job["test"][metric] == pytest.approx(statistics.fmean(fold_tests))
        assert job["test_std"][metric] == pytest.approx(statistics.stdev(fold_tests), abs=1e-6)
    (row,) = _check_summary(result.run_dir, jobs).values()
    assert row["n"] == 2
    rows = summarize(find_jobs([result.run_dir]))
    assert len(rows) == 1 and rows[0].n == 2


def test_consecutive_jobs_reuse_the_loaded_dataset(gnnexp, monkeypatch):
    loading.clear_cache()
    calls = []
    original = sources.synthetic
    monkeypatch.setattr(sources, "synthetic", lambda cfg, root: calls.append(1) or original(cfg, root))
    result = gnnexp("-m", *FAST, "trainer.max_epochs=1", "model=gcn,mlp,sage")
    assert result.code == 0, result.err
    assert len(calls) == 1
    jobs = _completed_jobs(result.run_dir, 3)  # all three trained on the one loaded dataset
    assert sorted(j["model"] for j in jobs.values()) == ["gcn", "mlp", "sage"]


def test_joblib_launcher_with_two_workers(gnnexp):
    result = gnnexp(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *FAST,
        "trainer.max_epochs=2",
        "model=gcn,mlp",
        "seed=0,1",
    )
    assert result.code == 0, result.err
    jobs = _completed_jobs(result.run_dir, 4)
    assert sorted((j["model"], j["seed"]) for j in jobs.values()) == GCN_MLP_BY_TWO_SEEDS
    assert sorted(j["job_num"] for j in jobs.values()) == [0, 1, 2, 3]
    rows = _check_summary(result.run_dir, jobs)
    assert [row["n"] for row in rows.values()] == [2, 2]


def test_submitit_local_launcher(gnnexp):
    result = gnnexp("-m", "hydra/launcher=submitit_local", *FAST, "trainer.max_epochs=2", "model=gcn,mlp")
    assert result.code == 0, result.err
    jobs = _completed_jobs(result.run_dir, 2)
    assert sorted(j["model"] for j in jobs.values()) == ["gcn", "mlp"]
    assert all(j["epochs_run"] == 2 for j in jobs.values())
    _check_summary(result.run_dir, jobs)


def test_ray_launcher_if_installed(gnnexp):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="the [ray] extra is not installed")
    result = gnnexp("-m", "hydra/launcher=ray", *FAST, "trainer.max_epochs=2", "model=gcn,mlp")
    assert result.code == 0, result.err
    jobs = _completed_jobs(result.run_dir, 2)
    assert sorted(j["model"] for j in jobs.values()) == ["gcn", "mlp"]
    _check_summary(result.run_dir, jobs)


def test_a_launcher_whose_plugin_is_missing_names_the_extra(gnnexp):
    try:
        import hydra_plugins.hydra_ray_launcher  # noqa: F401

        pytest.skip("the ray plugin is installed here")
    except ImportError:
        pass
    result = gnnexp("-m", "hydra/launcher=ray", *FAST)
    assert result.code == 2
    assert "hydra/launcher=ray needs a Hydra plugin that is not installed" in result.err
    assert "pip install 'gnnexp[ray]'" in result.err


def test_direction_follows_the_monitored_value():
    assert direction("val_loss", "auto", "accuracy") == "minimize"
    assert direction("val_metric", "auto", "accuracy") == "maximize"
    assert direction("val_metric", "auto", "mae") == "minimize"
    assert direction("val_metric", "min", "accuracy") == "minimize"


def test_run_dirs_never_collide(tmp_path):
    names = {fresh_dir(str(tmp_path), "10-00-00_gcn_cora") for _ in range(3)}
    assert names == {"10-00-00_gcn_cora", "10-00-00_gcn_cora_2", "10-00-00_gcn_cora_3"}
    assert fresh_dir(str(tmp_path), "0_dataset.edges=/data/x.csv") == "0_dataset.edges=_data_x.csv"


def test_default_run_dirs_in_the_same_second_differ(gnnexp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from gnnexp.cli import main

    same_name = "hydra.run.dir=outputs/x/${gnnexp.fresh_dir:outputs/x,same}"
    for _ in range(2):
        assert main(["train", *FAST, "trainer.max_epochs=1", same_name]) == 0
    runs = sorted(p.name for p in (tmp_path / "outputs" / "x").iterdir())
    assert runs == ["same", "same_2"]
    for run in runs:
        results = json.loads((tmp_path / "outputs" / "x" / run / "results.json").read_text())
        assert results["status"] == "completed" and results["epochs_run"] == 1


@pytest.mark.parametrize("name", ["gcn_cora", "gat_cora", "gcn_citeseer", "gat_citeseer", "gin_mutag"])
def test_experiment_presets_compose(gnnexp, name):
    result = gnnexp("--cfg", "job", f"experiment={name}")
    assert result.code == 0, result.err
    cfg = yaml.safe_load(result.out)
    model, dataset = name.split("_")
    assert cfg["model"]["name"] == model and cfg["dataset"]["name"] == dataset
