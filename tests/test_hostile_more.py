"""Rough edges of issue 24, round 2, in the hostile matrix's terms: exit status, the one-line
message and the files of earlier runs hashed before and after (tests/test_hostile.py's
conventions)."""

from __future__ import annotations

import errno
from typing import Any

import torch

from gnnexp.cli import main
from tests.conftest import FAST
from tests.test_hostile import _hashes


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("gnnexp: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_huge_regression_targets_are_blamed_on_the_data_not_the_learning_rate(tmp_path, capsys):
    n = 40
    edges, labels = tmp_path / "edges.csv", tmp_path / "labels.csv"
    edges.write_text("source,target\n" + "".join(f"{i},{(i + 1) % n}\n" for i in range(n)))
    # Finite as float32, but its squared error is not: every step's loss is inf.
    labels.write_text("label\n" + "".join(("3e38" if i == 5 else "1.0") + "\n" for i in range(n)))
    before = _hashes(tmp_path)
    code = main(
        ["train", "dataset=files", f"dataset.edges={edges}", f"dataset.labels={labels}",
         "dataset.target=regression", "dataset.metric=mae", "trainer.max_epochs=3",
         f"hydra.run.dir={tmp_path / 'run'}"]
    )  # fmt: skip
    line = _one_error_line(capsys.readouterr().err)
    assert code != 0
    assert "dataset=files holds targets as large as 3e+38" in line
    assert "optimizer.lr" not in line and "scale those values" in line
    assert {k: v for k, v in _hashes(tmp_path).items() if k in before} == before


class _FullDisk:
    """A file whose disk fills after ``room`` writes, as torch's writer sees it."""

    def __init__(self, file: Any, room: int) -> None:
        self.file, self.room = file, room

    def write(self, data: bytes) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_keeps_the_previous_one(
    tmp_path, capsys, monkeypatch
):
    run = tmp_path / "run"
    assert main(["train", *FAST, "trainer.max_epochs=3", f"hydra.run.dir={run}"]) == 0
    checkpoints = _hashes(run / "checkpoints")
    real_save = torch.save

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        real_save(obj, _FullDisk(f, room=2), *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    capsys.readouterr()
    code = main(["train", f"trainer.resume={run}", "trainer.max_epochs=6"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "unexpected pos" not in line and "enforce fail" not in line
    assert f"The disk is full while writing {run / 'checkpoints'}" in line
    assert "free some space" in line and "keeps the last good files" in line
    assert _hashes(run / "checkpoints") == checkpoints
    assert not list(run.rglob("*.tmp"))
