"""The interface the training loop relies on, the shared loss/metric logic, ``build_task``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.config.components import declared
from gnnexp.config.validate import metric_name
from gnnexp.data.loading import GraphData
from gnnexp.metrics import METRICS
from gnnexp.util.ranks import SINGLE, Dist


class Task(Protocol):
    """One kind of graph question (node, graph or link level)."""

    metric: str
    in_channels: int

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        """The model ``cfg`` describes, with the inputs, outputs and head this task needs."""
        ...

    def train_batches(self) -> Iterable[Any]:
        """The batches of one training epoch (one batch for full-graph training)."""
        ...

    def training_loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        """Forward ``batch`` and return the loss on its training targets only."""
        ...

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        """``{split: {"loss": ..., <metric>: ..., ...}}``; called in eval mode without grad."""
        ...

    def describe(self) -> dict[str, Any]:
        """Sizes worth printing: nodes, edges, features, classes, split sizes."""
        ...


def _known(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Predictions and targets where the target is known: a missing label (NaN) counts nowhere."""
    pred = pred.view(target.shape)
    known = ~torch.isnan(target)
    return pred[known], target[known]


def _mse(pred: Tensor, target: Tensor) -> Tensor:
    return F.mse_loss(*_known(pred, target))


def _mae(pred: Tensor, target: Tensor) -> Tensor:
    return F.l1_loss(*_known(pred, target))


def _bce(pred: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(*_known(pred, target.float().view(pred.size(0), -1)))


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "bce": _bce,
    "mse": _mse,
    "mae": _mae,
}


class Objective:
    """Loss and metrics for a classification or regression target of node or graph level."""

    def __init__(
        self,
        cfg: DictConfig,
        out_channels: int,
        scorer: tuple[str, Callable[[Tensor, Tensor], float]] | None = None,
    ) -> None:
        self.scorer = scorer  # the dataset's own evaluator of one metric (OGB's)
        self.regression = cfg.dataset.target == "regression"
        loss = cfg.task.loss
        if loss == "auto":
            loss = "mse" if self.regression else "cross_entropy"
        self.loss = LOSSES[loss]
        # Several binary targets (one logit each), or regression targets: each scored per
        # target over its known values and averaged, as MoleculeNet and OGB report them.
        self.multilabel = loss == "bce"
        self.metric = metric_name(cfg)
        self.names = [self.metric]
        if self.multilabel:
            self.names += [n for n in ("roc_auc", "ap") if n != self.metric]
        elif not self.regression and out_channels == 2 and self.metric != "roc_auc":
            self.names.append("roc_auc")  # binary tasks also report ROC-AUC

    def scores(self, pred: Tensor, target: Tensor) -> dict[str, float]:
        """Loss and every metric of predictions ``pred`` against ``target``."""
        out = {"loss": self.loss(pred, target).item()}
        per_target = self.multilabel or (self.regression and target.dim() == 2)
        for name in self.names:
            out[name] = (
                self._per_target(name, pred, target) if per_target else METRICS[name].compute(pred, target)
            )
        if self.scorer is not None and self.scorer[0] in out:
            out[self.scorer[0]] = self.scorer[1](pred, target)
        return out

    def _per_target(self, name: str, pred: Tensor, target: Tensor) -> float:
        """``name`` per target column over its known values, averaged over the columns that
        can be scored (a column whose known labels are all one class has no ROC-AUC)."""
        target = target.float().view(pred.size(0), -1)
        pred = pred.view(target.shape)
        values = []
        for column in range(target.size(1)):
            known = ~torch.isnan(target[:, column])
            p, t = pred[known, column], target[known, column]
            if t.numel() == 0:
                continue
            if self.regression:
                value = METRICS[name].compute(p, t)
            elif name == "accuracy":
                value = ((p > 0).float() == t).float().mean().item()
            else:
                value = METRICS[name].compute(p, t.long())
            if value == value:  # not NaN
                values.append(value)
        return sum(values) / len(values) if values else float("nan")


def build_task(
    cfg: DictConfig,
    data: GraphData,
    device: torch.device,
    fold: int | None = None,
    dist: Dist = SINGLE,
    fast: bool = True,
) -> Task:
    """The task object for ``cfg.task.kind`` on ``data``.

    ``fold``: the fold of k-fold CV (graph tasks); ``dist``: this process's rank, whose
    shard of the training nodes it trains on (node tasks under DDP); ``fast``: whether the
    model runs on the fast paths (``gnnexp.models.fast``), where they apply.
    """
    spec = declared("task")[str(cfg.task.kind)]
    return spec().build(cfg, data, device, fold, dist, fast)


def edge_dim(model: DictConfig, data: GraphData, usable: bool = True) -> int | None:
    """The width of the edge features the model gets: the data's, when it has some, the run can
    pass them (``usable``) and the architecture's layers take them; else None."""
    from gnnexp.models.build import model_spec

    spec = model_spec(model)
    return (
        data.num_edge_features
        if usable and data.num_edge_features and spec is not None and spec.edge_features
        else None
    )


def describe_edges(model: DictConfig, data: GraphData, used: int | None, why_not: str = "") -> dict[str, str]:
    """The intro panel's line about edge features: used, or why not (said once, at the start)."""
    if not data.num_edge_features:
        return {}
    if used:
        return {"edge features": f"{used} per edge, used by model={model.name}"}
    from gnnexp.models.archs import GNNSpec

    users = [
        name for name, cls in declared("model").items() if issubclass(cls, GNNSpec) and cls.edge_features
    ]
    reason = why_not or f"model={model.name} cannot use them; {', '.join(users)} can"
    return {"edge features": f"{data.num_edge_features} per edge, not used ({reason})"}


def edge_features(edge_attr: Tensor | None) -> Tensor | None:
    """``edge_attr`` as a float matrix, one row per edge (a 1-D weight becomes one column)."""
    if edge_attr is None:
        return None
    return edge_attr.view(edge_attr.size(0), -1).float()
