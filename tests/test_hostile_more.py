"""Rough edges of issue 24, round 2, in the hostile matrix's terms: exit status, the one-line
message and the files of earlier runs hashed before and after (tests/test_hostile.py's
conventions)."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from gnnexp.cli import main
from gnnexp.config import components
from tests.conftest import FAST
from tests.test_hostile import _hashes, finished_run  # noqa: F401  (a fixture)


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


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("model.hidden_channels=100000000000",), "model=gcn has 3,700,000,000,004 parameters"),
        (("model=gin", "model.hidden_channels=100000000000"), "model=gin has more than int64 counts"),
        (("dataset.num_nodes=100000000000",), "dataset=synthetic with 100,000,000,000 nodes"),
        (("dataset.num_features=100000000000",), "nodes of 100,000,000,000 features"),
        (
            ("dataset=synthetic_graphs", "task=graph", "dataset.max_nodes=100000000"),
            "graphs of up to 100,000,000",
        ),
    ],
)
def test_absurd_sizes_are_refused_before_allocating(tmp_path, capsys, finished_run, args, expected):  # noqa: F811
    before = _hashes(finished_run)
    base = FAST if "task=graph" not in args else ("trainer.max_epochs=8",)
    code = main(["train", *base, *args, f"hydra.run.dir={tmp_path / 'run'}"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert expected in line and "of memory; this machine has" in line and "Fix: lower " in line
    assert "allocate" not in line
    assert not (tmp_path / "run" / "results.json").exists()
    assert _hashes(finished_run) == before


def test_a_degree_no_graph_has_is_refused(tmp_path, capsys):
    code = main(["train", *FAST, "dataset.avg_degree=1e12", f"hydra.run.dir={tmp_path / 'run'}"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "dataset.avg_degree=1e+12 is above dataset.num_nodes - 1 = 299" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("model=base_gcn",), "model=base_gcn is the schema behind an option, not an option"),
        (("-m", "model=gcn,base_gat"), "model=base_gat is the schema behind an option"),
        (("optimizer=base_sgd",), "optimizer=base_sgd is the schema behind an option"),
    ],
)
def test_a_schema_is_not_an_option(tmp_path, capsys, finished_run, args, expected):  # noqa: F811
    before = _hashes(finished_run)
    code = main(
        ["train", *FAST, *args, f"hydra.run.dir={tmp_path / 'run'}", f"hydra.sweep.dir={tmp_path / 'run'}"]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert expected in line and "Fix: use " in line
    group = expected.partition("=")[0]
    assert f"the {group} options are: " in line and ", base_" not in line
    assert not (tmp_path / "run").exists()
    assert _hashes(finished_run) == before


def test_train_help_lists_options_not_schemas(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    groups = out.partition("== Config ==")[0]
    models = sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "model").glob("*.yaml"))
    assert f"model: {', '.join(models)}\n" in groups
    assert "optimizer: adam, adamw, sgd\n" in groups
    assert "base_" not in groups


USER_MODEL = '''
from gnnexp.models import GNNSpec, option, register_model


@register_model("graphconv_more")
class GraphConvNet(GNNSpec):
    """GraphConv (Morris et al. 2019): higher-order WL message passing."""

    aggr: str = option("add", doc="neighbour aggregation", choices=("add", "mean", "max"))

    def init_conv(self, in_channels, out_channels, last, layout):
        from torch_geometric.nn import GraphConv

        return GraphConv(in_channels, out_channels, aggr=self.aggr)
'''


def test_a_user_model_is_described_by_its_docstring_and_listed_by_name(tmp_path, capsys, monkeypatch):
    (tmp_path / "mymodels_more.py").write_text(USER_MODEL)
    (tmp_path / "myconf" / "model").mkdir(parents=True)
    yaml_file = tmp_path / "myconf" / "model" / "graphconv_more.yaml"
    yaml_file.write_text("defaults:\n  - base_graphconv_more\n  - _self_\n")  # no comment line
    monkeypatch.syspath_prepend(str(tmp_path))
    # Forget the class afterwards: later tests list the built-in components only.
    monkeypatch.setitem(components._REGISTRY, "model", dict(components._REGISTRY["model"]))
    monkeypatch.delitem(sys.modules, "mymodels_more", raising=False)
    before = _hashes(tmp_path)
    conf = ["--config-dir", str(tmp_path / "myconf")]
    # Without its module: one line saying what to add.
    assert main(["list", "model", "graphconv_more", *conf]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "builds on base_graphconv_more, which no imported module declares" in line
    assert "imports=[your_module]" in line
    assert main(["list", "model", *conf, "--format", "markdown", "imports=[mymodels_more]"]) == 0
    row = next(r for r in capsys.readouterr().out.splitlines() if "graphconv_more" in r)
    assert "GraphConv (Morris et al. 2019): higher-order WL message passing" in row
    assert (
        main(["list", "model", "graphconv_more", *conf, "--format", "markdown", "imports=[mymodels_more]"])
        == 0
    )
    out = capsys.readouterr().out
    assert "| model.aggr | add | one of add, mean, max | neighbour aggregation |" in out
    assert _hashes(tmp_path) == before
