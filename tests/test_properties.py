"""Property-based checks over random small graphs (hypothesis).

Isolated nodes, self-loops, duplicate edges, a single node and no edges at all: every model
under every task head must give finite outputs and a finite training step, and building a
task on such a graph must either work or fail with a clear DataError.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from torch_geometric.data import Batch, Data

from gnnexp.config.schema import TrainerConfig
from gnnexp.data.loading import GraphData
from gnnexp.errors import DataError
from gnnexp.models import MODELS, GNNSpec, build_encoder, build_model
from gnnexp.models.heads import GraphModel, LinkModel
from gnnexp.tasks import build_task

# The generated graphs carry no edge features (tests/test_edge_features.py covers GINE).
NO_EDGE_MODELS = sorted(
    n
    for n, cls in MODELS.items()
    if issubclass(cls, GNNSpec) and not cls.needs_edge_features and not getattr(cls, "hetero_only", False)
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VARIANTS = [
    {},
    {"norm": "batch", "jk": "cat"},
    {"norm": "layer", "residual": True},
    {"norm": "pair", "jk": "max"},
]


@st.composite
def small_graphs(draw: st.DrawFn) -> Data:
    n = draw(st.integers(1, 10))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=25))
    edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)  # self-loops, duplicates kept
    x = torch.tensor(draw(st.lists(st.floats(-3, 3), min_size=n * 3, max_size=n * 3))).view(n, 3)
    return Data(x=x, edge_index=edge_index, num_nodes=n)


def model_cfg(name: str, variant: dict) -> OmegaConf:
    # A setting the architecture does not allow (GPS has no pair norm) would be refused by
    # validation before any model is built: that variant is its default here.
    allowed = {f.name: f.metadata.get("choices") for f in dataclasses.fields(MODELS[name])}
    variant = {k: v for k, v in variant.items() if not allowed.get(k) or v in allowed[k]}
    fields = {
        "name": name,
        "hidden_channels": 8,
        "num_layers": 2,
        "dropout": 0.2,
        "readout": "mean",
        **variant,
    }
    if name in ("gat", "gatv2"):
        fields |= {"heads": 2, "out_heads": 1, "attn_dropout": 0.1}
    return OmegaConf.create(fields)


def step_is_finite(model: torch.nn.Module, forward, target_loss) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    out = forward()
    assert torch.isfinite(out).all()
    loss = target_loss(out)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    optimizer.step()
    model.eval()
    with torch.no_grad():
        assert torch.isfinite(forward()).all()


@SETTINGS
@given(graph=small_graphs(), name=st.sampled_from(NO_EDGE_MODELS), variant=st.sampled_from(VARIANTS))
def test_node_models_on_any_small_graph(graph, name, variant):
    torch.manual_seed(0)
    model = build_model(model_cfg(name, variant), 3, 4)
    y = torch.arange(graph.num_nodes) % 4
    step_is_finite(model, lambda: model(graph.x, graph.edge_index), lambda out: F.cross_entropy(out, y))


@SETTINGS
@given(
    graphs=st.lists(small_graphs(), min_size=1, max_size=3),
    name=st.sampled_from(NO_EDGE_MODELS),
    variant=st.sampled_from(VARIANTS),
)
def test_graph_models_on_any_batch_of_small_graphs(graphs, name, variant):
    torch.manual_seed(0)
    cfg = model_cfg(name, variant)
    encoder, width = build_encoder(cfg, 3)
    model = GraphModel(encoder, width, "sum", 8, 2, 0.2)
    batch = Batch.from_data_list(graphs)
    y = torch.arange(len(graphs)) % 2
    step_is_finite(
        model, lambda: model(batch.x, batch.edge_index, batch.batch), lambda out: F.cross_entropy(out, y)
    )


@SETTINGS
@given(graph=small_graphs(), name=st.sampled_from(NO_EDGE_MODELS), decoder=st.sampled_from(["dot", "mlp"]))
def test_link_models_on_any_small_graph(graph, name, decoder):
    torch.manual_seed(0)
    cfg = model_cfg(name, {})
    model = LinkModel(build_model(cfg, 3, 8), 8, decoder)
    n = graph.num_nodes
    pairs = torch.stack([torch.arange(n), torch.arange(n).flip(0)])
    labels = (torch.arange(n) % 2).float()
    step_is_finite(
        model,
        lambda: model(graph.x, graph.edge_index, pairs),
        lambda out: F.binary_cross_entropy_with_logits(out, labels),
    )


def _cfg(kind: str) -> OmegaConf:
    return OmegaConf.create(
        {
            "dataset": {"target": "classification", "metric": "accuracy"},
            "task": {
                "kind": kind,
                "metric": "roc_auc" if kind == "link" else None,
                "loss": "auto",
                "batch_size": 4,
                "val_ratio": 0.2,
                "test_ratio": 0.2,
                "split_seed": 0,
                "decoder": "dot",
                "neg_ratio": 1.0,
                "hits_k": 5,
            },
            "loader": {"kind": "full"},
            # The declared trainer settings, as a composed config has them.
            "trainer": OmegaConf.to_container(OmegaConf.structured(TrainerConfig)),
            "model": model_cfg("gin", {"jk": "cat", "norm": "batch"})
            if kind == "graph"
            else model_cfg("gcn", {}),
        }
    )


@SETTINGS
@given(graph=small_graphs(), kind=st.sampled_from(["node", "link"]))
def test_tasks_on_any_small_graph_work_or_fail_clearly(graph, kind):
    from gnnexp.data.splits import random_node_masks

    graph.y = torch.arange(graph.num_nodes) % 2
    graph.train_mask, graph.val_mask, graph.test_mask = random_node_masks(graph.num_nodes, 0.6, 0.2, 0)
    data = GraphData("tiny", "node", graph, 3, 2)
    try:
        task = build_task(_cfg(kind), data, torch.device("cpu"))
    except DataError as err:
        assert err.fix
        return
    model = task.build_model(model_cfg("gcn", {}))
    loss = task.training_loss(model, next(iter(task.train_batches())))
    assert torch.isfinite(loss)


@SETTINGS
@given(graphs=st.lists(small_graphs(), min_size=1, max_size=12))
def test_graph_task_on_any_small_collection_works_or_fails_clearly(graphs):
    for i, g in enumerate(graphs):
        g.y = torch.tensor([i % 2])
    data = GraphData("tiny", "graph", graphs, 3, 2)
    try:
        task = build_task(_cfg("graph"), data, torch.device("cpu"))
    except DataError as err:
        assert err.fix
        return
    model = task.build_model(model_cfg("gin", {"jk": "cat", "norm": "batch"}))
    loss = task.training_loss(model, next(iter(task.train_batches())))
    assert torch.isfinite(loss)
