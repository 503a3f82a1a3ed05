"""Every user mistake ends in one clear line, a non-zero exit and no result files."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import FAST

CASES = [
    # (overrides, expected fragments of the message)
    (["model=gta"], ["Unknown model 'gta'", "Did you mean 'gat'?", "gcn", "sage"]),
    (["dataset=core"], ["Unknown dataset 'core'", "Did you mean 'cora'?"]),
    (["optimizer=adamm"], ["Unknown optimizer 'adamm'", "Did you mean 'adam'?"]),
    (["scheduler=cosin"], ["Unknown scheduler 'cosin'", "Did you mean 'cosine'?"]),
    (
        ["model.hidden_chanels=32"],
        ["Unknown key 'model.hidden_chanels'", "Did you mean 'model.hidden_channels'?"],
    ),
    (["trainer.max_epoch=3"], ["Did you mean 'trainer.max_epochs'?"]),
    (["modle=gat"], ["Did you mean 'model'?"]),
    (["model=gcn", "model.heads=4"], ["'model' has no key 'heads'", "Valid keys:"]),
    (["model.hidden_channels=abc"], ["model.hidden_channels=abc has the wrong type", "an integer"]),
    (["trainer.max_epochs=1.5"], ["trainer.max_epochs=1.5 has the wrong type"]),
    (["optimizer.lr=0"], ["optimizer.lr=0.0 is invalid", "> 0"]),
    (["optimizer.lr=-0.1"], ["optimizer.lr=-0.1 is invalid"]),
    (["model.dropout=1.0"], ["model.dropout=1.0 is invalid", "[0, 1)"]),
    (["model.dropout=-0.2"], ["model.dropout=-0.2 is invalid"]),
    (["trainer.max_epochs=0"], ["trainer.max_epochs=0 is invalid", ">= 1"]),
    (["model=gat", "model.heads=0"], ["model.heads=0 is invalid"]),
    (["model.norm=batchnorm"], ["model.norm=batchnorm is not one of", "Did you mean 'batch'?"]),
    (["trainer.monitor=val_acc"], ["trainer.monitor=val_acc", "Did you mean 'val_accuracy'?"]),
    (["model=gcn,gat"], ["lists several values, which is a sweep", "gnnexp train -m model=gcn,gat"]),
    (["trainer.max_epochs=[1"], ["Cannot parse override"]),
]


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    CASES,
    ids=lambda c: " ".join(c) if isinstance(c, list) and c and "=" in c[0] else None,
)
def test_bad_override_is_one_clear_line(gnnexp, overrides, fragments):
    result = gnnexp(*overrides)
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("gnnexp: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.err + result.out
    assert "Fix:" in lines[0]
    # Refused before Hydra creates the run dir: nothing that could pass for a result.
    assert not result.run_dir.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu(gnnexp):
    result = gnnexp("device=cuda", *FAST)
    assert result.code == 2
    assert "device=cuda was requested but no CUDA GPU is available" in result.err
    assert "device=cpu" in result.err
    assert not result.run_dir.exists()


def test_missing_dataset_files_offline(gnnexp, tmp_path, monkeypatch):
    monkeypatch.setenv("GNNEXP_DATA_DIR", str(tmp_path / "empty"))
    # Keep PyG from reaching the network even where there is one.
    import torch_geometric.data.dataset as pyg_dataset

    def no_download(self):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(pyg_dataset.Dataset, "_download", no_download)
    result = gnnexp("dataset=citeseer", "trainer.max_epochs=1")
    assert result.code == 2
    assert "CiteSeer raw files are missing from" in result.err
    assert "GNNEXP_DATA_DIR" in result.err
    assert "Traceback" not in result.err
    assert not (result.run_dir / "results.json").exists()
    assert not (result.run_dir / "checkpoints").exists()
    assert (result.run_dir / "failed.json").exists()


def test_unknown_command(gnnexp):
    result = gnnexp(command="trian")
    assert result.code == 2
    assert "unknown command 'trian'. Did you mean 'train'?" in result.err
