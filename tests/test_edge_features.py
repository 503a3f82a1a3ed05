"""Edge features: architectures that take them get them; the others say so at the start."""

from __future__ import annotations

import pytest
import torch

from gnnexp.models.build import build_model
from gnnexp.models.layout import Layout


def _model(name: str, edge_dim: int | None, **settings):
    base = {"name": name, "hidden_channels": 8, "num_layers": 2, "dropout": 0.0, **settings}
    from gnnexp.config.compose import compose

    cfg = compose([f"model={name}", *(f"model.{k}={v}" for k, v in base.items() if k != "name")]).model
    return build_model(cfg, 5, 3, Layout(edge_dim=edge_dim))


@pytest.mark.parametrize("name", ["gine", "gat", "gatv2", "transformer"])
def test_edge_features_change_what_the_model_computes(name):
    torch.manual_seed(0)
    model = _model(name, 4).eval()
    x = torch.randn(6, 5)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 0, 0]])
    bonds = torch.eye(4)[torch.tensor([0, 1, 2, 3, 0, 1, 2])]
    other = torch.eye(4)[torch.tensor([3, 3, 3, 3, 3, 3, 3])]
    out = model(x, edge_index, bonds)
    assert out.shape == (6, 3)
    assert not torch.allclose(out, model(x, edge_index, other))  # the bonds matter
    out.sum().backward()
    # The first layer's projection of the edge features learns.
    edge_weight = dict(model.named_parameters())[
        "convs.0.lin.weight" if name == "gine" else "convs.0.lin_edge.weight"
    ]
    assert edge_weight.shape[1] == 4 and edge_weight.grad is not None and edge_weight.grad.abs().sum() > 0


def test_drop_edge_drops_the_features_with_their_edges():
    model = _model("gine", 4, drop_edge=0.5).train()
    edge_index = torch.randint(0, 6, (2, 40))
    out = model(torch.randn(6, 5), edge_index, torch.randn(40, 4))
    assert out.shape == (6, 3) and torch.isfinite(out).all()


def test_gine_trains_on_mutag_bond_types(gnnexp, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # the panel's lines whole
    result = gnnexp("dataset=mutag", "model=gine", "trainer.max_epochs=3", "trainer.log_every=1000")
    assert result.code == 0, result.err
    assert "4 per edge, used by model=gine" in result.out
    assert 0 <= result.results["test"]["accuracy"] <= 1


def test_a_model_that_cannot_use_them_says_so_once(gnnexp, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    result = gnnexp("dataset=mutag", "model=gin", "trainer.max_epochs=1")
    assert result.code == 0, result.err
    said = result.out
    assert "4 per edge, not used (model=gin cannot use them; gat, gatv2, gine, transformer can)" in said
    assert said.count("not used (") == 1


def test_gine_without_edge_features_names_the_fix(gnnexp):
    result = gnnexp("dataset=synthetic", "model=gine", "trainer.max_epochs=1")
    assert result.code == 2
    assert "gine needs edge features (edge_attr), and this data has none: use model=gin" in result.err
