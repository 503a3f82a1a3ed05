"""dataset=smiles: RDKit's real activity set on a scaffold split, bad files, the cache."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("rdkit")

from gnnexp.data.examples import freewilson_csv
from gnnexp.data.splits import group_split


def chembl_csv(where: Path) -> Path:
    """RDKit's FreeWilson example set (1,017 molecules with pIC50s), joined into one CSV."""
    return freewilson_csv(where / "mols.csv")


def test_scaffold_split_keeps_scaffolds_whole():
    groups = ["a"] * 50 + ["b"] * 20 + [f"s{i}" for i in range(30)]
    train, val, test = group_split(groups, 0.1, 0.1, seed=0)
    assert sorted(torch.cat([train, val, test]).tolist()) == list(range(100))
    sides = [{groups[i] for i in part.tolist()} for part in (train, val, test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert {"a", "b"} <= sides[0]  # the big scaffolds train
    assert abs(len(test) - 10) <= 1 and abs(len(val) - 10) <= 1
    assert group_split(groups, 0.1, 0.1, seed=1)[2].tolist() != test.tolist()  # seeded


@pytest.mark.slow
def test_gine_beats_the_mean_on_a_scaffold_split_of_real_molecules(gnnexp, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    mols = chembl_csv(tmp_path)
    result = gnnexp("dataset=smiles", f"dataset.path={mols}", "dataset.targets=[activity]", "model=gine",
                    "trainer.max_epochs=60", "trainer.patience=20", "trainer.log_every=1000")  # fmt: skip
    assert result.code == 0, result.err
    assert "by Bemis-Murcko scaffold" in result.out and "30 per edge, used by model=gine" in result.out
    # The mean predictor on the same split: the training mean, scored on the test molecules.
    from gnnexp.config.compose import compose
    from gnnexp.data import load_dataset
    from gnnexp.paths import resolve_data_dir
    from gnnexp.tasks.base import build_task

    cfg = compose(["dataset=smiles", f"dataset.path={mols}", "dataset.targets=[activity]", "model=gine"])
    data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir))
    task = build_task(cfg, data, torch.device("cpu"))
    y = torch.cat([g.y.view(-1) for g in data.graphs])
    train, test = y[task.indices["train"]], y[task.indices["test"]]
    mean_rmse = math.sqrt(float(((test - train.mean()) ** 2).mean()))
    rmse = result.results["test"]["rmse"]
    assert rmse < 0.9 * mean_rmse, (rmse, mean_rmse)


def test_invalid_smiles_are_named_by_row_and_skipped_or_refused(gnnexp, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    mols = tmp_path / "few.csv"
    good = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "CCBr", "CC=O", "C1CC1", "CCOC", "CNC", "COC"]
    rows = [(s, float(i)) for i, s in enumerate(good)]
    rows.insert(3, ("not-a-molecule", 1.0))  # row 5 of the file (row 1 is the header)
    mols.write_text("smiles,y\n" + "".join(f"{s},{v}\n" for s, v in rows))
    common = ("dataset=smiles", f"dataset.path={mols}", "dataset.targets=[y]", "dataset.split=random",
              "model=gin", "trainer.max_epochs=2", "task.val_ratio=0.2", "task.test_ratio=0.2")  # fmt: skip
    skipped = gnnexp(*common)
    assert skipped.code == 0, skipped.err
    assert "1 invalid SMILES (rows 5)" in skipped.out
    refused = gnnexp(*common, "dataset.invalid=refuse")
    assert refused.code != 0
    assert (
        "RDKit cannot read the SMILES of 1 rows (5)" in refused.err and "dataset.invalid=skip" in refused.err
    )
    missing = gnnexp("dataset=smiles", f"dataset.path={mols}", "dataset.targets=[activity]")
    assert missing.code != 0 and "no column activity (its columns: smiles, y)" in missing.err


def test_the_featurised_set_is_cached_until_the_file_changes(tmp_path, data_dir):
    from omegaconf import OmegaConf

    from gnnexp.data.molecules import load_smiles

    mols = tmp_path / "m.csv"
    smiles = ["CCO", "CCN", "CCC", "CCCl", "CCBr", "CC=O", "C1CC1", "CCOC", "CNC", "COC", "CCCC"]
    mols.write_text("smiles,y\n" + "".join(f"{s},{i}\n" for i, s in enumerate(smiles)))
    cfg = OmegaConf.create({"name": "m", "path": str(mols), "smiles": "smiles", "targets": ["y"],
                            "invalid": "skip", "split": "scaffold", "target": "regression"})  # fmt: skip
    first = load_smiles(cfg, tmp_path / "data")
    caches = list((tmp_path / "data" / "smiles").glob("*.pt"))
    assert len(caches) == 1
    again = load_smiles(cfg, tmp_path / "data")
    assert torch.equal(again.graphs[3].x, first.graphs[3].x) and again.groups == first.groups
    assert list((tmp_path / "data" / "smiles").glob("*.pt")) == caches  # reused
    mols.write_text(mols.read_text() + "CCCCC,11\n")
    assert len(load_smiles(cfg, tmp_path / "data").graphs) == 12  # the edited file is read again
    assert first.graphs[0].x.shape[1] == 177 and first.graphs[0].edge_attr.shape[1] == 30


def test_predict_writes_a_row_per_new_molecule(gnnexp, tmp_path):
    train = tmp_path / "train.csv"
    smiles = ["CCO", "CCN", "CCC", "CCCl", "CCBr", "CC=O", "C1CC1", "CCOC", "CNC", "COC", "CCCC", "c1ccccc1"]
    train.write_text("smiles,y\n" + "".join(f"{s},{len(s)}\n" for s in smiles))
    run = gnnexp("dataset=smiles", f"dataset.path={train}", "dataset.targets=[y]", "dataset.split=random",
                 "model=gine", "trainer.max_epochs=3", "task.val_ratio=0.2", "task.test_ratio=0.2")  # fmt: skip
    assert run.code == 0, run.err
    new = tmp_path / "new.csv"
    new.write_text("smiles\nCCCCO\nnonsense\nc1ccncc1\n")  # no target column: molecules to predict
    out = tmp_path / "preds.csv"
    done = gnnexp(str(run.run_dir), f"dataset.path={new}", "--out", str(out), command="predict")
    assert done.code == 0, done.err
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == ["CCCCO", "nonsense", "c1ccncc1"]  # one row per input row
    assert [r["value"] == "" for r in rows] == [False, True, False]  # the unreadable one is empty
    assert all(math.isfinite(float(r["value"])) for r in rows if r["value"])
    assert all(r["label"] == "" for r in rows)
    assert "row 3 'nonsense'" in done.err and "empty predictions" in done.err
    # Training on molecules without labels is refused.
    unlabelled = gnnexp("dataset=smiles", f"dataset.path={new}", "dataset.targets=[y]", "model=gine")
    assert unlabelled.code != 0 and "2 graphs without a label (none: no column y" in unlabelled.err


def test_predict_gives_edge_features_to_a_model_trained_with_them(gnnexp, tmp_path):
    run = gnnexp("dataset=mutag", "model=gine", "trainer.max_epochs=1")
    assert run.code == 0, run.err
    out = tmp_path / "mutag.csv"
    done = gnnexp(str(run.run_dir), "--out", str(out), command="predict")
    assert done.code == 0, done.err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 188 and {r["prediction"] for r in rows} <= {"0", "1"}


def test_several_binary_targets_with_missing_labels_are_masked_and_averaged():
    from omegaconf import OmegaConf

    from gnnexp.metrics import roc_auc
    from gnnexp.tasks.base import Objective

    cfg = OmegaConf.create({"dataset": {"target": "classification", "metric": "roc_auc"},
                            "task": {"loss": "bce", "metric": None}})  # fmt: skip
    objective = Objective(cfg, 2)
    nan = float("nan")
    target = torch.tensor([[1.0, nan], [0.0, 1.0], [1.0, 0.0], [nan, 1.0], [0.0, 0.0]])
    pred = torch.tensor([[2.0, 5.0], [-1.0, 1.0], [0.5, -2.0], [9.0, 0.5], [-0.5, 3.0]])
    scores = objective.scores(pred, target)
    first = roc_auc(pred[[0, 1, 2, 4], 0], torch.tensor([1, 0, 1, 0]))
    second = roc_auc(pred[1:, 1], torch.tensor([1, 0, 1, 0]))
    assert scores["roc_auc"] == pytest.approx((first + second) / 2)
    assert set(scores) == {"loss", "roc_auc", "ap"} and math.isfinite(scores["loss"])
    # The loss counts known labels only: changing a prediction where the label is missing changes nothing.
    moved = pred.clone()
    moved[0, 1] = -40.0
    assert objective.scores(moved, target)["loss"] == pytest.approx(scores["loss"])


def test_a_multi_task_molecule_file_with_gaps_trains_with_bce(gnnexp, tmp_path):
    rows = ["smiles,a,b,c"]
    molecules = ["CCO", "CCN", "CCC", "CCCl", "CCBr", "CC=O", "C1CC1", "CCOC", "CNC", "COC", "CCCC",
                 "c1ccccc1", "c1ccncc1", "CC(C)O", "CCCCC", "OCCO", "NCCN", "ClCCl", "CC#N", "C=CC"]  # fmt: skip
    for i, s in enumerate(molecules):
        rows.append(f"{s},{i % 2},{'' if i % 5 == 0 else (i // 2) % 2},{int('N' in s)}")
    (tmp_path / "tox.csv").write_text("\n".join(rows) + "\n")
    result = gnnexp("dataset=smiles", f"dataset.path={tmp_path / 'tox.csv'}", "dataset.targets=[a,b,c]",
                    "dataset.target=classification", "dataset.metric=roc_auc", "task.loss=bce",
                    "dataset.split=random", "model=gine", "trainer.max_epochs=5",
                    "task.val_ratio=0.25", "task.test_ratio=0.25")  # fmt: skip
    assert result.code == 0, result.err
    test = result.results["test"]
    assert 0 <= test["roc_auc"] <= 1 and 0 <= test["ap"] <= 1 and math.isfinite(test["loss"])
    without = gnnexp("dataset=smiles", f"dataset.path={tmp_path / 'tox.csv'}", "dataset.targets=[a,b,c]",
                     "dataset.target=classification", "dataset.metric=roc_auc", "model=gine")  # fmt: skip
    assert without.code != 0 and "add task.loss=bce" in without.err
