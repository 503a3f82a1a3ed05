"""Sweeps: grids, failures, launchers, Optuna resume, summaries and run directories."""

from __future__ import annotations

import json
import statistics

import pytest
import yaml

from gnnexp.config.resolvers import direction, fresh_dir
from gnnexp.data import sources
from gnnexp.summary import find_jobs, summarize
from tests.conftest import FAST


def _results(sweep):
    return {
        p.name: json.loads((p / "results.json").read_text())
        for p in sweep.iterdir()
        if (p / "results.json").exists()
    }


def test_grid_of_two_by_two_and_its_summary(gnnexp):
    result = gnnexp("-m", *FAST, "trainer.max_epochs=3", "model=gcn,mlp", "seed=0,1")
    assert result.code == 0, result.err
    jobs = _results(result.run_dir)
    assert len(jobs) == 4 and len({p for p in jobs}) == 4
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
    summary = (result.run_dir / "summary.md").read_text()
    assert "| model=gcn |" in summary and "| model=mlp |" in summary
    assert "sweep" in result.out and "model=gcn" in result.out


def test_summarize_command_and_its_formats(gnnexp, tmp_path):
    sweep = gnnexp("-m", *FAST, "trainer.max_epochs=2", "model=gcn,mlp", "seed=0,1").run_dir
    table = gnnexp(str(sweep), command="summarize")
    assert table.code == 0 and "4 jobs, 2 configurations" in table.out
    rows = json.loads(gnnexp(str(sweep), "--format", "json", command="summarize").out)
    assert [r["n"] for r in rows] == [2, 2]
    best_first = [r["val_mean"] for r in rows]
    assert best_first == sorted(best_first, reverse=True)  # accuracy: higher is better
    csv_text = gnnexp(str(sweep), "--format", "csv", command="summarize").out
    assert csv_text.splitlines()[0].startswith("config,metric,n,val_mean")
    out = tmp_path / "table.md"
    assert gnnexp(str(sweep), "--format", "markdown", "--out", str(out), command="summarize").code == 0
    assert "| config | metric | n |" in out.read_text()
    missing = gnnexp(str(tmp_path / "nowhere"), command="summarize")
    assert missing.code == 2 and "not a directory" in missing.err


def test_a_failing_job_does_not_stop_the_sweep(gnnexp):
    result = gnnexp("-m", *FAST, "trainer.max_epochs=2", "model.dropout=0.5,1.5,0.2")
    assert result.code == 1
    assert "1 of 3 jobs did not complete" in result.err
    dirs = sorted(result.run_dir.iterdir())
    completed = [d for d in dirs if (d / "results.json").exists()]
    failed = [d for d in dirs if (d / "failed.json").exists()]
    assert len(completed) == 2 and len(failed) == 1
    assert "model.dropout=1.5" in failed[0].name
    assert "model.dropout=1.5 is invalid" in json.loads((failed[0] / "failed.json").read_text())["error"]
    rows = {r.config: r for r in summarize(find_jobs([result.run_dir]))}
    bad = next(r for k, r in rows.items() if "model.dropout=1.5" in k)
    assert bad.failed == 1 and bad.n == 0
    assert "did not complete" in (result.run_dir / "summary.md").read_text()


def test_unfinished_jobs_are_marked_not_crashed_on(gnnexp, tmp_path):
    sweep = gnnexp("-m", *FAST, "trainer.max_epochs=2", "seed=0,1").run_dir
    victim = next(p for p in sweep.iterdir() if (p / "results.json").exists())
    (victim / "results.json").unlink()  # as if the job had been killed
    (sweep / "junk").mkdir()
    rows = summarize(find_jobs([sweep]))
    assert rows[0].n == 1 and rows[0].unfinished == 1
    assert "1 unfinished" in gnnexp(str(sweep), command="summarize").out


@pytest.mark.parametrize(
    "args",
    [("task=link", *FAST), ("dataset=synthetic_graphs",), ("dataset=synthetic_graphs", "trainer.folds=3")],
)
def test_multirun_works_for_every_task(gnnexp, args):
    result = gnnexp("-m", *args, "trainer.max_epochs=2", "seed=0,1")
    assert result.code == 0, result.err
    rows = summarize(find_jobs([result.run_dir]))
    assert len(rows) == 1 and rows[0].n == 2


def test_consecutive_jobs_reuse_the_loaded_dataset(gnnexp, monkeypatch):
    sources.clear_cache()
    calls = []
    original = sources.synthetic
    monkeypatch.setattr(sources, "synthetic", lambda cfg, root: calls.append(1) or original(cfg, root))
    result = gnnexp("-m", *FAST, "trainer.max_epochs=1", "model=gcn,mlp,sage")
    assert result.code == 0, result.err
    assert len(calls) == 1


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
    assert len(_results(result.run_dir)) == 4


def test_submitit_local_launcher(gnnexp):
    result = gnnexp("-m", "hydra/launcher=submitit_local", *FAST, "trainer.max_epochs=2", "model=gcn,mlp")
    assert result.code == 0, result.err
    assert len(_results(result.run_dir)) == 2


def test_ray_launcher_if_installed(gnnexp):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="the [ray] extra is not installed")
    result = gnnexp("-m", "hydra/launcher=ray", *FAST, "trainer.max_epochs=2", "model=gcn,mlp")
    assert result.code == 0, result.err
    assert len(_results(result.run_dir)) == 2


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


def test_optuna_study_resumes_from_its_sqlite_file(gnnexp, tmp_path):
    sweep = tmp_path / "study"
    common = (
        "-m",
        "hparams_search=cora_optuna",
        "trainer.max_epochs=5",
        "dataset=synthetic",
        "dataset.num_nodes=300",
    )
    first = gnnexp(*common, "hydra.sweeper.n_trials=2", run_dir=sweep)
    assert first.code == 0, first.err
    assert (sweep / "optuna.db").is_file()
    second = gnnexp(*common, "hydra.sweeper.n_trials=4", run_dir=sweep)
    assert second.code == 0, second.err
    import optuna

    study = optuna.load_study(study_name="gcn_synthetic", storage=f"sqlite:///{sweep}/optuna.db")
    assert len(study.trials) == 4  # 2 + the 2 missing, not 2 + 4
    assert study.direction.name == "MAXIMIZE"  # from trainer.monitor=val_metric (accuracy)
    jobs = sorted(p.name.split("_")[0] for p in sweep.iterdir() if (p / "results.json").exists())
    assert jobs == ["0", "1", "2", "3"]  # numbering continued: no directory reused
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == 4  # the re-seeded sampler proposes new points
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(t.value for t in study.trials))


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
    assert all((tmp_path / "outputs" / "x" / r / "results.json").is_file() for r in runs)


@pytest.mark.parametrize("name", ["gcn_cora", "gat_cora", "gcn_citeseer", "gat_citeseer", "gin_mutag"])
def test_experiment_presets_compose(gnnexp, name):
    result = gnnexp("--cfg", "job", f"+experiment={name}")
    assert result.code == 0, result.err
    cfg = yaml.safe_load(result.out)
    model, dataset = name.split("_")
    assert cfg["model"]["name"] == model and cfg["dataset"]["name"] == dataset
