"""The typed-graph fast path (``gnnexp.models.fast.typed``) computes what ``to_hetero`` does.

GraphSAGE on a typed graph runs as ``TypedSAGE`` on the fast paths: one root map and one
bias per node type, and passes restricted to the nodes a loss or a metric reads. Each test
loads the plain model's weights (PyG's ``to_hetero``) into the fast one and compares outputs
and gradients.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch_geometric.data import HeteroData

from gnnexp.config.components import declared, instance
from gnnexp.config.compose import compose
from gnnexp.models.fast.typed import TypedSAGE
from gnnexp.models.hetero import build_hetero_model
from gnnexp.models.hetero_inputs import hetero_inputs, restricted_inputs, typed_layers
from gnnexp.running.experiment import build_experiment, checked


def model_cfg(**settings: object):
    cls = declared("model")["sage"]
    return OmegaConf.create({**dataclasses.asdict(cls(name="sage")), "hidden_channels": 8, **settings})


def edges(src: int, dst: int, count: int, generator: torch.Generator) -> torch.Tensor:
    return torch.stack(
        [
            torch.randint(0, src, (count,), generator=generator),
            torch.randint(0, dst, (count,), generator=generator),
        ]
    )


def typed_graph() -> HeteroData:
    """Papers (sparse features, labels), authors (dense features) and words (no features, an
    embedding); citations with repeated edges, and every edge type between two types with
    its reverse. Sparse enough that a few papers' neighbourhoods are a small part of it."""
    g = torch.Generator().manual_seed(0)
    data = HeteroData()
    x = torch.rand(60, 40, generator=g)
    data["paper"].x = x * (x < 0.05)
    data["paper"].y = torch.randint(0, 3, (60,), generator=g)
    data["author"].x = torch.rand(20, 5, generator=g)
    data["word"].num_nodes = 30
    cites = edges(60, 60, 70, g)
    data["paper", "cites", "paper"].edge_index = torch.cat([cites, cites[:, :10]], 1)  # repeats
    has, writes = edges(60, 30, 90, g), edges(20, 60, 40, g)
    data["paper", "has", "word"].edge_index = has
    data["word", "rev_has", "paper"].edge_index = has.flip(0)
    data["author", "writes", "paper"].edge_index = writes
    data["paper", "rev_writes", "author"].edge_index = writes.flip(0)
    return data


CASES = {
    "mean": {},
    "sum": {"aggr": "sum"},
    "three layers, residual, layer norm": {"num_layers": 3, "residual": True, "norm": "layer"},
}


def pair(settings: dict[str, object], hetero_aggr: str = "sum"):
    """The plain model (PyG's to_hetero) and the fast one with its weights."""
    graph, cfg = typed_graph(), model_cfg(**settings)
    plain = build_hetero_model(cfg, graph, 3, hetero_aggr, False)
    fast = build_hetero_model(cfg, graph, 3, hetero_aggr, True)
    assert isinstance(fast.core, TypedSAGE) and not isinstance(plain.core, TypedSAGE)
    assert list(fast.state_dict()) == list(plain.state_dict())  # checkpoints move freely
    fast.load_state_dict(plain.state_dict())
    plain.eval(), fast.eval()
    return graph, instance("model", cfg), plain, fast


def assert_same_gradients(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-5), name


@pytest.mark.parametrize("hetero_aggr", ["sum", "mean"])
@pytest.mark.parametrize("case", list(CASES))
def test_typed_sage_computes_what_to_hetero_does(case, hetero_aggr):
    graph, spec, plain, fast = pair(CASES[case], hetero_aggr)
    a, b = plain(*hetero_inputs(spec, graph, False)), fast(*hetero_inputs(spec, graph, True))
    assert set(a) == set(b) == {"paper", "author", "word"}
    weights = {t: torch.randn(v.shape, generator=torch.Generator().manual_seed(1)) for t, v in a.items()}
    for t in a:
        assert torch.allclose(a[t], b[t], atol=1e-5), t
    sum((a[t] * weights[t]).sum() for t in a).backward()
    sum((b[t] * weights[t]).sum() for t in b).backward()
    assert_same_gradients(plain, fast)


def test_typed_sage_runs_edge_lists_with_pyg_layers():
    """Sampled batches come as edge lists: the fast model then runs PyG's layers per edge type."""
    graph, spec, plain, fast = pair({})
    inputs = hetero_inputs(spec, graph, False)
    a, b = plain(*inputs), fast(*inputs)
    for t in a:
        assert torch.allclose(a[t], b[t], atol=1e-5), t


@pytest.mark.parametrize("case", list(CASES))
def test_a_restricted_pass_gives_the_targets_outputs_and_gradients(case):
    graph, spec, plain, fast = pair(CASES[case])
    targets = torch.tensor([3, 17, 41])
    layers = typed_layers(spec, "sum", True)
    assert layers == spec.num_layers
    found = restricted_inputs(graph, hetero_inputs(spec, graph, True), "paper", targets, layers)
    assert found is not None
    x_dict, per_layer, n_id = found
    assert len(per_layer) == layers
    assert {d for _, _, d in per_layer[-1]} == {"paper"}  # the last layer computes papers only
    assert all(torch.equal(ids[: targets.numel()], targets) for t, ids in n_id.items() if t == "paper")
    # Each layer computes fewer nodes than the graph has.
    assert sum(adj.size(0) for adj in per_layer[0].values()) < sum(
        graph[d].num_nodes for _, _, d in graph.edge_types
    )
    full = plain(*hetero_inputs(spec, graph, False))["paper"][targets]
    out = fast(x_dict, per_layer, n_id)
    assert set(out) == {"paper"}
    part = out["paper"][: targets.numel()]
    assert torch.allclose(full, part, atol=1e-5)
    y = graph["paper"].y[targets]
    F.cross_entropy(full, y).backward()
    F.cross_entropy(part, y).backward()
    assert_same_gradients(plain, fast)


def test_a_pass_over_nearly_every_node_runs_in_full():
    graph, spec, _, _ = pair({})
    every = torch.arange(graph["paper"].num_nodes)
    found = restricted_inputs(graph, hetero_inputs(spec, graph, True), "paper", every, 2)
    assert found is not None and len(found[1][-1]) == 3  # still no words or authors out of the last layer
    papers = graph.node_type_subgraph(["paper"])
    assert restricted_inputs(papers, hetero_inputs(spec, papers, True), "paper", every, 2) is None


@pytest.mark.parametrize(
    ("settings", "aggr", "layers"),
    [
        ({}, "sum", 2),
        ({"aggr": "max"}, "sum", 0),  # max does not commute with the linear maps
        ({}, "max", 0),
        ({"jk": "cat"}, "sum", 0),
        ({"norm": "batch"}, "sum", 0),  # statistics over the pass's nodes
    ],
)
def test_which_models_run_as_typed_sage(settings, aggr, layers):
    cfg = model_cfg(**settings)
    spec = instance("model", cfg)
    assert typed_layers(spec, aggr, True) == layers
    assert typed_layers(spec, aggr, False) == 0
    model = build_hetero_model(cfg, typed_graph(), 3, aggr, True)
    assert isinstance(model.core, TypedSAGE) == bool(layers)


def test_the_task_trains_and_evaluates_on_restricted_passes_as_on_the_plain_path():
    """Same seed: the same initial weights on both paths; without dropout the same training
    loss and validation scores, the fast path's from passes over the nodes they need."""
    common = [
        "dataset=hetero_synthetic",
        "dataset.num_items=300",
        "dataset.num_tags=40",
        "model=sage",
        "model.dropout=0",
        "seed=3",
    ]
    fast = build_experiment(checked(compose(common)), seed=3)
    plain = build_experiment(checked(compose([*common, "trainer.fast_paths=false"])), seed=3)
    assert isinstance(fast.model.core, TypedSAGE)
    plain_weights, fast_weights = plain.model.state_dict(), fast.model.state_dict()
    assert all(torch.equal(plain_weights[k], fast_weights[k]) for k in plain_weights)
    assert fast.task.restricted(("train",)) is not None and plain.task.restricted(("train",)) is None
    a = plain.task.training_loss(plain.model, None)
    b = fast.task.training_loss(fast.model, None)
    assert torch.allclose(a, b, atol=1e-5)
    a.backward(), b.backward()
    assert_same_gradients(plain.model, fast.model)
    plain.model.eval(), fast.model.eval()
    with torch.no_grad():
        x, y = (
            plain.task.evaluate(plain.model, ("val", "test")),
            fast.task.evaluate(fast.model, ("val", "test")),
        )
    for split in ("val", "test"):
        for name, value in x[split].items():
            assert y[split][name] == pytest.approx(value, abs=1e-5), (split, name)
