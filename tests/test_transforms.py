"""transform=[...]: each declared transform does what PyG's does, results are cached by their
settings, positional encodings reach the model, GPS trains, misfits end in one line."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch_geometric.transforms as T
from torch_geometric.data import Data

from gnnexp.config.components import declared
from gnnexp.config.compose import compose
from gnnexp.data.loading import GraphData, load_dataset
from gnnexp.data.transforming import SEED, apply_transforms
from gnnexp.running.experiment import build_experiment, checked

TINY_GRAPHS = [
    "dataset=synthetic_graphs",
    "dataset.num_graphs=40",
    "dataset.min_nodes=8",
    "dataset.max_nodes=12",
]


def _graphs() -> list[Data]:
    """Three small undirected graphs: a ring with chords, features and a 1-D edge weight."""
    graphs = []
    for n in (7, 9, 12):
        ring = torch.arange(n)
        src = torch.cat([ring, ring[::3]])
        dst = torch.cat([(ring + 1) % n, (ring[::3] + n // 2) % n])
        edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
        x = torch.rand(n, 3, generator=torch.Generator().manual_seed(n))
        graphs.append(Data(x=x, edge_index=edge_index, y=torch.tensor([n % 2])))
    return graphs


# PyG's transform each declared one must equal with its default settings, called as PyG's
# documentation calls it.
PYG = {
    "normalize_features": lambda: T.NormalizeFeatures(),
    "to_undirected": lambda: T.ToUndirected(),
    "add_self_loops": lambda: T.AddSelfLoops(),
    "random_walk_pe": lambda: T.AddRandomWalkPE(walk_length=20, attr_name="random_walk_pe"),
    "laplacian_pe": lambda: T.AddLaplacianEigenvectorPE(k=4, is_undirected=True),
    "virtual_node": lambda: T.VirtualNode(),
    "one_hot_degree": lambda: T.OneHotDegree(max_degree=10),
    "local_degree_profile": lambda: T.LocalDegreeProfile(),
    "gdc": lambda: T.GDC(
        diffusion_kwargs={"method": "ppr", "alpha": 0.05},
        sparsification_kwargs={"method": "threshold", "avg_degree": 64},
    ),
}


def test_every_declared_transform_is_checked_against_pyg() -> None:
    assert sorted(PYG) == sorted(declared("transform"))


@pytest.mark.parametrize("name", sorted(PYG))
def test_each_transform_changes_the_data_as_pyg_does(name: str) -> None:
    spec = declared("transform")[name]()
    graphs = _graphs()
    data = GraphData("tiny", "graph", graphs, 3, 2)
    out = apply_transforms(data, {name: {}})
    torch.manual_seed(SEED)
    expected = [PYG[name]()(copy.copy(g)) for g in graphs]
    for ours, theirs in zip(out.graphs, expected, strict=True):
        if spec.pe_attr is not None:  # appended to the features, in our graphs only there
            theirs.x = torch.cat([theirs.x, theirs[spec.pe_attr].float()], dim=-1)
            del theirs[spec.pe_attr]
        assert sorted(ours.keys()) == sorted(theirs.keys())
        for key in theirs.keys():  # noqa: SIM118  (a Data iterates over (key, value) pairs)
            assert torch.equal(ours[key], theirs[key]), key
    before = graphs[0]
    keys = list(expected[0].keys())
    changed = [k for k in keys if k not in before or not torch.equal(expected[0][k], before[k])]
    assert changed, f"{name} changed nothing on the test graphs"
    assert out.num_features == expected[0].x.size(-1)
    assert out.pe_dim == spec.pe_width()
    assert [g.x.size(-1) for g in graphs] == [3, 3, 3]  # the loaded graphs are left as they were


def test_a_changed_option_is_a_new_cache_entry_and_the_same_one_is_reused(data_dir: Path) -> None:
    def load(walk_length: int) -> GraphData:
        cfg = compose(
            [
                *TINY_GRAPHS,
                "transform=[random_walk_pe]",
                f"transform.random_walk_pe.walk_length={walk_length}",
            ]
        )
        return load_dataset(cfg.dataset, data_dir, cfg.transform)

    short, long, again = load(4), load(8), load(4)
    assert (short.num_features, long.num_features) == (4 + 4, 4 + 8)
    assert short.graphs[0].x.size(-1) == 8 and long.graphs[0].x.size(-1) == 12
    assert again.graphs is short.graphs  # the same settings: transformed once per process
    base = load_dataset(compose(TINY_GRAPHS).dataset, data_dir)
    assert base.num_features == 4 and base.pe_dim == 0 and base.graphs[0].x.size(-1) == 4


@pytest.mark.parametrize("model", ["gin", "gcn"])
def test_the_encoding_widens_the_model_input_by_its_width(model: str) -> None:
    def first_width(*extra: str) -> int:
        exp = build_experiment(checked(compose([*TINY_GRAPHS, f"model={model}", *extra])))
        return int(exp.model.encoder.in_channels)  # type: ignore[union-attr]

    plain = first_width()
    assert first_width("transform=[random_walk_pe]", "transform.random_walk_pe.walk_length=6") == plain + 6
    both = first_width("transform=[random_walk_pe,laplacian_pe]", "transform.laplacian_pe.k=3")
    assert both == plain + 20 + 3


def _train(cfg_overrides: list[str], epochs: int) -> tuple[list[float], float]:
    exp = build_experiment(checked(compose(cfg_overrides)), seed=0)
    opt = torch.optim.Adam(exp.model.parameters(), lr=0.01)
    losses = []
    for _ in range(epochs):
        exp.model.train()
        for batch in exp.task.train_batches():
            opt.zero_grad()
            loss = exp.task.training_loss(exp.model, batch)
            loss.backward()
            opt.step()
        losses.append(loss.item())
    exp.model.eval()
    with torch.no_grad():
        return losses, exp.task.evaluate(exp.model, ("val",))["val"]["accuracy"]


def test_gps_trains_on_a_node_task_with_its_encoder_on_the_encoding() -> None:
    overrides = ["model=gps", "model.hidden_channels=32", "model.num_layers=2", "dataset=synthetic",
                 "dataset.num_nodes=150", "dataset.num_features=8", "transform=[random_walk_pe]",
                 "transform.random_walk_pe.walk_length=5"]  # fmt: skip
    exp = build_experiment(checked(compose(overrides)))
    assert exp.model.pe_dim == 5 and exp.model.pe_lin.in_features == 5  # type: ignore[union-attr]
    assert exp.model.x_lin.in_features == 8  # type: ignore[union-attr]
    losses, accuracy = _train(overrides, 15)
    assert losses[-1] < 0.5 * losses[0]
    assert accuracy > 0.4  # 4 classes: chance is 0.25


def test_gps_trains_on_a_graph_task_attending_within_each_graph() -> None:
    overrides = [*TINY_GRAPHS, "dataset.num_graphs=80", "model=gps", "model.hidden_channels=32",
                 "model.num_layers=2", "transform=[random_walk_pe]", "task.batch_size=16"]  # fmt: skip
    # 20 epochs of 4 batches: the BatchNorm running statistics (on the encoding too) have settled.
    losses, accuracy = _train(overrides, 20)
    assert losses[-1] < losses[0]
    assert accuracy > 0.6  # two classes: chance is 0.5
    # Attention stays within a graph: a graph's output does not depend on its batch-mates.
    exp = build_experiment(checked(compose(overrides)), seed=0)
    exp.model.eval()
    graphs = exp.data.graphs
    from torch_geometric.data import Batch

    with torch.no_grad():
        alone = exp.model(*_inputs(Batch.from_data_list([graphs[0]])))
        together = exp.model(*_inputs(Batch.from_data_list([graphs[0], graphs[1]])))
    assert torch.allclose(alone[0], together[0], atol=1e-5)


def _inputs(batch: Data) -> tuple[torch.Tensor, ...]:
    return batch.x, batch.edge_index, batch.batch


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("task=link", "transform=[random_walk_pe]"), "on task=link it would see the held-out edges"),
        (
            ("dataset=mutag", "transform=[one_hot_degree]", "transform.one_hot_degree.max_degree=2"),
            "transform.one_hot_degree.max_degree=2 is below the largest degree of dataset=mutag (4)",
        ),
        (
            ("dataset=mutag", "transform=[laplacian_pe]", "transform.laplacian_pe.k=12"),
            "transform.laplacian_pe.k=12 needs graphs of more than k nodes",
        ),
        (("transform=[random_walk]",), "Did you mean 'random_walk_pe'"),
    ],
)
def test_a_transform_that_does_not_fit_ends_in_one_line(gnnexp, args: tuple[str, ...], says: str) -> None:
    result = gnnexp(*args, "trainer.max_epochs=1")
    assert result.code != 0
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.err
    assert "Traceback" not in result.err + result.out


def test_the_listing_derives_from_the_declarations(gnnexp, capsys: pytest.CaptureFixture[str]) -> None:
    from gnnexp.cli import main

    assert main(["list", "transform"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in declared("transform"))
    assert main(["list", "transform", "random_walk_pe", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| transform.random_walk_pe.walk_length | 20 | an integer in [1, 256] |" in out


def test_a_random_transform_is_drawn_again_for_training_graphs_each_epoch() -> None:
    overrides = [*TINY_GRAPHS, "transform=[laplacian_pe]", "transform.laplacian_pe.resign=true"]
    exp = build_experiment(checked(compose(overrides)), seed=0)
    loaders = exp.task.loaders  # type: ignore[attr-defined]
    train, val = loaders["train"].dataset, loaders["val"].dataset
    first = [train[i].x[:, -4:] for i in range(len(train))]
    again = [train[i].x[:, -4:] for i in range(len(train))]
    assert all(torch.allclose(a.abs(), b.abs()) for a, b in zip(first, again, strict=True))  # same vectors
    assert (
        sum(not torch.equal(a, b) for a, b in zip(first, again, strict=True)) > len(train) // 2
    )  # new signs
    assert all(val[i] is val[i] for i in range(len(val)))  # evaluation: the one draw made at loading
    assert exp.data.pe_dim == 4 and first[0].size(1) == 4


def test_a_random_transform_is_refused_where_it_cannot_be_redrawn(gnnexp) -> None:
    result = gnnexp("dataset=synthetic", "transform=[laplacian_pe]", "transform.laplacian_pe.resign=true")
    assert result.code != 0
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "which gnnexp does for task=graph only (this is task=node)" in lines[0]
