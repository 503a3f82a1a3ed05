"""Graph classification, link prediction, neighbour sampling and bring-your-own data."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from gnnexp.config.components import declared, instance
from gnnexp.config.compose import compose
from gnnexp.data.splits import fold_split, stratified_folds, stratified_split
from gnnexp.data.synthetic import planted_partition, random_graphs
from gnnexp.models import GNNSpec
from gnnexp.tasks.link import split_edges
from tests.conftest import FAST

GRAPHS = ("dataset=synthetic_graphs", "trainer.max_epochs=15")


def test_graph_classification_end_to_end(gnnexp):
    result = gnnexp(*GRAPHS, "model=gin")
    assert result.code == 0, result.err
    res = result.results
    assert res["task"] == "graph" and res["choices"]["task"] == "graph"
    assert res["test"]["accuracy"] >= 0.8
    assert 0.0 <= res["test"]["roc_auc"] <= 1.0  # binary: ROC-AUC reported too
    assert (result.run_dir / "checkpoints" / "best.pt").is_file()
    assert len(result.metrics()) == 15
    assert "val accuracy" in result.out


def _graph(num_nodes: int, num_edges: int, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    return Data(x=torch.randn(num_nodes, 6, generator=g), edge_index=edge_index)


def _permuted(graph: Data, seed: int) -> Data:
    """The same graph with its nodes numbered in another order."""
    perm = torch.randperm(graph.num_nodes, generator=torch.Generator().manual_seed(seed))
    new_id = torch.empty_like(perm)
    new_id[perm] = torch.arange(perm.numel())
    return Data(x=graph.x[perm], edge_index=new_id[graph.edge_index])


GRAPH_ENCODERS = sorted(
    name
    for name, cls in declared("model").items()
    if issubclass(cls, GNNSpec) and not cls.needs_edge_features and not getattr(cls, "hetero_only", False)
)


@pytest.mark.parametrize("model", GRAPH_ENCODERS)
@pytest.mark.parametrize("readout", ["mean", "sum", "max"])
def test_any_model_is_a_graph_encoder(model, readout):
    """A graph's output depends on that graph alone, as a set: not on how its nodes are
    numbered, nor on the other graphs of its batch; and two different graphs differ. A
    readout pooling across graphs, or edges crossing between them, would break this."""
    from gnnexp.models.build import model_spec
    from gnnexp.models.fast import fast_forward

    cfg = compose(["task=graph", "dataset=synthetic_graphs", f"model={model}", f"model.readout={readout}"])
    spec = model_spec(cfg.model)
    torch.manual_seed(0)
    # In the layout graph tasks run in (linear maps moved before aggregation).
    layout = fast_forward(spec, None).layout
    net = instance("task", cfg.task).model(cfg.model, 6, 3, layout).eval()
    a, b, c = _graph(7, 16, 1), _graph(9, 20, 2), _graph(5, 9, 3)

    def outputs(*graphs: Data) -> Tensor:
        batch = Batch.from_data_list(list(graphs))
        with torch.no_grad():
            return net(batch.x, batch.edge_index, batch.batch)

    first = outputs(a, b)
    assert first.shape == (2, 3)
    torch.testing.assert_close(outputs(_permuted(a, 4), b), first, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(outputs(a, c)[0], first[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(outputs(c, a)[1], first[0], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(first[0], first[1], atol=1e-4)


def test_folds_are_disjoint_stratified_and_cover_everything():
    labels = torch.tensor([0] * 63 + [1] * 125)
    folds = stratified_folds(labels, 10, seed=0)
    everything = torch.cat(folds).sort().values
    assert torch.equal(everything, torch.arange(188))
    for fold in folds:
        assert fold.numel() in (18, 19, 20)
        assert abs(float(labels[fold].float().mean()) - 125 / 188) < 0.06
    for k in range(10):
        train, val, test = fold_split(labels, 10, k, seed=0)
        assert torch.equal(test, folds[k])
        parts = torch.cat([train, val, test])
        assert parts.unique().numel() == 188 == parts.numel()
    train, val, test = stratified_split(labels, 0.1, 0.1, seed=0)
    assert (train.numel(), val.numel(), test.numel()) == (152, 18, 18)  # 6+12 per held-out split
    assert int(labels[test].sum()) == 12 and int(labels[val].sum()) == 12


def test_cross_validation_reports_each_fold_and_mean(gnnexp):
    result = gnnexp(*GRAPHS, "trainer.folds=3", "trainer.max_epochs=4")
    assert result.code == 0, result.err
    res = result.results
    accs = [f["test"]["accuracy"] for f in res["folds"]]
    assert len(accs) == 3
    assert res["test"]["accuracy"] == pytest.approx(sum(accs) / 3)
    assert res["test_std"]["accuracy"] == pytest.approx(float(np.std(accs, ddof=1)))
    # Folds are numbered from 1 in the headers, the table, the directories and results.json.
    assert [f["fold"] for f in res["folds"]] == [1, 2, 3]
    assert sorted(p.name for p in result.run_dir.glob("fold_*")) == ["fold_1", "fold_2", "fold_3"]
    for k in (1, 2, 3):
        assert (result.run_dir / f"fold_{k}" / "metrics.csv").is_file()
        assert (result.run_dir / f"fold_{k}" / "checkpoints" / "best.pt").is_file()
        assert f"fold {k} of 3" in result.out
    table = result.out[result.out.index("cross-validation") :]
    assert [line.split()[1] for line in table.splitlines() if line.startswith("│ ")][:3] == ["1", "2", "3"]
    assert "mean ± std" in result.out


def test_gin_on_mutag_ten_fold_target(gnnexp):
    result = gnnexp("dataset=mutag", "model=gin", "trainer.folds=10", "trainer.log_every=1000")
    assert result.code == 0, result.err
    assert result.results["test"]["accuracy"] >= 0.85


def test_link_split_keeps_predicted_edges_out_of_message_passing(data_dir):
    graph = planted_partition(500, 3, 8, 6.0, 0.8, 1.0, seed=0)
    train, val, test = split_edges(graph, 0.1, 0.2, seed=0)

    def pairs(edge_index):
        return {tuple(sorted(p)) for p in edge_index.t().tolist()}

    train_mp, val_mp, test_mp = pairs(train.edge_index), pairs(val.edge_index), pairs(test.edge_index)
    val_pos, test_pos = pairs(val.pos_edge_label_index), pairs(test.pos_edge_label_index)
    assert val_pos and test_pos
    assert not (val_pos | test_pos) & train_mp  # the leakage bug, asserted absent
    assert not val_pos & val_mp and not test_pos & test_mp
    assert val_pos <= test_mp  # test may use validation edges for message passing
    assert train_mp == val_mp
    assert len(val_pos) == pytest.approx(0.1 * graph.num_edges / 2, abs=1)


def test_link_prediction_gcn_on_cora(gnnexp):
    result = gnnexp("task=link", "dataset=cora", "model=gcn")
    assert result.code == 0, result.err
    res = result.results
    assert res["metric"] == "roc_auc"
    assert res["test"]["roc_auc"] >= 0.88
    assert 0 < res["test"]["ap"] <= 1 and 0 <= res["test"]["hits@50"] <= 1
    assert "val roc_auc" in result.out


def test_link_prediction_mlp_decoder(gnnexp):
    result = gnnexp("task=link", *FAST, "task.decoder=mlp", "trainer.max_epochs=5")
    assert result.code == 0, result.err
    assert set(result.results["test"]) == {"loss", "roc_auc", "ap", "hits@50"}


def test_neighbor_sampling_matches_full_batch_sage_on_cora(gnnexp):
    full = gnnexp("model=sage", "dataset=cora", "trainer.max_epochs=100", "trainer.monitor=val_metric")
    sampled = gnnexp(
        "model=sage",
        "dataset=cora",
        "trainer.max_epochs=100",
        "trainer.monitor=val_metric",
        "loader=neighbor",
        "loader.num_neighbors=[15,10]",
        "loader.batch_size=512",
        "loader.backend=torch",
    )
    assert full.code == sampled.code == 0, sampled.err
    full_acc, sampled_acc = full.results["test"]["accuracy"], sampled.results["test"]["accuracy"]
    assert abs(full_acc - sampled_acc) <= 0.02, (full_acc, sampled_acc)


def test_neighbor_sampling_with_sampled_evaluation(gnnexp):
    result = gnnexp(
        *FAST,
        "model=sage",
        "loader=neighbor",
        "loader.batch_size=64",
        "loader.eval=sampled",
        "loader.backend=torch",
    )
    assert result.code == 0, result.err
    assert result.results["test"]["accuracy"] > 0.5
    assert "batches" in result.out


def test_pyg_backend_without_its_libraries_is_refused(gnnexp):
    from gnnexp.data.neighbor_sampler import pyg_sampling_available

    if pyg_sampling_available():
        pytest.skip("pyg-lib or torch-sparse is installed here")
    result = gnnexp(*FAST, "model=sage", "loader=neighbor", "loader.backend=pyg")
    assert result.code == 2
    assert "loader.backend=pyg needs pyg-lib or torch-sparse" in result.err


def test_node_regression(gnnexp):
    result = gnnexp(*FAST, "dataset.target=regression", "dataset.metric=mae", "trainer.max_epochs=30")
    assert result.code == 0, result.err
    res = result.results
    assert res["metric"] == "mae" and res["mode"] == "min"
    assert res["test"]["mae"] < 0.8  # targets are standardised: predicting 0 gives ~0.8
    assert res["test"]["rmse"] >= res["test"]["mae"] if "rmse" in res["test"] else True


def test_graph_regression(gnnexp):
    result = gnnexp(
        *GRAPHS,
        "dataset.target=regression",
        "dataset.metric=rmse",
        "task.loss=mae",
        "model=gin",
        "model.readout=mean",
        "trainer.max_epochs=60",
    )
    assert result.code == 0, result.err
    res = result.results
    assert res["metric"] == "rmse" and res["mode"] == "min"
    targets = torch.cat([g.y for g in random_graphs(300, 8, 24, 4, regression=True, seed=0)])
    # Far better than always predicting the mean (whose RMSE is the targets' std).
    assert res["test"]["rmse"] < 0.3 * float(targets.std())


def test_over_smoothing_mitigations_help_a_deep_gcn(gnnexp):
    deep = (
        "model=gcn",
        "model.num_layers=16",
        "model.hidden_channels=64",
        "trainer.max_epochs=100",
        "trainer.monitor=val_metric",
    )
    plain = gnnexp(*deep)
    mitigated = gnnexp(*deep, "model.residual=true", "model.jk=cat")
    assert plain.code == mitigated.code == 0
    assert mitigated.results["test"]["accuracy"] > plain.results["test"]["accuracy"] + 0.05


def test_any_pyg_dataset_class_by_target(gnnexp):
    result = gnnexp(
        "dataset=pyg",
        "dataset._target_=torch_geometric.datasets.KarateClub",
        "dataset.name=karate",
        "trainer.max_epochs=5",
    )
    assert result.code == 0, result.err
    assert "train/val/test" in result.out and "20/6/8" in result.out


def _write_graph(tmp_path, num_nodes=30):
    gen = np.random.default_rng(0)
    edges = gen.integers(0, num_nodes, size=(80, 2))
    (tmp_path / "edges.csv").write_text("source,target\n" + "\n".join(f"{a},{b}" for a, b in edges) + "\n")
    np.save(tmp_path / "x.npy", gen.normal(size=(num_nodes, 4)).astype(np.float32))
    (tmp_path / "y.csv").write_text("label\n" + "\n".join(str(i % 3) for i in range(num_nodes)) + "\n")


def test_graph_from_files(gnnexp, tmp_path):
    _write_graph(tmp_path)
    result = gnnexp(
        "dataset=files",
        f"dataset.edges={tmp_path / 'edges.csv'}",
        f"dataset.features={tmp_path / 'x.npy'}",
        f"dataset.labels={tmp_path / 'y.csv'}",
        "trainer.max_epochs=3",
    )
    assert result.code == 0, result.err
    assert result.results["dataset"] == "files"
    assert "18/6/6" in result.out


@pytest.mark.parametrize(
    ("corrupt", "fragments"),
    [
        (
            lambda p: (p / "edges.csv").write_text("source\n1\n2\n"),
            ["edges.csv has columns ['source']", "exactly two"],
        ),
        (
            lambda p: (p / "edges.csv").write_text("source,target\n0,1\n2,99\n"),
            ["edges.csv row 3", "node id >= 30"],
        ),
        (
            lambda p: (p / "edges.csv").write_text("source,target\n0,1\nx,2\n"),
            ["edges.csv row 3", "not numeric"],
        ),
        (
            lambda p: (p / "y.csv").write_text("label\n0\n1\n"),
            ["x.npy has 30 rows", "labels file has 2 nodes"],
        ),
        (
            lambda p: (p / "y.csv").write_text("label\n0\n1.5\n" + "0\n" * 28),
            ["y.csv row 3", "not a non-negative integer"],
        ),
        (
            lambda p: np.save(p / "x.npy", np.where(np.arange(120).reshape(30, 4) == 41, np.nan, 1.0)),
            ["x.npy row 11", "NaN", "node 10"],
        ),
    ],
)
def test_bad_files_name_the_file_and_row(gnnexp, tmp_path, corrupt, fragments):
    _write_graph(tmp_path)
    corrupt(tmp_path)
    result = gnnexp(
        "dataset=files",
        f"dataset.edges={tmp_path / 'edges.csv'}",
        f"dataset.features={tmp_path / 'x.npy'}",
        f"dataset.labels={tmp_path / 'y.csv'}",
        "trainer.max_epochs=1",
    )
    assert result.code == 2
    line = result.err.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in line
    assert not (result.run_dir / "results.json").exists()


def test_results_of_every_task_have_the_same_shape(gnnexp):
    keys = None
    for args in (FAST, GRAPHS, ("task=link", *FAST)):
        result = gnnexp(*args, "trainer.max_epochs=2")
        assert result.code == 0, result.err
        res = json.loads((result.run_dir / "results.json").read_text())
        shape = {k for k in res if k not in ("choices", "overrides")}
        keys = keys or shape
        assert shape == keys
        assert (result.run_dir / "metrics.csv").is_file() and (
            result.run_dir / "checkpoints" / "last.pt"
        ).is_file()


def test_xu_et_al_protocol_reports_the_epoch_with_the_best_mean_over_the_held_out_folds(gnnexp):
    run = gnnexp("dataset=synthetic_graphs", "trainer.folds=3", "trainer.fold_selection=mean_curve",
                 "trainer.patience=null", "trainer.max_epochs=6", "trainer.log_every=100")  # fmt: skip
    assert run.code == 0, run.err
    curves = []
    for fold in (1, 2, 3):
        with (run.run_dir / f"fold_{fold}" / "metrics.csv").open() as stream:
            curves.append({int(r["epoch"]): float(r["val_accuracy"]) for r in csv.DictReader(stream)})
    mean = {e: sum(c[e] for c in curves) / 3 for e in range(1, 7)}
    epoch = run.results["selected_epoch"]
    assert mean[epoch] == max(mean.values()) and epoch == min(e for e in mean if mean[e] == mean[epoch])
    assert run.results["test"]["accuracy"] == pytest.approx(mean[epoch])
    assert run.results["val"] == run.results["test"]  # the held-out fold is both
    assert run.results["fold_selection"] == "mean_curve"
    assert f"{epoch} for every fold" in run.out and "selected on the test folds" in run.out


def test_held_out_folds_train_on_all_the_others():
    labels = torch.arange(40) % 2
    seen = []
    for fold in range(4):
        train, val, test = fold_split(labels, 4, fold, seed=0, held_out_only=True)
        assert val.tolist() == test.tolist() and len(train) == 30
        assert sorted(torch.cat([train, test]).tolist()) == list(range(40))
        seen += test.tolist()
    assert sorted(seen) == list(range(40))  # every graph is held out exactly once
    train, val, test = fold_split(labels, 4, 0, seed=0)
    assert not set(val.tolist()) & set(test.tolist()) and len(train) == 20  # ours: a separate validation fold
