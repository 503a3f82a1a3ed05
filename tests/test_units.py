"""Unit tests of the pieces the loop is made of."""

from __future__ import annotations

import math

import pytest
import torch

from gnnexp.data.splits import random_node_masks
from gnnexp.data.synthetic import planted_partition
from gnnexp.errors import CheckpointError
from gnnexp.metrics import accuracy, average_precision, f1_macro, hits_at_k, mae, rmse, roc_auc
from gnnexp.models import MODELS, GNNSpec
from gnnexp.models.gnn import GNN
from gnnexp.training.checkpoint import load_checkpoint, save_checkpoint
from gnnexp.training.early_stopping import EarlyStopping, LossAndMetricStopping


def test_early_stopping_min_mode_counts_evaluations_without_improvement():
    stopper = EarlyStopping("min", patience=2, min_delta=0.1)
    assert stopper.update({"loss": 1.0}, 1)
    assert not stopper.update({"loss": 0.95}, 2)  # within min_delta: not an improvement
    assert not stopper.should_stop
    assert stopper.update({"loss": 0.5}, 3)
    assert not stopper.update({"loss": 0.6}, 4)
    assert not stopper.update({"loss": float("nan")}, 5)
    assert stopper.should_stop
    assert (stopper.best, stopper.best_epoch) == (0.5, 3)


def test_early_stopping_max_mode_and_state_round_trip():
    stopper = EarlyStopping("max", patience=None, key="accuracy")
    for epoch, value in enumerate([0.1, 0.3, 0.2], start=1):
        stopper.update({"loss": 9.0, "accuracy": value}, epoch)
    assert (stopper.best, stopper.best_epoch, stopper.bad_evals) == (0.3, 2, 1)
    assert not stopper.should_stop
    restored = EarlyStopping("max", patience=None, key="accuracy")
    restored.load_state_dict(stopper.state_dict())
    assert restored.state_dict() == stopper.state_dict()


def test_gat_rule_checkpoints_when_both_improve_and_waits_while_either_does():
    stopper = LossAndMetricStopping(patience=2, metric="accuracy", metric_mode="max")
    steps = [
        (1.0, 0.5, True),  # first: both
        (0.9, 0.4, False),  # loss only: patience restarts, no checkpoint
        (0.95, 0.6, False),  # metric only
        (0.9, 0.6, True),  # ties on both count: checkpoint
        (0.95, 0.55, False),
        (0.92, 0.59, False),  # two evaluations without either: stop
    ]
    for epoch, (loss, acc, checkpoint) in enumerate(steps, start=1):
        assert stopper.update({"loss": loss, "accuracy": acc}, epoch) is checkpoint
    assert stopper.should_stop and stopper.best_epoch == 4 and stopper.best == 0.9
    restored = LossAndMetricStopping(patience=2, metric="accuracy", metric_mode="max")
    restored.load_state_dict(stopper.state_dict())
    assert restored.state_dict() == stopper.state_dict()


def _state() -> dict:
    torch.manual_seed(0)
    return {"model": {"w": torch.randn(64, 32), "b": torch.zeros(32)}, "epoch": 7, "config": {"a": [1, 2]}}


def test_checkpoint_round_trip_is_plain_data(tmp_path):
    path = tmp_path / "ck" / "best.pt"
    save_checkpoint(path, _state())
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], _state()["model"]["w"])
    assert loaded["epoch"] == 7 and loaded["config"] == {"a": [1, 2]}
    torch.load(path, weights_only=True)
    assert [p.name for p in path.parent.iterdir()] == ["best.pt"]  # no temp file left


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_checkpoint_with_one_flipped_byte_is_refused(tmp_path, where):
    path = tmp_path / "best.pt"
    save_checkpoint(path, _state())
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0x04
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert "corrupted" in str(err.value)


def test_truncated_and_foreign_checkpoints_are_refused(tmp_path):
    path = tmp_path / "best.pt"
    save_checkpoint(path, _state())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated, corrupted or not a torch file"):
        load_checkpoint(path)
    torch.save({"weights": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="not a gnnexp checkpoint"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "best.pt"
    save_checkpoint(path, _state())
    before = path.read_bytes()

    def dies_midway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 8})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_planted_partition_is_deterministic_and_homophilous():
    kwargs = dict(
        num_nodes=3000,
        num_classes=4,
        num_features=8,
        avg_degree=10,
        homophily=0.9,
        feature_signal=1.0,
    )
    a, b = planted_partition(seed=3, **kwargs), planted_partition(seed=3, **kwargs)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    assert not torch.equal(a.edge_index, planted_partition(seed=4, **kwargs).edge_index)
    src, dst = a.edge_index
    assert not bool((src == dst).any())
    codes = src * 3000 + dst
    assert codes.unique().numel() == codes.numel()  # no duplicate edges
    assert torch.equal(codes.sort().values, (dst * 3000 + src).sort().values)  # undirected
    assert (a.y[src] == a.y[dst]).float().mean() > 0.85
    assert a.edge_index.size(1) / 3000 == pytest.approx(10, rel=0.05)
    train, val, test = random_node_masks(3000, 0.5, 0.25, seed=0)
    assert bool(((train.int() + val.int() + test.int()) == 1).all())
    assert int(train.sum()) == 1500 and int(val.sum()) == 750
    assert torch.equal(train, random_node_masks(3000, 0.5, 0.25, seed=0)[0])


def test_metrics():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    target = torch.tensor([0, 1, 1, 1])
    assert accuracy(logits, target) == 0.75
    # class 0: p=1/2, r=1 -> 2/3; class 1: p=1, r=2/3 -> 0.8
    assert f1_macro(logits, target) == pytest.approx((2 / 3 + 0.8) / 2)
    assert math.isnan(accuracy(logits[:0], target[:0]))


def test_ranking_metrics_against_hand_computed_values():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = torch.tensor([1, 0, 1, 1, 0, 0])
    # positives outrank 2 + 3 + 3 of the 9 (pos, neg) pairs... counted: 0.9>3, 0.7>2, 0.6>2 -> 7/9
    assert roc_auc(scores, labels) == pytest.approx(7 / 9)
    # precision at each positive: 1/1, 2/3, 3/4 -> mean
    assert average_precision(scores, labels) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    tied = torch.tensor([0.5, 0.5, 0.5, 0.5])
    assert roc_auc(tied, torch.tensor([1, 0, 1, 0])) == 0.5
    assert average_precision(tied, torch.tensor([1, 0, 1, 0])) == 0.5
    two_class = torch.stack([torch.zeros(6), scores], dim=1)
    assert roc_auc(two_class, labels) == pytest.approx(7 / 9)
    assert hits_at_k(torch.tensor([0.9, 0.5, 0.2]), torch.tensor([0.8, 0.6, 0.1]), k=2) == pytest.approx(
        1 / 3
    )
    assert hits_at_k(torch.tensor([0.9]), torch.tensor([0.8]), k=5) == 1.0
    assert mae(torch.tensor([[1.0], [3.0]]), torch.tensor([2.0, 2.0])) == 1.0
    assert rmse(torch.tensor([0.0, 4.0]), torch.tensor([0.0, 0.0])) == pytest.approx(8**0.5)


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, cls in MODELS.items()
        if issubclass(cls, GNNSpec) and not cls.needs_edge_features and not getattr(cls, "hetero_only", False)
    ),
)
@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"jk": "cat", "norm": "batch"},
        {"jk": "max", "residual": True, "norm": "layer"},
        {"jk": "last", "drop_edge": 0.2},
    ],
)
def test_models_map_features_to_classes(name, variant):
    torch.manual_seed(0)
    x = torch.randn(30, 5)
    edge_index = torch.randint(0, 30, (2, 80))
    extra = {"heads": 2, "out_heads": 1, "attn_dropout": 0.1} if name.startswith("gat") else {}
    model: GNN = MODELS[name](hidden_channels=8, num_layers=3, **extra, **variant).build(5, 3)
    model.train()
    out = model(x, edge_index)
    assert out.shape == (30, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x, edge_index), model(x, edge_index))  # eval is deterministic


def test_resume_keeps_the_fused_adam_kernel_under_fp16_loss_scaling():
    """A checkpoint saved by an optimizer without the fused kernel (as before it was used)
    must not turn the kernel off: the fp16 GradScaler hands fused optimizers its inf check."""
    from gnnexp.config.compose import compose
    from gnnexp.training.optimizers import Adam
    from gnnexp.training.precision import Precision
    from gnnexp.training.schedulers import LRSchedule
    from gnnexp.training.state import TrainState

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    old = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(3, 4)).sum().backward()
    old.step()
    cfg = compose([])
    optimizer = Adam(name="adam", lr=0.01, weight_decay=0.0).build([{"params": list(model.parameters())}])
    assert optimizer.param_groups[0]["fused"] is True
    precision = Precision("16", torch.device("cpu"))
    state = TrainState(model, model, optimizer, LRSchedule(optimizer, cfg.scheduler, 10, "min"),
                       EarlyStopping("min", None), precision)  # fmt: skip
    checkpoint = state.parts() | {"optimizer": old.state_dict(), "epoch": 1}
    state.restore(checkpoint)
    assert optimizer.param_groups[0]["fused"] is True
    assert optimizer.state[model.weight]["exp_avg"].abs().sum() > 0  # the moments came back
    optimizer.zero_grad()
    precision.backward(model(torch.randn(3, 4)).sum())
    precision.unscale(optimizer)
    precision.step(optimizer)  # raised "Expected grad_scale and found_inf to be None" before


@pytest.mark.parametrize(
    ("weight_decay_on", "decayed"), [("all", {"convs.0", "convs.1"}), ("first_layer", {"convs.0"})]
)
def test_weight_decay_reaches_the_layers_it_is_set_on(weight_decay_on, decayed):
    """With zero gradients the penalty is the only force, so exactly the decayed layers move
    (SGD: w <- w - lr * wd * w), by the amount the penalty asks for."""
    from omegaconf import OmegaConf

    from gnnexp.training.optimizers import build_optimizer

    torch.manual_seed(0)
    model: GNN = MODELS["gcn"](hidden_channels=8, num_layers=2).build(5, 3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = OmegaConf.create({"name": "sgd", "lr": 0.1, "weight_decay": 0.5, "momentum": 0.0,
                            "weight_decay_on": weight_decay_on})  # fmt: skip
    optimizer = build_optimizer(cfg, model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in model.named_parameters():
        layer = ".".join(name.split(".")[:2])
        expected = before[name] * (1 - 0.1 * 0.5) if layer in decayed else before[name]
        assert torch.allclose(p.detach(), expected), name


def test_deterministic_switch_sets_torchs_flag_without_importing_the_compiler():
    """set_deterministic reaches torch's flag through the setter torch's public switch calls,
    which skips importing torch._inductor (a second per run); if torch renames that setter,
    this fails here rather than every run failing."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from gnnexp.util.seeding import set_deterministic\n"
        "set_deterministic(True)\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert torch.is_deterministic_algorithms_warn_only_enabled()\n"
        "assert 'torch._inductor.config' not in sys.modules, 'the eager path imported inductor'\n"
        "set_deterministic(False)\n"
        "assert not torch.are_deterministic_algorithms_enabled()\n"
        "set_deterministic(True, compiled=True)\n"
        "import torch._inductor.config as c\n"
        "assert c.deterministic and torch.are_deterministic_algorithms_enabled()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
