"""The bad-input matrix: every wrong invocation ends in one clear line and a non-zero exit.

Each case gives the command line (built by a setup function where it needs files), the
fragments its message must contain and its exit status. No case may leave a best.pt or a
results.json behind, and none may print a traceback.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import FAST


@dataclass
class Case:
    id: str
    args: list[str]
    fragments: list[str]
    code: int = 2
    command: str = "train"
    setup: Callable[[Path, Path, pytest.MonkeyPatch], list[str]] | None = None  # extra args
    skip: str | None = None
    created: bool = False  # whether the run dir may exist (errors found after Hydra made it)


def _offline(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    import torch_geometric.data.dataset as pyg_dataset

    mp.setenv("GNNEXP_DATA_DIR", str(tmp / "empty"))

    def no_download(self: object) -> None:
        raise OSError("network disabled in this test")

    mp.setattr(pyg_dataset.Dataset, "_download", no_download)
    return []


def _corrupt_cora(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    copy = tmp / "corrupt-data"
    shutil.copytree(data / "Planetoid" / "Cora" / "raw", copy / "Planetoid" / "Cora" / "raw")
    graph = copy / "Planetoid" / "Cora" / "raw" / "ind.cora.graph"
    graph.write_bytes(graph.read_bytes()[:1000])
    mp.setenv("GNNEXP_DATA_DIR", str(copy))
    return []


def _files(tmp: Path, labels: list[int]) -> list[str]:
    n = len(labels)
    (tmp / "edges.csv").write_text("source,target\n" + "".join(f"{i},{(i + 1) % n}\n" for i in range(n)))
    (tmp / "y.csv").write_text("label\n" + "".join(f"{v}\n" for v in labels))
    return ["dataset=files", f"dataset.edges={tmp / 'edges.csv'}", f"dataset.labels={tmp / 'y.csv'}"]


def _single_class(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    return _files(tmp, [0] * 30)


def _labels_out_of_range(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    args = _files(tmp, [0, 1] * 15)
    (tmp / "edges.csv").write_text("source,target\n0,1\n1,40\n")
    return args


def _trained_run(tmp: Path) -> Path:
    from gnnexp.cli import main

    run = tmp / "trained"
    assert main(["train", *FAST, "trainer.max_epochs=2", f"hydra.run.dir={run}"]) == 0
    return run


def _flipped_checkpoint(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    run = _trained_run(tmp)
    best = run / "checkpoints" / "best.pt"
    raw = bytearray(best.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    best.write_bytes(bytes(raw))
    (run / "results.json").unlink()  # so that the check below sees only what eval leaves
    best.rename(tmp / "flipped.pt")
    return [str(tmp / "flipped.pt")]


def _foreign_checkpoint(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    torch.save({"state_dict": {"w": torch.ones(3)}}, tmp / "foreign.pt")
    return [str(tmp / "foreign.pt")]


def _truncated_last(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    run = _trained_run(tmp)
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:500])
    (run / "results.json").unlink()
    (run / "checkpoints" / "best.pt").unlink()
    return [f"trainer.resume={run}"]


def _no_cuda(tmp: Path, data: Path, mp: pytest.MonkeyPatch) -> list[str]:
    return [*FAST]


CASES = [
    # Unknown names, with the closest valid one suggested.
    Case("unknown model", ["model=gatt"], ["Unknown model 'gatt'", "Did you mean 'gat'?", "gcn", "sage"]),
    Case("unknown dataset", ["dataset=core"], ["Unknown dataset 'core'", "Did you mean 'cora'?"]),
    Case("unknown optimizer", ["optimizer=adamm"], ["Unknown optimizer 'adamm'", "Did you mean 'adam'?"]),
    Case("unknown scheduler", ["scheduler=cosin"], ["Unknown scheduler 'cosin'", "Did you mean 'cosine'?"]),
    Case("unknown group", ["modle=gat"], ["Did you mean 'model'?"]),
    Case("unknown command", [], ["unknown command 'trian'", "Did you mean 'train'?"], command="trian"),
    # Misspelled keys.
    Case(
        "key typo",
        ["model.hidden_chanels=32"],
        ["Unknown key 'model.hidden_chanels'", "'model.hidden_channels'"],
    ),
    Case("trainer key typo", ["trainer.max_epoch=3"], ["Did you mean 'trainer.max_epochs'?"]),
    Case(
        "key of another model", ["model=gcn", "model.heads=4"], ["'model' has no key 'heads'", "Valid keys:"]
    ),
    # Wrong types.
    Case(
        "string for int",
        ["model.hidden_channels=abc"],
        ["model.hidden_channels=abc has the wrong type", "integer"],
    ),
    Case("float for int", ["trainer.max_epochs=1.5"], ["trainer.max_epochs=1.5 has the wrong type"]),
    Case("unparsable", ["trainer.max_epochs=[1"], ["Cannot parse override"]),
    Case(
        "sweep without -m",
        ["model=gcn,gat"],
        ["lists several values, which is a sweep", "gnnexp train -m model=gcn,gat"],
    ),
    # Impossible values.
    Case("zero lr", ["optimizer.lr=0"], ["optimizer.lr=0.0 is invalid", "> 0"]),
    Case("negative lr", ["optimizer.lr=-0.1"], ["optimizer.lr=-0.1 is invalid"]),
    Case("dropout 1", ["model.dropout=1.0"], ["model.dropout=1.0 is invalid", "[0, 1)"]),
    Case("negative dropout", ["model.dropout=-0.2"], ["model.dropout=-0.2 is invalid"]),
    Case("zero epochs", ["trainer.max_epochs=0"], ["trainer.max_epochs=0 is invalid", ">= 1"]),
    Case("zero heads", ["model=gat", "model.heads=0"], ["model.heads=0 is invalid"]),
    Case(
        "unknown norm",
        ["model.norm=batchnorm"],
        ["model.norm=batchnorm is not one of", "Did you mean 'batch'?"],
    ),
    Case(
        "unknown monitor",
        ["trainer.monitor=val_acc"],
        ["trainer.monitor=val_acc", "Did you mean 'val_accuracy'?"],
    ),
    Case("two folds", ["dataset=mutag", "trainer.folds=2"], ["trainer.folds=2 is invalid", ">= 3"]),
    Case(
        "ratios over 1",
        ["dataset=synthetic", "dataset.train_ratio=0.9", "dataset.val_ratio=0.2"],
        ["leaves nothing"],
    ),
    Case(
        "cuda without gpu",
        ["device=cuda"],
        ["device=cuda was requested but no CUDA GPU is available", "device=cpu"],
        setup=_no_cuda,
        skip="this machine has a GPU" if torch.cuda.is_available() else None,
    ),
    # Combinations that make no sense.
    Case(
        "link on graph dataset", ["task=link", "dataset=mutag"], ["task=link does not apply to dataset=mutag"]
    ),
    Case("sampling graphs", ["dataset=mutag", "loader=neighbor"], ["loader=neighbor samples neighbourhoods"]),
    Case(
        "folds on fixed split",
        ["dataset=cora", "trainer.folds=5"],
        ["trainer.folds=5 applies to graph classification"],
    ),
    Case(
        "mean curve without folds",
        ["dataset=mutag", "trainer.fold_selection=mean_curve", "trainer.patience=null"],
        ["selects an epoch over the folds", "add trainer.folds=10"],
    ),
    Case(
        "mean curve with early stopping",
        ["dataset=mutag", "trainer.fold_selection=mean_curve", "trainer.folds=3"],
        ["needs every fold to run every epoch", "add trainer.patience=null"],
    ),
    Case("hops vs layers", ["loader=neighbor", "model.num_layers=3"], ["loader.num_neighbors has 2 hops"]),
    Case(
        "regression metric",
        ["dataset=synthetic", "dataset.metric=mae"],
        ["metric 'mae' does not fit a classification"],
    ),
    Case("missing file paths", ["dataset=files"], ["dataset.edges, dataset.labels must be set"]),
    Case("resume a sweep", ["-m", "trainer.resume=latest"], ["cannot be swept"]),
    # Missing, corrupt or inconsistent data.
    Case(
        "missing data offline",
        ["dataset=citeseer", "trainer.max_epochs=1"],
        ["CiteSeer raw files are missing from", "GNNEXP_DATA_DIR"],
        setup=_offline,
        created=True,
    ),
    Case(
        "corrupt raw file",
        ["trainer.max_epochs=1"],
        ["Could not read the Cora files", "corrupt"],
        setup=_corrupt_cora,
        created=True,
    ),
    Case(
        "empty train mask",
        [*FAST, "dataset.train_ratio=0.001"],
        ["has no train nodes", "train_mask is empty"],
        created=True,
    ),
    Case(
        "single class",
        ["trainer.max_epochs=1"],
        ["a single class among its training nodes"],
        setup=_single_class,
        created=True,
    ),
    Case(
        "edge out of range",
        ["trainer.max_epochs=1"],
        ["edges.csv row 3", "node id >= 30"],
        setup=_labels_out_of_range,
        created=True,
    ),
    # Checkpoints.
    Case(
        "flipped byte", [], ["flipped.pt is corrupted", "checksum"], command="eval", setup=_flipped_checkpoint
    ),
    Case("foreign checkpoint", [], ["not a gnnexp checkpoint"], command="eval", setup=_foreign_checkpoint),
    Case("missing checkpoint", ["/nonexistent/run"], ["No checkpoint at /nonexistent/run"], command="eval"),
    Case(
        "eval bad split",
        ["/nonexistent/run", "--split", "tset"],
        ["--split tset is not a split"],
        command="eval",
    ),
    Case(
        "truncated resume", [], ["last.pt is not a readable checkpoint", "truncated"], setup=_truncated_last
    ),
]


def _results_files(root: Path) -> set[Path]:
    return {p for name in ("best.pt", "results.json") for p in root.rglob(name)}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_matrix(gnnexp, case, tmp_path, data_dir, monkeypatch):
    if case.skip:
        pytest.skip(case.skip)
    extra = case.setup(tmp_path, data_dir, monkeypatch) if case.setup else []
    before = _results_files(tmp_path)
    args = [*case.args, *extra] if case.command == "train" else [*extra, *case.args]
    result = gnnexp(*args, command=case.command)
    assert result.code == case.code, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    line = lines[0]
    assert line.startswith("gnnexp: error: ")
    for fragment in case.fragments:
        assert fragment in line
    assert "Traceback" not in result.err + result.out
    if case.command == "train" and "unknown command" not in line:
        assert "Fix:" in line
    assert _results_files(tmp_path) == before, "a failed invocation left a best.pt or results.json"
    if not case.created and "-m" not in args:
        assert not result.run_dir.exists()  # refused before Hydra made the run dir


def test_the_matrix_is_large_enough():
    assert len(CASES) >= 25


def test_offline_failure_records_why(gnnexp, tmp_path, data_dir, monkeypatch):
    _offline(tmp_path, data_dir, monkeypatch)
    result = gnnexp("dataset=citeseer", "trainer.max_epochs=1")
    assert (result.run_dir / "failed.json").exists()
    assert not (result.run_dir / "checkpoints").exists()


def test_files_with_nan_features_name_the_row(gnnexp, tmp_path):
    args = _files(tmp_path, [0, 1, 2] * 10)
    x = np.ones((30, 3))
    x[7, 1] = np.nan
    np.save(tmp_path / "x.npy", x)
    result = gnnexp(*args, f"dataset.features={tmp_path / 'x.npy'}", "trainer.max_epochs=1")
    assert result.code == 2
    assert "x.npy row 8: features of node 7 are not finite" in result.err
