"""The plain PyG loops gnnexp is measured against (as in PyG's examples).

Dense features, ``F.dropout``, edge lists, PyG's convolutions as they come; one training
step and one validation pass per epoch; test accuracy at the best validation-loss epoch
with the same patience as gnnexp's default. Each model has the architecture of the
gnnexp settings it is compared with (``PROTOCOLS``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, GINConv, SAGEConv
from torch_geometric.nn.models import MLP

from gnnexp.config.schema import TrainerConfig

# gnnexp's defaults, which both sides follow.
EPOCHS = TrainerConfig().max_epochs
PATIENCE = TrainerConfig().patience or EPOCHS  # null patience: never stop early
WIDE = (
    "model.num_layers=2",
    "model.hidden_channels=64",
    "model.dropout=0.5",
    "model.norm=none",
    "model.jk=none",
)


class TwoLayers(torch.nn.Module):
    """Dropout on each layer's input, an activation between the two layers."""

    def __init__(
        self, first: torch.nn.Module, second: torch.nn.Module, p: float, act: Callable[..., Any]
    ) -> None:
        super().__init__()
        self.first, self.second, self.p, self.act = first, second, p, act

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = F.dropout(x, p=self.p, training=self.training)
        x = self.act(self.first(x, edge_index))
        x = F.dropout(x, p=self.p, training=self.training)
        return self.second(x, edge_index)


class Dense(torch.nn.Linear):
    """A linear layer with a convolution's signature (the MLP baseline)."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


def _gin_mlp(i: int, o: int, norm: str | None) -> MLP:
    return MLP([i, o, o], norm=norm, norm_kwargs={"allow_single_element": True}, plain_last=True)


def _gat(conv: type, features: int, classes: int) -> torch.nn.Module:
    """The GAT paper's Cora model: 8 heads of 8, then one head; dropout 0.6 everywhere."""
    first = conv(features, 8, heads=8, dropout=0.6)
    return TwoLayers(first, conv(64, classes, heads=1, concat=False, dropout=0.6), 0.6, F.elu)


# model -> (plain model from (features, classes), lr, weight decay, gnnexp's overrides)
PROTOCOLS: dict[str, tuple[Callable[[int, int], torch.nn.Module], float, float, tuple[str, ...]]] = {
    "gcn": (lambda f, c: TwoLayers(GCNConv(f, 16), GCNConv(16, c), 0.5, F.relu), 0.01, 5e-4, ()),
    "gat": (lambda f, c: _gat(GATConv, f, c), 0.005, 5e-4, ()),
    "gatv2": (lambda f, c: _gat(GATv2Conv, f, c), 0.005, 5e-4, ()),
    "sage": (lambda f, c: TwoLayers(SAGEConv(f, 64), SAGEConv(64, c), 0.5, F.relu), 0.01, 5e-4, WIDE),
    "gin": (
        lambda f, c: TwoLayers(
            GINConv(_gin_mlp(f, 64, "batch_norm")), GINConv(_gin_mlp(64, c, None)), 0.5, F.relu
        ),
        0.01,
        5e-4,
        (*WIDE, "optimizer.weight_decay=0.0005"),
    ),
    "mlp": (lambda f, c: TwoLayers(Dense(f, 64), Dense(64, c), 0.5, F.relu), 0.01, 5e-4, WIDE),
}


def node_run(
    data: Any, classes: int, model_name: str, seed: int, device: torch.device
) -> tuple[float, float]:
    """The plain full-graph loop; returns (mean ms per epoch, test accuracy at the best
    val-loss epoch)."""
    make, lr, decay, _ = PROTOCOLS[model_name]
    torch.manual_seed(seed)
    model = make(data.num_features, classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    best, best_test, bad, times = float("inf"), 0.0, 0, []
    for _ in range(EPOCHS):
        started = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            out = model(data.x, data.edge_index)
            val_loss = F.cross_entropy(out[data.val_mask], data.y[data.val_mask]).item()
        times.append(time.perf_counter() - started)
        if val_loss < best:
            pred = out.argmax(dim=-1)
            best, bad = val_loss, 0
            best_test = (pred[data.test_mask] == data.y[data.test_mask]).float().mean().item()
        else:
            bad += 1
            if bad >= PATIENCE:
                break
    return 1000 * statistics.fmean(times), best_test


def graph_run(
    model: torch.nn.Module, loaders: dict[str, Any], lr: float, decay: float, epochs: int
) -> tuple[float, float]:
    """The loop of PyG's GIN example on mini-batches of whole graphs: (mean ms per epoch,
    test accuracy at the best val-loss epoch)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    best, best_test, bad, times = float("inf"), 0.0, 0, []

    def run(split: str) -> tuple[float, float]:
        loss, correct, count = 0.0, 0, 0
        for batch in loaders[split]:
            out = model(batch.x, batch.edge_index, batch.batch)
            loss += F.cross_entropy(out, batch.y, reduction="sum").item()
            correct += int((out.argmax(-1) == batch.y).sum())
            count += batch.num_graphs
        return loss / count, correct / count

    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        for batch in loaders["train"]:
            optimizer.zero_grad()
            F.cross_entropy(model(batch.x, batch.edge_index, batch.batch), batch.y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss, _ = run("val")
        times.append(time.perf_counter() - started)
        if val_loss < best:
            best, bad = val_loss, 0
            with torch.no_grad():
                best_test = run("test")[1]
        else:
            bad += 1
            if bad >= PATIENCE:
                break
    return 1000 * statistics.fmean(times), best_test
