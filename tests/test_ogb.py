"""OGB graph datasets through the real ``ogb`` code path, on a tiny dataset in its on-disk layout."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

pytest.importorskip("ogb")


def write_tiny_molhiv(data_dir: Path, graphs: int = 40, name: str = "ogbg_molhiv", tasks: int = 1) -> Path:
    """``<data_dir>/ogb/<name>`` as OGB ships it: gzipped raw CSVs, the scaffold split files
    and the release marker; chains of 3-7 atoms, every third graph positive (several tasks:
    seeded random labels, every fifth one missing)."""
    folder = data_dir / "ogb" / name
    raw, split = folder / "raw", folder / "split" / "scaffold"
    raw.mkdir(parents=True)
    split.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)

    def write(path: Path, rows: list[list[int]]) -> None:
        with gzip.open(path, "wt") as stream:
            stream.writelines(",".join(map(str, row)) + "\n" for row in rows)

    def labels(i: int) -> list:
        if tasks == 1:
            return [int(i % 3 == 0)]
        drawn = torch.randint(0, 2, (tasks,), generator=gen).tolist()
        return ["" if (i + t) % 5 == 0 else v for t, v in enumerate(drawn)]

    edges, atoms, bonds, nodes, links = [], [], [], [], []
    for _ in range(graphs):
        n = int(torch.randint(3, 8, (1,), generator=gen))
        chain = [[i, i + 1] for i in range(n - 1)]
        nodes.append([n])
        links.append([len(chain)])
        edges += chain
        atoms += [[int(torch.randint(0, 5, (1,), generator=gen)), 0, 2, 5, 0, 0, 2, 0, 0] for _ in range(n)]
        bonds += [[int(torch.randint(0, 3, (1,), generator=gen)), 0, 0] for _ in chain]
    write(raw / "edge.csv.gz", edges)
    write(raw / "node-feat.csv.gz", atoms)
    write(raw / "edge-feat.csv.gz", bonds)
    write(raw / "num-node-list.csv.gz", nodes)
    write(raw / "num-edge-list.csv.gz", links)
    write(raw / "graph-label.csv.gz", [labels(i) for i in range(graphs)])
    write(split / "train.csv.gz", [[i] for i in range(28)])
    write(split / "valid.csv.gz", [[i] for i in range(28, 34)])
    write(split / "test.csv.gz", [[i] for i in range(34, 40)])
    (folder / "RELEASE_v1.txt").write_text("a tiny test copy\n")
    return folder


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    write_tiny_molhiv(tmp_path / "data")
    monkeypatch.setenv("GNNEXP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_ogbg_trains_on_the_official_split_scored_by_ogbs_evaluator(gnnexp, tiny, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    result = gnnexp("dataset=ogbg-molhiv", "model=gine", "trainer.max_epochs=3", f"data_dir={tiny}")
    assert result.code == 0, result.err
    assert "OGB's official split; roc_auc by ogb's Evaluator" in result.out
    assert "28/6/6" in result.out and "used by model=gine" in result.out
    assert 0 <= result.results["test"]["roc_auc"] <= 1

    from gnnexp.config.compose import compose
    from gnnexp.data import load_dataset
    from gnnexp.metrics import roc_auc
    from gnnexp.tasks.base import build_task

    cfg = compose(["dataset=ogbg-molhiv", "model=gine", f"data_dir={tiny}"])
    data = load_dataset(cfg.dataset, tiny)
    task = build_task(cfg, data, torch.device("cpu"))
    assert task.indices["test"].tolist() == list(range(34, 40))  # OGB's split, not ours
    name, official = data.scorer
    pred, target = torch.randn(30, 2, generator=torch.Generator().manual_seed(1)), torch.arange(30) % 2
    assert name == "roc_auc" and official(pred, target) == pytest.approx(roc_auc(pred, target))


def test_ogb_never_stops_to_ask_and_keeps_its_split(gnnexp, tiny):
    (tiny / "ogb" / "ogbg_molhiv" / "RELEASE_v1.txt").unlink()  # ogb itself would prompt on stdin
    asked = gnnexp("dataset=ogbg-molhiv", "model=gin", "trainer.max_epochs=1", f"data_dir={tiny}")
    assert asked.code != 0 and "is not a complete OGB dataset" in asked.err
    (tiny / "ogb" / "ogbg_molhiv" / "RELEASE_v1.txt").write_text("back\n")
    folds = gnnexp("dataset=ogbg-molhiv", "model=gin", "trainer.folds=3", f"data_dir={tiny}")
    assert folds.code != 0 and "comes with its official split" in folds.err


def test_ogbg_with_several_tasks_and_gaps_trains_with_bce(gnnexp, tmp_path):
    data = tmp_path / "data"
    write_tiny_molhiv(data, name="ogbg_moltox21", tasks=12)
    result = gnnexp(
        "dataset=ogbg-moltox21", "task.loss=bce", "model=gine", "trainer.max_epochs=3", f"data_dir={data}"
    )
    assert result.code == 0, result.err
    assert 0 <= result.results["test"]["roc_auc"] <= 1

    from gnnexp.config.compose import compose
    from gnnexp.data import load_dataset
    from gnnexp.tasks.base import Objective

    cfg = compose(["dataset=ogbg-moltox21", "task.loss=bce", f"data_dir={data}"])
    loaded = load_dataset(cfg.dataset, data)
    target = torch.cat([g.y for g in loaded.graphs])
    assert target.shape == (40, 12) and torch.isnan(target).any()  # the gaps reach the task
    pred = torch.randn(40, 12, generator=torch.Generator().manual_seed(2))
    # OGB's Evaluator and gnnexp's per-task mean agree on the same predictions.
    ours = Objective(cfg, 12).scores(pred, target)["roc_auc"]
    assert loaded.scorer[1](pred, target) == pytest.approx(ours)
    plain = gnnexp("dataset=ogbg-moltox21", "model=gine", "trainer.max_epochs=1", f"data_dir={data}")
    assert plain.code != 0 and "add task.loss=bce" in plain.err


def _gz(path: Path, rows: list[list]) -> None:
    with gzip.open(path, "wt") as stream:
        stream.writelines(",".join(map(str, row)) + "\n" for row in rows)


def write_tiny_arxiv(data_dir: Path, n: int = 60) -> Path:
    """``<data_dir>/ogb/ogbn_arxiv`` in OGB's layout: directed citations, float features, a
    label per node (three classes that the features reveal), OGB's time split files."""
    folder = data_dir / "ogb" / "ogbn_arxiv"
    raw, split = folder / "raw", folder / "split" / "time"
    raw.mkdir(parents=True)
    split.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    labels = [i % 3 for i in range(n)]
    edges = [[i, j] for i in range(n) for j in (i + 3, i + 6) if j < n]  # same class: j = i mod 3
    features = torch.randn(n, 8, generator=gen)
    for i, y in enumerate(labels):
        features[i, y] += 2.0
    _gz(raw / "edge.csv.gz", edges)
    _gz(raw / "node-feat.csv.gz", [[f"{v:.4f}" for v in row] for row in features.tolist()])
    _gz(raw / "node-label.csv.gz", [[y] for y in labels])
    _gz(raw / "node_year.csv.gz", [[2010 + i % 10] for i in range(n)])
    _gz(raw / "num-node-list.csv.gz", [[n]])
    _gz(raw / "num-edge-list.csv.gz", [[len(edges)]])
    _gz(split / "train.csv.gz", [[i] for i in range(36)])
    _gz(split / "valid.csv.gz", [[i] for i in range(36, 48)])
    _gz(split / "test.csv.gz", [[i] for i in range(48, n)])
    (folder / "RELEASE_v1.txt").write_text("a tiny test copy\n")
    return folder


def write_tiny_collab(data_dir: Path, n: int = 50, name: str = "ogbl_collab") -> Path:
    """``<data_dir>/ogb/ogbl_collab`` in OGB's layout: edges within 5 communities, OGB's split
    files as torch-saved dicts of NumPy arrays (as OGB ships them) with fixed negatives."""
    import numpy as np

    folder = data_dir / "ogb" / name
    raw, split = folder / "raw", folder / "split" / ("time" if name == "ogbl_collab" else "target")
    raw.mkdir(parents=True)
    split.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    group = [i % 5 for i in range(n)]
    pairs = [[i, j] for i in range(n) for j in range(i + 1, n) if group[i] == group[j]]
    order = torch.randperm(len(pairs), generator=gen).tolist()
    pairs = [pairs[i] for i in order]
    features = torch.randn(n, 6, generator=gen)
    for i, g in enumerate(group):
        features[i, g] += 2.0
    _gz(raw / "edge.csv.gz", pairs)
    if name == "ogbl_collab":  # ogbl-ddi has no node features and no edge files
        _gz(raw / "node-feat.csv.gz", [[f"{v:.4f}" for v in row] for row in features.tolist()])
        _gz(raw / "edge_weight.csv.gz", [[1] for _ in pairs])
        _gz(raw / "edge_year.csv.gz", [[2015] for _ in pairs])
    _gz(raw / "num-node-list.csv.gz", [[n]])
    _gz(raw / "num-edge-list.csv.gz", [[len(pairs)]])
    cross = [[i, j] for i in range(n) for j in range(i + 1, n) if group[i] != group[j]]
    val, test, train = pairs[:20], pairs[20:40], pairs[40:]
    torch.save({"edge": np.array(train, dtype=np.int64)}, split / "train.pt")
    torch.save({"edge": np.array(val), "edge_neg": np.array(cross[:100])}, split / "valid.pt")
    torch.save({"edge": np.array(test), "edge_neg": np.array(cross[100:200])}, split / "test.pt")
    (folder / "RELEASE_v1.txt").write_text("a tiny test copy\n")
    return folder


def test_ogbn_trains_on_the_time_split_scored_by_ogbs_evaluator(gnnexp, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    data = tmp_path / "data"
    write_tiny_arxiv(data)
    result = gnnexp("dataset=ogbn-arxiv", "model=sage", "trainer.max_epochs=30", f"data_dir={data}")
    assert result.code == 0, result.err
    assert "OGB's official split; accuracy by ogb's Evaluator" in result.out
    assert "36/12/12" in result.out
    assert result.results["test"]["accuracy"] >= 0.75  # the features reveal the class

    from gnnexp.config.compose import compose
    from gnnexp.data import load_dataset

    cfg = compose(["dataset=ogbn-arxiv", f"data_dir={data}"])
    loaded = load_dataset(cfg.dataset, data)
    graph = loaded.graphs
    assert graph.test_mask.nonzero().view(-1).tolist() == list(range(48, 60))  # OGB's split, not ours
    assert graph.is_undirected() and graph.num_edges == 2 * 111  # citations passed both ways
    name, official = loaded.scorer
    pred, target = torch.randn(12, 3, generator=torch.Generator().manual_seed(1)), torch.arange(12) % 3
    assert name == "accuracy" and official(pred, target) == pytest.approx(
        (pred.argmax(-1) == target).float().mean().item()
    )


def test_ogbl_trains_on_ogbs_edges_and_negatives_scored_by_hits_at_50(gnnexp, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    data = tmp_path / "data"
    write_tiny_collab(data)
    result = gnnexp(
        "dataset=ogbl-collab", "task=link", "model=sage", "trainer.max_epochs=20", f"data_dir={data}"
    )
    assert result.code == 0, result.err
    assert "Hits@50 by ogb's Evaluator" in result.out or "hits@50 by ogb's Evaluator" in result.out
    assert "hits@50" in result.out  # the table's metric column
    assert 0 <= result.results["test"]["hits@50"] <= 1

    from ogb.linkproppred import Evaluator

    from gnnexp.config.compose import compose
    from gnnexp.data import load_dataset
    from gnnexp.tasks.base import build_task

    cfg = compose(["dataset=ogbl-collab", f"data_dir={data}"])
    assert cfg.task.kind == "link"
    loaded = load_dataset(cfg.dataset, data)
    task = build_task(cfg, loaded, torch.device("cpu"))
    assert task.metric == "hits@50"
    assert task.data["val"].neg_edge_label_index.size(1) == 100  # OGB's negatives, not drawn
    assert task.data["test"].pos_edge_label_index.size(1) == 20
    # test passes messages over training and validation edges, validation over training edges
    assert task.data["test"].edge_index.size(1) == task.data["val"].edge_index.size(1) + 40
    gen = torch.Generator().manual_seed(3)
    pos, neg = torch.randn(20, generator=gen), torch.randn(100, generator=gen)
    expected = Evaluator("ogbl-collab").eval({"y_pred_pos": pos, "y_pred_neg": neg})["hits@50"]
    assert loaded.scorer[1](pos, neg) == pytest.approx(expected)
    from gnnexp.metrics import hits_at_k

    assert hits_at_k(pos, neg, 50) == pytest.approx(expected)


def test_hits_applies_to_link_prediction_only(gnnexp, tmp_path):
    data = tmp_path / "data"
    write_tiny_arxiv(data)
    refused = gnnexp("dataset=ogbn-arxiv", "task.metric=hits@50", f"data_dir={data}")
    assert refused.code != 0 and "applies to task=link only" in refused.err
    other = gnnexp("dataset=ogbn-arxiv", "dataset.metric=f1_macro", f"data_dir={data}")
    assert other.code != 0 and "OGB scores ogbn-arxiv by accuracy" in other.err


def test_ogbl_ddi_gets_node_ids_and_keeps_validation_edges_out_of_the_test_graph(tmp_path):
    from gnnexp.config.compose import compose
    from gnnexp.data import load_dataset
    from gnnexp.tasks.base import build_task

    data = tmp_path / "data"
    write_tiny_collab(data, name="ogbl_ddi")
    cfg = compose(["dataset=ogbl-ddi", f"data_dir={data}"])
    loaded = load_dataset(cfg.dataset, data)
    assert torch.equal(loaded.graphs.x, torch.eye(50))  # no node features: one-hot ids
    task = build_task(cfg, loaded, torch.device("cpu"))
    assert task.metric == "hits@20"
    # OGB's rules allow validation edges as input at test time for collab only
    assert torch.equal(task.data["test"].edge_index, task.data["val"].edge_index)


def _trained(run_dir: Path):
    """The task and the model of a finished run, its best weights loaded (as gnnexp eval does)."""
    from omegaconf import OmegaConf

    from gnnexp.data import load_dataset
    from gnnexp.paths import resolve_data_dir
    from gnnexp.tasks.base import build_task
    from gnnexp.training.checkpoint import load_checkpoint, load_weights

    state = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    cfg = OmegaConf.create(state["config"])
    task = build_task(cfg, load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir)), torch.device("cpu"))
    model = task.build_model(cfg.model)
    load_weights(model, state["model"], run_dir)
    return task, model.eval()


def test_ogbs_own_evaluator_on_the_best_model_gives_the_metric_in_results_json(gnnexp, tmp_path):
    """Scored outside gnnexp, by ogb's Evaluator on the saved model's predictions."""
    from ogb.linkproppred import Evaluator as LinkEvaluator
    from ogb.nodeproppred import Evaluator as NodeEvaluator

    data = tmp_path / "data"
    write_tiny_arxiv(data)
    write_tiny_collab(data)
    node = gnnexp("dataset=ogbn-arxiv", "model=sage", "trainer.max_epochs=5", f"data_dir={data}")
    link = gnnexp("dataset=ogbl-collab", "model=gcn", "trainer.max_epochs=5", f"data_dir={data}")
    assert node.code == 0 and link.code == 0, node.err + link.err

    task, model = _trained(node.run_dir)
    with torch.no_grad():
        pred = model(*task.inputs).argmax(-1)
    mask = task.graph.test_mask
    official = NodeEvaluator("ogbn-arxiv").eval(
        {"y_true": task.graph.y[mask].view(-1, 1), "y_pred": pred[mask].view(-1, 1)}
    )["acc"]
    assert node.results["test"]["accuracy"] == pytest.approx(official)

    sampled = gnnexp("dataset=ogbn-arxiv", "model=sage", "loader=neighbor", "loader.backend=torch",
                     "trainer.max_epochs=3", f"data_dir={data}")  # fmt: skip
    assert sampled.code == 0, sampled.err  # as ogbn-products trains: neighbour-sampled batches
    assert 0 <= sampled.results["test"]["accuracy"] <= 1

    task, model = _trained(link.run_dir)
    test = task.data["test"]
    with torch.no_grad():
        z = model.encode(*task.inputs["test"])
        pos, neg = model.decode(z, test.pos_edge_label_index), model.decode(z, test.neg_edge_label_index)
    official = LinkEvaluator("ogbl-collab").eval({"y_pred_pos": pos, "y_pred_neg": neg})["hits@50"]
    assert link.results["test"]["hits@50"] == pytest.approx(official)


def test_ogbg_evaluator_on_the_best_model_gives_the_metric_in_results_json(gnnexp, tiny):
    from ogb.graphproppred import Evaluator

    run = gnnexp("dataset=ogbg-molhiv", "model=gine", "trainer.max_epochs=4", f"data_dir={tiny}")
    assert run.code == 0, run.err
    task, model = _trained(run.run_dir)
    scores, truth = [], []
    with torch.no_grad():
        for batch in task.loaders["test"]:
            logits = task._forward(model, batch)
            scores.append(logits[:, 1] - logits[:, 0])
            truth.append(batch.y)
    official = Evaluator("ogbg-molhiv").eval(
        {"y_true": torch.cat(truth).view(-1, 1), "y_pred": torch.cat(scores).view(-1, 1)}
    )["rocauc"]
    assert run.results["test"]["roc_auc"] == pytest.approx(official)
