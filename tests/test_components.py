"""Declared components: a model, a tracker of one's own in one class and one YAML; settings,
checks, ``gnnexp list`` and the README derive from the declarations; files are data."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
import torch

from gnnexp.cli import main
from gnnexp.commands.generated_docs import generated
from gnnexp.config.components import declared, settings
from gnnexp.training.checkpoint import load_checkpoint, save_checkpoint
from tests.conftest import FAST, REPO

MY_MODELS = '''
import json
from pathlib import Path

import torch

from gnnexp.config.components import component, option
from gnnexp.loggers import Logger
from gnnexp.loggers.kinds import LoggerSpec
from gnnexp.models import GNNSpec, register_model


@register_model("graphconv_{tag}")
class GraphConvNet(GNNSpec):
    """GraphConv (Morris et al. 2019): my own architecture."""

    aggr: str = option("add", doc="neighbour aggregation", choices=("add", "mean", "max"))

    def init_conv(self, in_channels, out_channels, last, layout):
        from torch_geometric.nn import GraphConv

        return GraphConv(in_channels, out_channels, aggr=self.aggr)


class JsonLines(Logger):
    def __init__(self, path):
        self.file = open(path, "w")

    def log_epoch(self, record, metric):
        self.file.write(json.dumps({{"epoch": record.epoch, "loss": record.train_loss}}) + "\\n")

    def close(self, failed=False):
        self.file.close()


@component("logger", "jsonl_{tag}")
class JsonLinesSpec(LoggerSpec):
    """Each epoch as one JSON line."""

    file: str = option("epochs.jsonl", doc="file in the run dir")

    def build(self, out_dir, meta):
        return JsonLines(Path(out_dir) / self.file)


class Plain(torch.nn.Module):
    """A user's class that is no GNNSpec: its own keys come through as arguments."""

    def __init__(self, in_channels, out_channels, hidden_channels, num_layers, dropout, act, norm, jk,
                 residual, drop_edge, aggr="mean"):
        super().__init__()
        from torch_geometric.nn import SAGEConv

        self.aggr = aggr
        self.conv = SAGEConv(in_channels, out_channels, aggr=aggr)

    def forward(self, x, edge_index):
        return self.conv(x, edge_index)
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch, request):
    """A module of the user's (on sys.path) and a config dir with one YAML per component."""
    tag = request.node.name.split("[")[0].removeprefix("test_")[-12:]
    (tmp_path / f"mymodels_{tag}.py").write_text(MY_MODELS.format(tag=tag))
    conf = tmp_path / "myconf"
    (conf / "model").mkdir(parents=True)
    (conf / "logger").mkdir()
    (conf / "model" / f"graphconv_{tag}.yaml").write_text(
        f"# GraphConv of mine [extra]\ndefaults:\n  - base_graphconv_{tag}\n  - _self_\nhidden_channels: 8\n"
    )
    (conf / "logger" / f"jsonl_{tag}.yaml").write_text(
        f"# epochs as JSON lines\njsonl_{tag}:\n  file: e.jsonl\n"
    )
    (conf / "model" / "plain.yaml").write_text(
        f"# my plain class\ndefaults:\n  - base_model\n  - _self_\nname: plain\n"
        f"_target_: mymodels_{tag}.Plain\naggr: max\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tag, conf
    for group, name in (("model", f"graphconv_{tag}"), ("logger", f"jsonl_{tag}")):
        from gnnexp.config import components

        components._REGISTRY[group].pop(name, None)
    sys.modules.pop(f"mymodels_{tag}", None)


def test_a_model_and_a_tracker_of_ones_own_train_and_are_listed(user_dir, gnnexp, capsys, monkeypatch):
    tag, conf = user_dir
    common = ("--config-dir", str(conf), f"imports=[mymodels_{tag}]", *FAST)
    result = gnnexp(*common, f"model=graphconv_{tag}", "model.aggr=mean", f"logger=[csv,jsonl_{tag}]")
    assert result.code == 0, result.err
    assert result.results["model"] == f"graphconv_{tag}"
    assert 0 <= result.results["test"]["accuracy"] <= 1
    lines = (result.run_dir / "e.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 9))
    # The option's own setting is checked like a built-in one.
    bad = gnnexp(*common, f"model=graphconv_{tag}", "model.aggr=maxx")
    assert bad.code == 2
    assert "model.aggr=maxx is not one of add, mean, max" in bad.err and "Traceback" not in bad.err
    monkeypatch.setenv("COLUMNS", "250")  # rich would wrap the table's cells otherwise
    assert main(["list", "model", "--config-dir", str(conf)]) == 0
    listed = capsys.readouterr().out
    assert f"graphconv_{tag}" in listed and "GraphConv of mine [extra]" in listed
    # eval of that run needs the user's module repeated: it is code named by a file.
    refused = main(["eval", str(result.run_dir)])
    assert refused == 2 and "names code to import" in capsys.readouterr().err
    assert main(["eval", str(result.run_dir), f"imports=[mymodels_{tag}]"]) == 0


def test_a_plain_user_class_gets_its_own_keys(user_dir, gnnexp):
    _, conf = user_dir
    result = gnnexp("--config-dir", str(conf), "model=plain", *FAST)
    assert result.code == 0, result.err
    assert result.results["model"] == "plain"
    unknown = gnnexp("--config-dir", str(conf), "model=plain", "+model.depth=3", *FAST)
    assert unknown.code == 2
    assert "takes no argument depth" in unknown.err


def test_settings_come_from_the_declarations():
    gat = declared("model")["gat"]
    defaults = {name: default for name, default, *_ in settings(gat)}
    assert defaults["heads"] == 8 and defaults["out_heads"] == 1
    assert "heads:" not in (REPO / "conf" / "model" / "gat.yaml").read_text()  # said once, in the class
    table = generated("gnnexp list --settings --format markdown")  # the docs' table (test_generated_docs)
    assert "`heads` (8; an integer >= 1)" in table


def test_list_shows_settings_and_never_internal_schemas(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["list", "model", "gat"]) == 0
    out = capsys.readouterr().out
    assert "model.heads" in out and "an integer >= 1" in out
    assert main(["list"]) == 0
    assert "base_" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("model.dropout=abc", "model.dropout=abc has the wrong type"),
        ("model.dropout=2", "model.dropout=2.0 is invalid: it must be a number in [0, 1)"),
        ("trainer.min_delta=inf", "trainer.min_delta=inf is not a finite number"),
        ("optimizer.betas=[0.9,1.5]", "must be two numbers in [0, 1)"),
    ],
)
def test_eval_accepts_and_refuses_what_train_does(gnnexp, capsys, override, fragment):
    trained = gnnexp(*FAST, "trainer.max_epochs=2")
    assert trained.code == 0, trained.err
    assert main(["eval", str(trained.run_dir), "model.dropout=5e-1"]) == 0
    capsys.readouterr()
    train_bad = gnnexp(*FAST, override)
    assert main(["eval", str(trained.run_dir), override]) == 2
    eval_err = capsys.readouterr().err
    assert train_bad.code == 2 and fragment in train_bad.err and fragment in eval_err
    assert "Traceback" not in eval_err


@pytest.mark.parametrize("command", ["eval", "predict"])
@pytest.mark.parametrize("key", ["dataset", "model"])
def test_a_forged_checkpoint_runs_no_code(gnnexp, tmp_path, monkeypatch, capsys, command, key):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\nclass Evil:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    trained = gnnexp(*FAST, "trainer.max_epochs=2")
    assert trained.code == 0, trained.err
    path = trained.run_dir / "checkpoints" / "best.pt"
    state = load_checkpoint(path)
    state.pop("checksum", None)
    state["config"][key]["_target_"] = "evil.Evil"
    save_checkpoint(path, state)  # a valid checksum: whoever forges the file writes it too
    before = path.read_bytes()
    code = main([command, str(trained.run_dir), "--out", str(tmp_path / "out.file")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{key}._target_=evil.Evil" in err and "--trust-config" in err
    assert not marker.exists() and "evil" not in sys.modules
    assert path.read_bytes() == before and not (tmp_path / "out.file").exists()


def test_the_fast_layout_is_chosen_when_the_model_is_built():
    from torch_geometric.data import Data

    from gnnexp.models.conv_archs import GCN
    from gnnexp.models.fast import fast_forward
    from gnnexp.models.layout import PLAIN

    spec = GCN(hidden_channels=8)
    x = torch.zeros(20, 50)
    x[0, 0] = 1.0
    graph = Data(x=x, edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]))
    forward = fast_forward(spec, graph)
    assert forward.layout.adjacency == "gcn" and forward.layout.sparse_features
    features, adjacency = forward.inputs
    assert features.layout == adjacency.layout == torch.sparse_csr
    assert torch.equal(graph.x, x) and graph.edge_index.shape == (2, 3)  # the graph is not changed
    built_fast, built_plain = spec.build(50, 3, forward.layout), spec.build(50, 3, PLAIN)
    assert [c.normalize for c in built_fast.convs] == [False, False]
    assert [c.normalize for c in built_plain.convs] == [True, True]
    off = fast_forward(spec, graph, enabled=False)
    assert off.layout == PLAIN and off.inputs[1] is graph.edge_index


@pytest.mark.parametrize("flag", [False, True])
def test_trainer_deterministic_sets_torchs_mode(gnnexp, flag):
    result = gnnexp(*FAST, "trainer.max_epochs=1", f"trainer.deterministic={str(flag).lower()}")
    assert result.code == 0, result.err
    assert torch.are_deterministic_algorithms_enabled() is flag
    torch.use_deterministic_algorithms(False)


BUILT_IN_MODEL = '''


@component("model", "graphconv")
class GraphConv(GNNSpec):
    """GraphConv (Morris et al. 2019): higher-order WL message passing."""

    aggr: str = option("add", doc="neighbour aggregation", choices=("add", "mean", "max"))

    def init_conv(self, in_channels: int, out_channels: int, last: bool, layout: Layout) -> Any:
        from torch_geometric.nn import GraphConv as Conv

        return Conv(in_channels, out_channels, aggr=self.aggr)
'''

BUILT_IN_LOGGER = '''


@component("logger", "lines")
class Lines(LoggerSpec):
    """Each epoch's training loss as a line of a text file."""

    file: str = option("losses.txt", doc="file in the run dir")

    def build(self, out_dir: Path, meta: dict[str, Any]) -> Logger | None:
        from gnnexp.loggers.base import Logger

        class Writer(Logger):
            def log_epoch(self, record: Any, metric: str) -> None:
                with open(out_dir / self_file, "a") as f:
                    f.write(f"{record.epoch} {record.train_loss}\\n")

        self_file = self.file
        return Writer()
'''


def test_a_built_in_model_and_logger_are_one_class_and_one_yaml_each(tmp_path):
    """In a copy of the package: a class appended to the architectures' and trackers' modules,
    one option file each, and nothing else touched."""
    import subprocess

    copy = tmp_path / "repo"
    shutil.copytree(REPO / "gnnexp", copy / "gnnexp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "conf", copy / "conf")
    with open(copy / "gnnexp" / "models" / "conv_archs.py", "a") as f:
        f.write(BUILT_IN_MODEL)
    with open(copy / "gnnexp" / "loggers" / "kinds.py", "a") as f:
        f.write(BUILT_IN_LOGGER)
    (copy / "conf" / "model" / "graphconv.yaml").write_text(
        "# GraphConv (Morris et al. 2019)\ndefaults:\n  - base_graphconv\n  - _self_\nhidden_channels: 16\n"
    )
    (copy / "conf" / "logger" / "lines.yaml").write_text("# losses as text\nlines:\n  file: losses.txt\n")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    run = tmp_path / "run"
    command = [sys.executable, "-m", "gnnexp", "train", *FAST, "model=graphconv", "model.aggr=mean"]
    done = subprocess.run(
        [*command, "logger=[csv,lines]", f"hydra.run.dir={run}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # python -m puts the working directory before PYTHONPATH
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "results.json").read_text())["model"] == "graphconv"
    assert len((run / "losses.txt").read_text().splitlines()) == 8
    listed = subprocess.run(
        [sys.executable, "-m", "gnnexp", "list", "model", "graphconv"],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, cwd=tmp_path,
    )  # fmt: skip
    assert (
        listed.returncode == 0 and "model.aggr" in listed.stdout and "one of add, mean, max" in listed.stdout
    )


def test_drop_edge_drops_a_share_p_of_the_edges_in_training_only():
    """DropEdge: each training pass gives every layer the same random ~p of the edges fewer;
    evaluation sees all of them, deterministically, as the model without DropEdge does; and
    the fast layouts keep the edge list for it to sample from."""
    from torch_geometric.data import Data

    from gnnexp.models.conv_archs import GraphSAGE
    from gnnexp.models.fast import fast_forward

    torch.manual_seed(0)
    x, edge_index = torch.randn(200, 8), torch.randint(0, 200, (2, 4000))
    spec = GraphSAGE(name="sage", hidden_channels=16, num_layers=2, dropout=0.0, drop_edge=0.3)
    forward = fast_forward(spec, Data(x=x, edge_index=edge_index))
    assert forward.layout.adjacency == "coo" and forward.inputs[1] is edge_index
    model = spec.build(8, 3, forward.layout)
    without = GraphSAGE(name="sage", hidden_channels=16, num_layers=2, dropout=0.0).build(
        8, 3, forward.layout
    )
    without.load_state_dict(model.state_dict())
    seen: list[int] = []
    for conv in model.convs:
        conv.register_forward_pre_hook(lambda _, args: seen.append(args[1].size(1)))

    model.train()
    outs = [model(*forward.inputs) for _ in range(20)]
    per_pass = list(zip(seen[::2], seen[1::2], strict=True))
    assert all(first == second for first, second in per_pass)  # one draw per pass, for every layer
    kept = sum(first for first, _ in per_pass) / (len(per_pass) * edge_index.size(1))
    assert abs(kept - 0.7) < 0.02
    assert len({n for n, _ in per_pass}) > 1 and not torch.equal(outs[0], outs[1])
    without.train()
    assert not torch.allclose(outs[0], without(*forward.inputs))

    model.eval()
    without.eval()
    seen.clear()
    with torch.no_grad():
        evaluated = model(*forward.inputs)
        assert seen == [edge_index.size(1)] * 2
        assert torch.equal(evaluated, model(*forward.inputs))
        torch.testing.assert_close(evaluated, without(*forward.inputs))
