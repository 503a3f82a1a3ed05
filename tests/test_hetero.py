"""Typed graphs: the folder loader (good and bad folders), every built-in model through
``to_hetero``, HGT and R-GCN on the planted generator, Cora as papers and words, and the
commands (train, eval, predict, resume, sweeps) on them."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from gnnexp.config.components import declared, instance
from gnnexp.config.compose import compose
from gnnexp.data.loading import load_dataset
from gnnexp.errors import ConfigError, GnnexpError
from gnnexp.models.archs import GNNSpec
from gnnexp.models.hetero import build_hetero_model
from gnnexp.models.hetero_inputs import hetero_inputs
from gnnexp.paths import resolve_data_dir

SMALL = ("dataset=hetero_synthetic", "dataset.num_items=200", "dataset.num_tags=12")


@pytest.fixture(scope="module")
def small():
    """The small generated graph (items and tags), loaded once."""
    return load(*SMALL).graphs


def model_cfg(name: str, **settings: object):
    """A model's config node with its declared defaults (what ``model=name`` composes)."""
    cls = declared("model")[name]
    return OmegaConf.create({**dataclasses.asdict(cls(name=name)), **settings})


def write(path: Path, rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def folder(root: Path) -> Path:
    """Users (two features, text labels, some missing), items (no features), tags (a .npy);
    users buy items (an edge feature each), items have tags."""
    rng = np.random.default_rng(0)
    users = [["id", "age", "score", "label"]]
    for i in range(40):
        users.append(
            [f"u{i}", i % 7, round(float(rng.random()), 3), "" if i % 10 == 9 else ("cat", "dog")[i % 2]]
        )
    write(root / "nodes" / "user.csv", users)
    write(root / "nodes" / "item.csv", [["id"], *[[f"i{j}"] for j in range(15)]])
    write(root / "nodes" / "tag.csv", [["id"], *[[f"t{k}"] for k in range(5)]])
    np.save(root / "nodes" / "tag.npy", rng.random((5, 3)).astype(np.float32))
    buys = [["source", "target", "weight"], *[[f"u{i}", f"i{(i * 3) % 15}", 1.0 + i % 3] for i in range(40)]]
    write(root / "edges" / "user__buys__item.csv", buys)
    write(
        root / "edges" / "item__has__tag.csv",
        [["source", "target"], *[[f"i{j}", f"t{j % 5}"] for j in range(15)]],
    )
    return root


def load(*overrides: str):
    cfg = compose(list(overrides))
    return load_dataset(cfg.dataset, resolve_data_dir(cfg.data_dir))


def test_a_folder_loads_as_typed_nodes_and_edges_with_named_reverse_edges(tmp_path):
    data = load("dataset=hetero_files", f"dataset.path={folder(tmp_path / 'shop')}")
    g = data.graphs
    assert data.level == "hetero" and sorted(g.node_types) == ["item", "tag", "user"]
    assert g["user"].x.shape == (40, 2) and g["tag"].x.shape == (5, 3) and "x" not in g["item"]
    assert g["item"].num_nodes == 15
    assert ("item", "rev_buys", "user") in g.edge_types and ("tag", "rev_has", "item") in g.edge_types
    assert g["user", "buys", "item"].edge_attr.shape == (40, 1)
    # text classes numbered in sorted order; an empty cell is unlabelled and in no split
    y = g["user"].y
    assert y[0] == 0 and y[1] == 1 and y[9] == -1 and data.num_classes_of == {"user": 2}
    masks = torch.stack([g["user"][f"{s}_mask"] for s in ("train", "val", "test")])
    assert int(masks.sum()) == 36 and bool((masks.sum(0) <= 1).all()) and not bool(masks[:, 9].any())
    assert data.node_ids["user"][:2] == ["u0", "u1"]
    without = load("dataset=hetero_files", f"dataset.path={tmp_path / 'shop'}", "dataset.reverse=false")
    assert sorted(without.graphs.edge_types) == [("item", "has", "tag"), ("user", "buys", "item")]
    with pytest.raises(ConfigError, match=r"Node type\(s\) user receive no edges.*dataset.reverse=true"):
        build_hetero_model(model_cfg("sage"), without.graphs, 2, "sum")
    (tmp_path / "shop" / "nodes" / "ghost.csv").write_text("id\ng0\ng1\n")  # in no edge table
    ghost = load("dataset=hetero_files", f"dataset.path={tmp_path / 'shop'}")
    with pytest.raises(ConfigError, match=r"ghost appear in no edge type.*give them edges") as err:
        build_hetero_model(model_cfg("sage"), ghost.graphs, 2, "sum")
    assert "reverse" not in str(err.value)  # reverse edges are already on, and would not help


def _bad(root: Path, case: str) -> None:
    folder(root)
    users = root / "nodes" / "user.csv"
    if case == "missing id":
        text = users.read_text().replace("id,", "name,", 1)
        users.write_text(text)
    elif case == "unknown type":
        write(root / "edges" / "user__likes__shop.csv", [["source", "target"], ["u0", "s0"]])
    elif case == "npy rows":
        np.save(root / "nodes" / "tag.npy", np.zeros((4, 3), dtype=np.float32))
    elif case == "ragged row":
        users.write_text(users.read_text() + "u99,1\n")
    elif case == "empty table":
        write(root / "nodes" / "item.csv", [["id"]])
    elif case == "bad name":
        write(root / "edges" / "user_buys_item.csv", [["source", "target"], ["u0", "i0"]])
    elif case == "unknown id":
        write(root / "edges" / "item__has__tag.csv", [["source", "target"], ["i0", "t77"]])
    elif case == "duplicate id":
        users.write_text(users.read_text() + "u3,1,0.5,cat\n")
    elif case == "edge widths":
        write(root / "edges" / "item__has__tag.csv", [["source", "target", "a", "b"], ["i0", "t1", 1, 2]])
    elif case == "text feature":
        users.write_text(users.read_text() + "u99,old,0.5,cat\n")


BAD = {
    "missing id": "has no id column 'id'",
    "unknown type": "names node type 'shop', which has no table in nodes/",
    "npy rows": "tag.npy has 4 rows but",
    "ragged row": "has 2 columns, the header 4",
    "empty table": "has a header but no rows",
    "bad name": "is not named <source type>__<relation>__<target type>.csv",
    "unknown id": "target 't77' is not an id in nodes/tag.csv",
    "duplicate id": "share the id 'u3'",
    "edge widths": "edge features of different widths (1, 2)",
    "text feature": "feature column 'age' holds 'old', not a finite number",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_folder_is_one_line_and_writes_no_result(gnnexp, tmp_path, case):
    root = tmp_path / "bad"
    _bad(root, case)
    result = gnnexp("dataset=hetero_files", f"dataset.path={root}", "trainer.max_epochs=2")
    assert result.code != 0
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gnnexp: error:") and BAD[case] in lines[0], result.err
    assert "Fix:" in lines[0] and "Traceback" not in result.err + result.out
    assert not (result.run_dir / "results.json").exists() and not (result.run_dir / "metrics.csv").exists()


def _train_steps(model, inputs, target, y, mask, steps: int = 20) -> tuple[float, float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(*inputs)[target][mask], y[mask])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


BUILT_IN = sorted(name for name, cls in declared("model").items() if issubclass(cls, GNNSpec))
# GCNConv's normalisation is not defined between two node types (PyG refuses tuples of
# features), GINE needs edge features, which typed graphs do not give its layers, and GPS's
# global attention has no layer to copy per edge type.
REFUSED = {
    "gcn": "does not support bipartite message passing",
    "gine": "needs edge features",
    "gps": "no message-passing layer that to_hetero can copy",
}


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_model_runs_on_a_typed_graph_through_to_hetero(small, name):
    g = small
    cfg = model_cfg(name, hidden_channels=16)
    if name in REFUSED:
        with pytest.raises(ConfigError, match=REFUSED[name]):
            build_hetero_model(cfg, g, 4, "sum", True)
        return
    torch.manual_seed(0)
    model = build_hetero_model(cfg, g, 4, "sum", True)
    inputs = hetero_inputs(instance("model", cfg), g, True)
    out = model(*inputs)
    assert {t: tuple(v.shape) for t, v in out.items()} == {"item": (200, 4), "tag": (12, 4)}
    first, last = _train_steps(model, inputs, "item", g["item"].y, g["item"].train_mask)
    assert last < 0.9 * first, (first, last)


@pytest.mark.parametrize(("name", "extra"), [("sage", ()), ("sage", ("model.aggr=sum",)), ("gin", ())])
def test_the_fast_paths_compute_what_the_plain_layers_do(small, name, extra):
    g = small  # random links repeat some edges: CSR entries count them
    cfg = model_cfg(name, **dict(e.removeprefix("model.").split("=") for e in extra))
    spec = instance("model", cfg)
    plain, fast = build_hetero_model(cfg, g, 4, "mean", False), build_hetero_model(cfg, g, 4, "mean", True)
    fast.load_state_dict(plain.state_dict())
    plain.eval(), fast.eval()
    a, b = plain(*hetero_inputs(spec, g, False))["item"], fast(*hetero_inputs(spec, g, True))["item"]
    assert torch.allclose(a, b, atol=1e-5)
    a.square().sum().backward(), b.square().sum().backward()
    for p, q in zip(plain.parameters(), fast.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None)
        assert p.grad is None or torch.allclose(p.grad, q.grad, rtol=1e-3, atol=1e-3)


def test_gat_keeps_self_loops_only_within_one_node_type(small):
    model = build_hetero_model(model_cfg("gat"), small, 4, "sum", True)
    layer = model.core.convs[0]
    assert layer["item__links__item"].add_self_loops
    assert not layer["item__has__tag"].add_self_loops and not layer["tag__rev_has__item"].add_self_loops


@pytest.mark.parametrize("aggr", ["mean", "max"])
def test_hetero_aggr_chooses_how_edge_types_combine(small, aggr):
    g = small
    cfg = model_cfg("sage")
    torch.manual_seed(0)
    summed = build_hetero_model(cfg, g, 4, "sum", False)
    other = build_hetero_model(cfg, g, 4, aggr, False)
    other.load_state_dict(summed.state_dict())
    summed.eval(), other.eval()
    inputs = hetero_inputs(None, g, False)
    assert not torch.allclose(summed(*inputs)["item"], other(*inputs)["item"])


def _accuracy(gnnexp, *args: str) -> float:
    result = gnnexp(*args)
    assert result.code == 0, result.err
    return float(result.results["test"]["accuracy"])


def test_native_models_find_the_planted_signal_and_features_alone_do_not(gnnexp):
    # Chance is 0.25 (four classes); the items' features are noise.
    common = ("dataset=hetero_synthetic", "trainer.max_epochs=40", "trainer.patience=null")
    assert _accuracy(gnnexp, "model=hgt", *common) > 0.7
    assert _accuracy(gnnexp, "model=rgcn_hetero", *common) > 0.7
    assert _accuracy(gnnexp, "model=mlp", *common) < 0.4


def test_papers_and_words_classify_cora_papers(gnnexp):
    result = gnnexp("dataset=cora_words", "model=sage", "trainer.max_epochs=40")
    assert result.code == 0, result.err
    assert result.results["test"]["accuracy"] > 0.65
    assert "word 1,433 (embedded)" in result.out and "paper-has-word 49,216" in result.out


def test_train_eval_predict_and_resume_on_a_folder(gnnexp, tmp_path):
    root = folder(tmp_path / "shop")
    args = ("dataset=hetero_files", f"dataset.path={root}", "model=sage", "model.hidden_channels=8")
    run = gnnexp(*args, "trainer.max_epochs=3")
    assert run.code == 0, run.err
    assert len(run.metrics()) == 3
    evaluated = gnnexp(str(run.run_dir), command="eval")
    assert evaluated.code == 0, evaluated.err
    recorded = json.loads((run.run_dir / "eval.json").read_text())
    assert recorded["metrics"]["test"]["accuracy"] == pytest.approx(run.results["test"]["accuracy"])
    out = tmp_path / "predictions.csv"
    predicted = gnnexp(str(run.run_dir), "--out", str(out), command="predict")
    assert predicted.code == 0, predicted.err
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40 and rows[0]["node"] == "u0" and rows[0]["node_type"] == "user"
    assert rows[9]["label"] == "" and rows[1]["label"] == "1"
    assert abs(float(rows[0]["prob_0"]) + float(rows[0]["prob_1"]) - 1) < 1e-5
    resumed = gnnexp(f"trainer.resume={run.run_dir}", "trainer.max_epochs=5")
    assert resumed.code == 0, resumed.err
    assert [int(r["epoch"]) for r in run.metrics()] == [1, 2, 3, 4, 5]


def test_a_sweep_over_typed_models(gnnexp):
    result = gnnexp("-m", "model=sage,hgt", *SMALL, "trainer.max_epochs=2")
    assert result.code == 0, result.err
    assert len(list(result.run_dir.glob("*/results.json"))) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("model=hgt",), "model=hgt reads node and edge types, and dataset=cora has one of each"),
        (("dataset=cora_words", "task=node"), "task=node does not apply to dataset=cora_words"),
        ((*SMALL, "task.target=tag"), "Node type tag of dataset=hetero_synthetic has no labels"),
        ((*SMALL, "task.target=user"), "task.target=user is not a node type"),
        ((*SMALL, "model=gine"), "model=gine needs edge features"),
    ],
)
def test_what_cannot_work_on_typed_graphs_is_one_line(gnnexp, args, message):
    result = gnnexp(*args, "trainer.max_epochs=1")
    assert result.code != 0
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result.err


def test_the_generator_is_seeded(small):
    from gnnexp.data.hetero_readers import hetero_synthetic

    cfg = compose(list(SMALL)).dataset
    a, again = small, hetero_synthetic(cfg, Path()).graphs
    cfg.data_seed = 1
    b = hetero_synthetic(cfg, Path()).graphs
    assert torch.equal(a["item", "has", "tag"].edge_index, again["item", "has", "tag"].edge_index)
    assert not torch.equal(a["item", "has", "tag"].edge_index, b["item", "has", "tag"].edge_index)
    cfg.num_tags = 3
    with pytest.raises(GnnexpError, match="some class would own no tag"):
        hetero_synthetic(cfg, Path())


def test_hetero_sampling_draws_each_edge_types_own_fan_out():
    from gnnexp.data.typed_sampler import hetero_neighbor_loader

    g = load("dataset=cora_words").graphs
    fan = {et: [3, 2] for et in g.edge_types}
    fan[("word", "rev_has", "paper")] = [6, 1]
    batch = next(iter(hetero_neighbor_loader(g, "paper", g["paper"].train_mask, fan, 32, False)))
    seeds = batch["paper"].n_id[:32]
    assert batch["paper"].batch_size == 32 and torch.equal(
        seeds, g["paper"].train_mask.nonzero().view(-1)[:32]
    )
    for et in (("paper", "cites", "paper"), ("word", "rev_has", "paper")):
        src, dst = batch[et].edge_index
        # every sampled edge is an edge of the graph
        full = set(map(tuple, g[et].edge_index.t().tolist()))
        pairs = zip(batch[et[0]].n_id[src].tolist(), batch["paper"].n_id[dst].tolist(), strict=True)
        assert all(pair in full for pair in pairs)
        # a seed draws min(in-degree, fan-out) in-edges of each type at the first hop
        degree = torch.bincount(g[et].edge_index[1], minlength=g["paper"].num_nodes)[seeds]
        drawn = torch.bincount(dst[dst < 32], minlength=32)
        assert torch.equal(drawn, degree.clamp(max=fan[et][0]))


def test_sampled_training_on_a_typed_graph(gnnexp):
    result = gnnexp(
        *SMALL,
        "loader=neighbor",
        "loader.batch_size=64",
        "loader.num_neighbors=[5,5]",
        "+task.num_neighbors={item__links__item:[2,1]}",
        "trainer.max_epochs=3",
    )
    assert result.code == 0, result.err
    assert "batches         2 x 64 seeds of item" in result.out
    assert len(result.metrics()) == 3
    bad = gnnexp(
        *SMALL, "loader=neighbor", "loader.num_neighbors=[5,5]", "+task.num_neighbors={item__buys__tag:[2,1]}"
    )
    assert bad.code != 0 and "task.num_neighbors names item__buys__tag, which is not an edge type" in bad.err
