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
