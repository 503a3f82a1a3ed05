"""Fast paths, mixed precision, torch.compile and DDP: same answers as the plain paths."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch_geometric.data import Data

from gnnexp.config.components import declared
from gnnexp.config.compose import compose
from gnnexp.data import load_dataset
from gnnexp.models import GNNSpec
from gnnexp.models.fast import FastForward, fast_forward, trimmed
from gnnexp.models.fast import sparse as fast
from gnnexp.models.layout import PLAIN, Layout
from gnnexp.paths import resolve_data_dir
from gnnexp.running.experiment import build_experiment
from gnnexp.tasks import build_task
from gnnexp.training.checkpoint import load_checkpoint, load_weights
from gnnexp.training.loop import evaluate
from tests.conftest import FAST, REPO

# Every built-in architecture that works without edge features (tests/test_edge_features.py
# covers the others).
MODELS = sorted(
    name
    for name, cls in declared("model").items()
    if issubclass(cls, GNNSpec)
    and not cls.needs_edge_features
    and not getattr(cls, "hetero_only", False)  # not the knowledge-graph models
)


def _pair(overrides: list[str]):
    """The same model (same weights) built by a fast-path task and by a plain one."""
    tasks, models = [], []
    for flag in (True, False):
        cfg = compose(overrides)
        data = load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir))
        task = build_task(cfg, data, torch.device("cpu"), fast=flag)
        torch.manual_seed(0)
        model = task.build_model(cfg.model)
        tasks.append(task)
        models.append(model)
    models[1].load_state_dict(models[0].state_dict())
    return tasks, models


# Every architecture, and every aggregator and option that changes how a layer aggregates.
VARIANTS = [
    *([f"model={m}"] for m in MODELS),
    ["model=sage", "model.aggr=sum"],
    ["model=sage", "model.aggr=max"],
    ["model=gin", "model.train_eps=true"],
]
IDS = [" ".join(v).replace("model=", "").replace("model.", "") for v in VARIANTS]
# No dropout anywhere: the fast paths draw their masks differently, all else is exact.
NO_DROPOUT = ("model.dropout=0",)


def _no_dropout(variant: list[str]) -> list[str]:
    attention = (
        ("model.attn_dropout=0",) if variant[0] in ("model=gat", "model=gatv2", "model=transformer") else ()
    )
    return [*variant, *NO_DROPOUT, *attention]


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
@pytest.mark.parametrize("dataset", ["cora", "synthetic"])
def test_fast_paths_give_identical_eval_outputs(variant, dataset):
    (fast_task, plain_task), (fast_model, plain_model) = _pair([*variant, f"dataset={dataset}"])
    x, adj = fast_task.inputs
    model = variant[0].removeprefix("model=")
    linear_first = model in ("gcn", "gat", "gatv2", "mlp", "gin") or (
        model == "sage" and "model.aggr=max" not in variant
    )
    if dataset == "cora" and linear_first:
        assert fast.is_csr(x)  # bag-of-words features are ~1% non-zero
    if model in ("gcn", "gin", "gat", "gatv2") or (model == "sage" and "model.aggr=max" not in variant):
        assert fast.is_csr(adj)  # a CSR entry counts repeated edges, which max must not weigh
    if model in ("sage", "gin") and linear_first and dataset == "cora":
        # The first layer projects the 1,433 input columns before aggregating.
        assert fast_model.convs[0].reorder and type(plain_model.convs[0]).__module__.startswith(
            "torch_geometric"
        )
    fast_model.eval()
    plain_model.eval()
    with torch.no_grad():
        a = fast_model(*fast_task.inputs)
        b = plain_model(*plain_task.inputs)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert evaluate(fast_model, fast_task, ("val", "test"))["test"]["accuracy"] == pytest.approx(
        evaluate(plain_model, plain_task, ("val", "test"))["test"]["accuracy"], abs=1e-3
    )


def _assert_same_gradients(fast_model, plain_model):
    """Every parameter's gradient agrees, up to float reassociation: within 1e-4 relative,
    or 1e-4 of the largest gradient (a bias before batch norm has a zero gradient up to noise)."""
    plain = dict(plain_model.named_parameters())
    scale = max(float(p.grad.abs().max()) for p in plain.values() if p.grad is not None)
    for name, p in fast_model.named_parameters():
        assert p.grad is not None and plain[name].grad is not None, name
        torch.testing.assert_close(p.grad, plain[name].grad, rtol=1e-4, atol=1e-4 * scale, msg=name)


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_fast_paths_give_identical_gradients(variant):
    """Training mode without dropout: the loss and the gradient of every weight agree."""
    (fast_task, plain_task), (fast_model, plain_model) = _pair([*_no_dropout(variant), "dataset=cora"])
    losses = []
    for task, model in ((fast_task, fast_model), (plain_task, plain_model)):
        model.train()
        graph = task.graph
        loss = task.training_loss(model, graph)
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    _assert_same_gradients(fast_model, plain_model)


def test_per_layer_inputs_keep_only_what_the_targets_need():
    """On the path 0-1-2-3-4, two layers for node 0: layer 1 reads nodes 0-2 and computes
    0 and 1 (node 2's row stays empty); layer 2 reads 0 and 1 and computes 0."""
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])
    adj = FastForward(None, Layout(adjacency="mean"), Data(x=torch.eye(5), edge_index=edge_index)).inputs[1]
    x, (first, second) = trimmed.per_layer_inputs(torch.eye(5), adj, torch.tensor([0]), 2, sparse=False)
    torch.testing.assert_close(x, torch.eye(5)[:3])
    torch.testing.assert_close(first.to_dense(), torch.tensor([[0, 1, 0], [0.5, 0, 0.5], [0, 0, 0]]))
    torch.testing.assert_close(second.to_dense(), torch.tensor([[0.0, 1], [0, 0]]))


# Trimmed to the targets: attention, the gcn and mean adjacencies, sums; residuals and JK.
TRIMMED = [["model=gat"], ["model=gatv2", "model.num_layers=3"], ["model=gcn", "model.num_layers=3", "model.jk=cat"],
           ["model=sage", "model.residual=true", "model.num_layers=3", "model.norm=layer"],
           ["model=sage", "model.aggr=sum"]]  # fmt: skip


@pytest.mark.parametrize("variant", TRIMMED, ids=[" ".join(v) for v in TRIMMED])
def test_full_graph_passes_compute_only_the_targets_needs(variant):
    """The validation nodes' outputs from the trimmed inputs are the full pass's rows, and
    the trimmed pass reads fewer nodes and far fewer adjacency entries."""
    (task, _), (model, _) = _pair([*variant, "dataset=cora"])
    assert task.fast.trimmed_layers == len(model.convs)
    model.eval()
    nodes = task.graph.val_mask.nonzero().view(-1)
    x, adjacencies = trimmed.per_layer_inputs(
        task.graph.x, task.inputs[1], nodes, len(model.convs), task.layout.sparse_features
    )
    assert x.size(0) < task.graph.num_nodes
    assert adjacencies[-1].values().numel() < task.inputs[1].values().numel() / 3
    with torch.no_grad():
        torch.testing.assert_close(model(x, adjacencies)[: nodes.numel()], model(*task.inputs)[nodes])


@pytest.mark.parametrize(
    "variant", [["model=gin"], ["model=gcn", "model.norm=batch"], ["model=sage", "model.aggr=max"]]
)
def test_passes_that_depend_on_all_nodes_are_not_trimmed(variant):
    """Batch statistics (GIN's MLPs, batch norm) cover every node of a pass; max aggregation
    runs on the edge list."""
    (task, _), _ = _pair([*variant, "dataset=cora"])
    assert task.fast.trimmed_layers == 0 and task.trimmed_inputs(("train",)) is None


def test_passes_reading_nearly_the_whole_graph_keep_the_full_inputs():
    """Cora's 140 training nodes reach 1,664 nodes in two hops: trimmed. The synthetic
    graph's training nodes (most of them) reach all: the full inputs, without copies."""
    (cora, _), _ = _pair(["model=gat", "dataset=cora"])
    inputs, nodes = cora.trimmed_inputs(("train",))
    assert nodes.numel() == 140 and inputs[0].size(0) == 1664
    (synthetic, _), _ = _pair(["model=gat", "dataset=synthetic"])
    assert synthetic.fast.trimmed_layers == 2 and synthetic.trimmed_inputs(("train",)) is None


def test_layers_reaching_further_than_one_hop_are_not_trimmed():
    """A plugin architecture must declare ``one_hop``: a layer like SGConv(K=2) reads two
    hops, which trimming to one hop per layer would cut off."""
    from gnnexp.models.conv_archs import GraphSAGE

    class TwoHops(GraphSAGE):
        one_hop = False

    layout = Layout(adjacency="mean")
    assert (
        trimmed.trimmed_layers(GraphSAGE(name="sage"), layout) == 2 and GraphSAGE(name="sage").trims_exactly()
    )
    assert trimmed.trimmed_layers(TwoHops(name="twohops"), layout) == 0
    assert not TwoHops(name="twohops").trims_exactly()


SAMPLED = [["model=sage"], ["model=sage", "model.aggr=sum"], ["model=gin", "model.norm=none", "model.num_layers=2", "model.jk=none"], ["model=gat"],
           ["model=gcn"], ["model=sage", "model.jk=cat"]]  # fmt: skip


def test_trimming_is_used_only_where_it_keeps_the_seeds_outputs():
    archs = declared("model")
    graph = Data(x=torch.randn(4, 3), edge_index=torch.tensor([[0, 1], [1, 2]]))

    def trims(spec, enabled=True):
        return fast_forward(spec, graph, sampled=True, enabled=enabled).layout.trim

    assert not trims(archs["gcn"]())  # normalisation by trimmed degrees
    assert not trims(archs["gin"](num_layers=5, jk="cat"))  # MLP batch norm
    assert not trims(archs["sage"](norm="batch"))
    assert not trims(archs["sage"](drop_edge=0.2))
    assert trims(archs["sage"]()) and trims(archs["gat"]())
    assert fast_forward(archs["sage"](), graph, sampled=True, enabled=False).layout == PLAIN


@pytest.mark.parametrize("variant", SAMPLED, ids=[" ".join(v) for v in SAMPLED])
def test_sampled_batches_give_identical_seed_outputs_and_gradients(variant):
    """Reordered layers, and layers trimmed to the nodes later layers need: the seeds'
    outputs and every gradient are those of PyG's full pass over the sampled batch."""
    common = [*_no_dropout(variant), "dataset=synthetic", "loader=neighbor", "loader.backend=torch"]
    (fast_task, plain_task), (fast_model, plain_model) = _pair(common)
    expect_trim = variant[0] != "model=gcn"  # GCN's normalisation sees the trimmed in-edges
    assert fast_task.layout.reorder and fast_task.layout.trim is expect_trim
    torch.manual_seed(3)
    batch = next(iter(fast_task.train_loader))
    seeds = batch.batch_size
    assert len(batch.num_sampled_nodes) == 3 and batch.num_sampled_nodes[0] == seeds
    outputs = []
    for task, model in ((fast_task, fast_model), (plain_task, plain_model)):
        model.train()
        out = task._forward_sampled(model, batch)[:seeds]
        torch.nn.functional.cross_entropy(out, batch.y[:seeds]).backward()
        outputs.append(out.detach())
    # Up to float reassociation, which batch norm amplifies: with one torch thread (another
    # job on the machine) an output near zero differs by 2e-5.
    scale = float(outputs[1].abs().max())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-4 * scale)
    _assert_same_gradients(fast_model, plain_model)


def test_graph_batches_reorder_gin_when_features_are_wider_than_the_layer():
    overrides = ["dataset=synthetic_graphs", "dataset.num_features=40", "model=gin", "model.hidden_channels=8",
                 *NO_DROPOUT]  # fmt: skip
    (fast_task, plain_task), (fast_model, plain_model) = _pair(overrides)
    assert fast_model.encoder.convs[0].reorder and not fast_model.encoder.convs[1].reorder
    batch = next(iter(fast_task.loaders["train"]))
    outputs = []
    for task, model in ((fast_task, fast_model), (plain_task, plain_model)):
        model.train()
        out = task._forward(model, batch)
        out.square().sum().backward()
        outputs.append(out.detach())
    # Up to float reassociation, which batch norm amplifies: with one torch thread (another
    # job on the machine) an output near zero differs by 2e-5.
    scale = float(outputs[1].abs().max())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-4 * scale)
    _assert_same_gradients(fast_model, plain_model)


def test_csr_adjacencies_count_repeated_edges_as_the_edge_list_does():
    from torch_geometric.utils import scatter

    edge_index = torch.tensor([[1, 1, 2, 0], [0, 0, 0, 2]])  # 1->0 twice, 2->0, 0->2; node 1 has none
    x = torch.tensor([[1.0], [4.0], [10.0]])
    for adjacency, reduce in (("csr", "sum"), ("mean", "mean")):
        _, adj = FastForward(None, Layout(adjacency=adjacency), Data(x=x, edge_index=edge_index)).inputs
        expected = scatter(x[edge_index[0]], edge_index[1], dim=0, dim_size=3, reduce=reduce)
        torch.testing.assert_close(adj @ x, expected)  # sum: 18, 0, 1; mean: 6, 0, 1
    models = [
        ("gcn", {}),
        ("gin", {}),
        ("sage", {}),
        ("sage", {"aggr": "sum"}),
        ("sage", {"aggr": "max"}),
        ("gat", {}),
    ]
    for model, extra in models:  # a whole model on a graph with repeated edges
        spec = declared("model")[model](hidden_channels=8, num_layers=2, dropout=0.0, **extra)
        graph_x = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
        forward = fast_forward(spec, Data(x=graph_x, edge_index=edge_index))
        torch.manual_seed(0)
        fast_model = spec.build(5, 2, forward.layout).eval()
        torch.manual_seed(0)
        plain_model = spec.build(5, 2).eval()
        plain_model.load_state_dict(fast_model.state_dict())
        with torch.no_grad():
            a = fast_model(*forward.inputs)
            b = plain_model(graph_x, edge_index)
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=f"{model} {extra}")


def test_fast_paths_for_link_prediction_give_identical_scores():
    (fast_task, plain_task), (fast_model, plain_model) = _pair(["task=link", "model=gcn"])
    for model in (fast_model, plain_model):
        model.eval()
    with torch.no_grad():
        for split in ("train", "val", "test"):
            torch.testing.assert_close(
                fast_model.encode(*fast_task.inputs[split]),
                plain_model.encode(*plain_task.inputs[split]),
                rtol=1e-4,
                atol=1e-5,
            )


@pytest.mark.parametrize("model", ["gcn", "gat", "mlp"])
def test_sparse_first_layer_matches_dense_for_the_same_mask(model):
    """Training mode: with one dropout mask on the stored values, sparse and dense agree,
    in the outputs and in the gradients of every weight. (GAT's attention dropout draws its
    mask in another order of the edges: the gradient tests above cover it without.)"""
    attention = ["model.attn_dropout=0"] if model == "gat" else []
    (fast_task, plain_task), (fast_model, plain_model) = _pair([f"model={model}", *attention])
    x_sparse, adj = fast_task.inputs
    torch.manual_seed(1)
    dropped = fast.dropout(x_sparse, 0.5, training=True, fast=True)
    dense = dropped.to_dense()
    assert torch.equal(dense != 0, (dense != 0) & (x_sparse.to_dense() != 0))  # zeros stay zero
    kept = dropped.values()[x_sparse.values() != 0] != 0
    assert 0.45 < kept.float().mean() < 0.55
    torch.testing.assert_close(dropped.values()[kept], 2 * x_sparse.values()[kept])
    conv_fast, conv_plain = fast_model.convs[0], plain_model.convs[0]
    conv_fast.train()
    conv_plain.train()
    torch.manual_seed(2)
    out_fast = conv_fast(dropped, adj)
    torch.manual_seed(2)
    out_plain = conv_plain(dense, plain_task.inputs[1])
    torch.testing.assert_close(out_fast, out_plain, rtol=1e-4, atol=1e-5)
    out_fast.square().sum().backward()
    out_plain.square().sum().backward()
    for (name, p), q in zip(conv_fast.named_parameters(), conv_plain.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_uniform_dropout_has_the_dropout_distribution():
    torch.manual_seed(0)
    x = torch.ones(200_000)
    out = fast.dropout(x, 0.3, training=True, fast=True)
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / 0.7))
    assert fast.dropout(x, 0.3, training=False, fast=True) is x


def test_fast_paths_can_be_turned_off(gnnexp):
    # No dropout: the fast path draws its masks differently, everything else is exact.
    on = gnnexp(*FAST, "model=gcn", "model.dropout=0", "trainer.max_epochs=3")
    off = gnnexp(*FAST, "model=gcn", "model.dropout=0", "trainer.max_epochs=3", "trainer.fast_paths=false")
    assert on.code == 0, on.err
    assert off.code == 0, off.err
    assert yaml_config(on.run_dir)["trainer"]["fast_paths"] is True
    assert yaml_config(off.run_dir)["trainer"]["fast_paths"] is False
    # What each run's saved config builds: a CSR adjacency with fast paths, an edge list without.
    adjacency = {}
    for run in (on, off):
        cfg = OmegaConf.create(yaml_config(run.run_dir))
        adjacency[run is on] = build_experiment(cfg).task.inputs[1]  # type: ignore[attr-defined]
    assert fast.is_csr(adjacency[True]) and not fast.is_csr(adjacency[False])
    # Both train the same model along the same losses to the same result.
    assert len(off.metrics()) == 3 and off.results["status"] == "completed"
    assert off.results["num_params"] == on.results["num_params"]
    assert off.column("train_loss") == pytest.approx(on.column("train_loss"), rel=1e-4)
    assert off.results["test"]["accuracy"] == pytest.approx(on.results["test"]["accuracy"], abs=1e-6)


def yaml_config(run_dir):
    import yaml

    return yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())


@pytest.mark.parametrize("precision", ["bf16", "16"])
def test_mixed_precision_trains_on_cpu(gnnexp, precision):
    result = gnnexp("dataset=cora", "trainer.max_epochs=60", f"trainer.precision={precision}")
    assert result.code == 0, result.err
    losses = result.column("train_loss")
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0] - 0.3
    assert result.results["test"]["accuracy"] > 0.7
    if precision == "16":
        state = load_checkpoint(result.run_dir / "checkpoints" / "last.pt")
        assert state["scaler"]["scale"] > 0  # the loss scaler's state is checkpointed


def test_compile_option_trains(gnnexp):
    eager = gnnexp(*FAST, "trainer.max_epochs=3")
    compiled = gnnexp(*FAST, "trainer.max_epochs=3", "trainer.compile=true")
    assert eager.code == 0, eager.err
    assert compiled.code == 0, compiled.err
    assert yaml_config(compiled.run_dir)["trainer"]["compile"] is True
    assert compiled.results["test"]["accuracy"] == pytest.approx(eager.results["test"]["accuracy"], abs=0.05)


def test_ddp_with_two_gloo_processes_matches_single_process(gnnexp):
    common = (
        "model=sage",
        "loader=neighbor",
        "loader.backend=torch",
        "trainer.max_epochs=60",
        "trainer.monitor=val_metric",
    )
    single = gnnexp(*common)
    ddp = gnnexp(*common, "trainer.strategy=ddp", "trainer.num_processes=2")
    assert ddp.code == 0, ddp.err
    assert abs(ddp.results["test"]["accuracy"] - single.results["test"]["accuracy"]) <= 0.02
    # Rank 0 wrote everything; its checkpoint loads into a single-process model.
    assert len(ddp.metrics()) == 60
    state = load_checkpoint(ddp.run_dir / "checkpoints" / "best.pt")
    cfg = OmegaConf.create(state["config"])
    assert cfg.trainer.strategy == "ddp"
    task = build_task(cfg, load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir)), torch.device("cpu"))
    model = task.build_model(cfg.model)
    load_weights(model, state["model"], ddp.run_dir)
    val = evaluate(model, task, ("val",))["val"]
    assert val["accuracy"] == state["metrics"]["accuracy"]
    assert json.loads((ddp.run_dir / "results.json").read_text())["status"] == "completed"


def test_ddp_under_torchrun(tmp_path, gnnexp):
    # The torchrun beside this interpreter (the venv's, also from a worktree without a .venv).
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun is not in the venv")
    interpreter = torchrun.read_text().splitlines()[0].removeprefix("#!").split()[0]
    assert Path(interpreter).resolve() == Path(sys.executable).resolve()  # it runs this python
    common = (
        "trainer.strategy=ddp",
        "loader=neighbor",
        "loader.backend=torch",
        "model=sage",
        "trainer.max_epochs=5",
    )
    done = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "gnnexp",
            "train",
            *common,
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "completed" and results["epochs_run"] == 5
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 6  # one writer: rank 0
    # Two ranks really trained: the same as gnnexp's own two-process launcher, loss for loss.
    spawned = gnnexp(*common, "trainer.num_processes=2")
    assert spawned.code == 0, spawned.err
    with open(tmp_path / "run" / "metrics.csv") as f:
        losses = [float(row["train_loss"]) for row in csv.DictReader(f)]
    assert losses == pytest.approx(spawned.column("train_loss"), rel=1e-5)
    assert results["test"]["accuracy"] == pytest.approx(spawned.results["test"]["accuracy"], abs=1e-6)


@pytest.mark.parametrize("model", ["gcn", "gat", "sage", "gin", "mlp"])
def test_fast_passes_reuse_the_structures_made_with_their_inputs(model, monkeypatch):
    """The transposes and attention patterns are made once, with the inputs that hold them
    (whole graph and trimmed): training steps and evaluations make none."""
    from gnnexp.models.fast import attention

    (task, _), (net, _) = _pair([f"model={model}", "dataset=cora"])
    task.trimmed_inputs(("train",))
    task.trimmed_inputs(("val", "test"))
    made = []
    monkeypatch.setattr(fast, "transpose_pattern", lambda x: made.append(x) or pytest.fail("transpose made"))
    monkeypatch.setattr(attention, "_Pattern", lambda *a: made.append(a) or pytest.fail("pattern made"))
    for _ in range(2):
        net.train()
        task.training_loss(net, task.graph).backward()
        evaluate(net, task, ("val", "test"))
    assert made == []
