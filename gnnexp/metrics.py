"""Evaluation metrics on tensors: ``METRICS[name].compute(prediction, target) -> float``.

Classification metrics take logits ``[N, C]`` and class indices; binary ranking metrics
(ROC-AUC, AP) also take a vector of scores (link prediction) or two-class logits. The module
imports torch only inside the functions: config checks read the table without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


def accuracy(logits: Tensor, target: Tensor) -> float:
    """Fraction of rows whose arg-max equals the target class."""
    if target.numel() == 0:
        return float("nan")
    return (logits.argmax(dim=-1) == target).float().mean().item()


def f1_macro(logits: Tensor, target: Tensor) -> float:
    """Unweighted mean of per-class F1 over the classes present in prediction or target."""
    import torch

    if target.numel() == 0:
        return float("nan")
    num_classes = logits.size(-1)
    pred = logits.argmax(dim=-1)
    tp = torch.bincount(target[pred == target], minlength=num_classes).float()
    predicted = torch.bincount(pred, minlength=num_classes).float()
    actual = torch.bincount(target, minlength=num_classes).float()
    present = (predicted + actual) > 0
    f1 = 2 * tp / (predicted + actual).clamp(min=1)
    return f1[present].mean().item()


def _binary_scores(pred: Tensor) -> Tensor:
    """Scores of the positive class: a score vector as is, two-class logits as a margin."""
    if pred.dim() == 2:
        if pred.size(1) != 2:
            raise ValueError("ROC-AUC and AP need two classes")
        return pred[:, 1] - pred[:, 0]
    return pred


def roc_auc(pred: Tensor, target: Tensor) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted one half)."""
    import torch

    scores, labels = _binary_scores(pred).double(), target.bool()
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    sorted_scores, order = scores.sort()
    _, inverse, counts = torch.unique_consecutive(sorted_scores, return_inverse=True, return_counts=True)
    first_rank = torch.cumsum(counts, 0) - counts + 1
    avg_rank = (first_rank + (counts - 1) / 2.0).double()
    ranks = torch.empty_like(scores)
    ranks[order] = avg_rank[inverse]
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def average_precision(pred: Tensor, target: Tensor) -> float:
    """Average precision: precision at each distinct threshold weighted by recall gained."""
    import torch

    scores, labels = _binary_scores(pred), target.float()
    n_pos = float(labels.sum())
    if n_pos == 0:
        return float("nan")
    sorted_scores, order = scores.sort(descending=True)
    hits = labels[order]
    tp, fp = torch.cumsum(hits, 0), torch.cumsum(1 - hits, 0)
    # Only the last position of a run of tied scores is a threshold.
    last = torch.ones_like(hits, dtype=torch.bool)
    last[:-1] = sorted_scores[1:] != sorted_scores[:-1]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / n_pos
    gain = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((gain * precision).sum())


def hits_at_k(pos_scores: Tensor, neg_scores: Tensor, k: int) -> float:
    """Share of positive edges scored above the k-th best negative (OGB's Hits@K)."""
    if pos_scores.numel() == 0:
        return float("nan")
    if neg_scores.numel() < k:
        return 1.0
    threshold = neg_scores.topk(k).values[-1]
    return (pos_scores > threshold).float().mean().item()


def _hits(k: int) -> Callable[[Tensor, Tensor], float]:
    def hits(scores: Tensor, labels: Tensor) -> float:
        return hits_at_k(scores[labels == 1], scores[labels == 0], k)

    hits.__doc__ = (
        f"Hits@{k}: share of positive pairs scored above the {k}th best negative (OGB's link metric)"
    )
    return hits


def mae(pred: Tensor, target: Tensor) -> float:
    """Mean absolute error."""
    if target.numel() == 0:
        return float("nan")
    return (pred.view_as(target) - target).abs().mean().item()


def rmse(pred: Tensor, target: Tensor) -> float:
    """Root mean squared error."""
    if target.numel() == 0:
        return float("nan")
    return (pred.view_as(target) - target).pow(2).mean().sqrt().item()


@dataclass(frozen=True)
class Metric:
    """A metric and what it applies to: its direction, its target kind, link prediction."""

    compute: Callable[[Tensor, Tensor], float]
    mode: str  # max: larger is better
    regression: bool
    binary: bool = False  # ranks scores of a positive class (usable for link prediction)
    bounds: tuple[float, float] = (0.0, 1.0)  # the values it can take (plots keep bands inside)
    pairs_only: bool = False  # compares positive pairs with sampled negatives: link prediction only
    entity_ranks: bool = False  # takes the ranks of true entities among all: knowledge graphs (task=kg) only
    ranking: bool = False  # ranks every item per user: recommendation only

    @property
    def description(self) -> str:
        return (self.compute.__doc__ or "").strip().splitlines()[0]


# name -> metric; ``task.metric``/``dataset.metric`` choose among these names.
METRICS: dict[str, Metric] = {
    "accuracy": Metric(accuracy, "max", regression=False),
    "f1_macro": Metric(f1_macro, "max", regression=False),
    "roc_auc": Metric(roc_auc, "max", regression=False, binary=True),
    "ap": Metric(average_precision, "max", regression=False, binary=True),
    **{
        f"hits@{k}": Metric(_hits(k), "max", regression=False, binary=True, pairs_only=True)
        for k in (20, 50, 100)
    },
    "mae": Metric(mae, "min", regression=True, bounds=(0.0, float("inf"))),
    "rmse": Metric(rmse, "min", regression=True, bounds=(0.0, float("inf"))),
}


def value_range(name: str) -> tuple[float, float]:
    """The values a recorded column can take: a metric's bounds, Hits@K in [0, 1], a loss >= 0."""
    if name in METRICS:
        return METRICS[name].bounds
    if name.startswith("hits@"):
        return (0.0, 1.0)
    return (0.0, float("inf")) if name.endswith("loss") else (-float("inf"), float("inf"))


# Knowledge-graph completion (task=kg): each takes the ranks of the true entities among all
# candidates (filtered, ties counted realistically: gnnexp.tasks.kg_ranking), not scores.


def mrr(ranks: Tensor, _: Tensor | None = None) -> float:
    """Mean reciprocal rank of the true entity among all entities (filtered, realistic ties)"""
    return (1.0 / ranks.double()).mean().item() if ranks.numel() else float("nan")


def mean_rank(ranks: Tensor, _: Tensor | None = None) -> float:
    """Mean rank of the true entity among all entities (filtered, realistic ties; lower is better)"""
    return ranks.double().mean().item() if ranks.numel() else float("nan")


def _hits_at_rank(k: int) -> Callable[[Tensor, Tensor | None], float]:
    def hits(ranks: Tensor, _: Tensor | None = None) -> float:
        return (ranks <= k).double().mean().item() if ranks.numel() else float("nan")

    hits.__doc__ = f"Hits@{k} of knowledge-graph completion: share of true entities ranked in the top {k}"
    return hits


METRICS.update(
    {
        "mrr": Metric(mrr, "max", regression=False, entity_ranks=True),
        **{
            f"hits@{k}": Metric(_hits_at_rank(k), "max", regression=False, entity_ranks=True)
            for k in (1, 3, 10)
        },
        "mean_rank": Metric(
            mean_rank, "min", regression=False, entity_ranks=True, bounds=(1.0, float("inf"))
        ),
    }
)

# Recommendation: each row of ``scores`` ranks every item for one user (items the user met in
# training set to -inf), each row of ``relevant`` marks the user's held-out items. Users
# without a held-out item are left out by the caller. Vectorized over users.


def _top_k_hits(scores: Tensor, relevant: Tensor, k: int) -> Tensor:
    """``[users, k]``: whether the item ranked at each of the first ``k`` places is relevant."""
    top = scores.topk(min(k, scores.size(1)), dim=1).indices
    return relevant.gather(1, top)


def recall_at_k(scores: Tensor, relevant: Tensor, k: int) -> float:
    """Recall@K: the share of a user's held-out items in their top K, averaged over users."""
    if relevant.size(0) == 0:
        return float("nan")
    found = _top_k_hits(scores, relevant, k).sum(1).float()
    return (found / relevant.sum(1).clamp(min=1)).mean().item()


def ndcg_at_k(scores: Tensor, relevant: Tensor, k: int) -> float:
    """NDCG@K: discounted gain of the held-out items in the top K over the best possible."""
    import torch

    if relevant.size(0) == 0:
        return float("nan")
    hits = _top_k_hits(scores, relevant, k).float()
    discount = 1.0 / torch.log2(torch.arange(hits.size(1), device=hits.device, dtype=torch.float) + 2.0)
    dcg = (hits * discount).sum(1)
    ideal_count = relevant.sum(1).clamp(max=hits.size(1))
    ideal = torch.cumsum(discount, 0)[(ideal_count - 1).clamp(min=0)] * (ideal_count > 0)
    return (dcg / ideal.clamp(min=1e-12)).mean().item()


def user_hits_at_k(scores: Tensor, relevant: Tensor, k: int) -> float:
    """Hits@K of a recommender: the share of users with at least one held-out item in their top K."""
    if relevant.size(0) == 0:
        return float("nan")
    return _top_k_hits(scores, relevant, k).any(1).float().mean().item()


def _ranking(fn: Callable[[Tensor, Tensor, int], float], k: int) -> Callable[[Tensor, Tensor], float]:
    def metric(scores: Tensor, relevant: Tensor) -> float:
        return fn(scores, relevant, k)

    metric.__doc__ = (fn.__doc__ or "").replace("K", str(k))
    return metric


# Ranking metrics of a recommender (task=recommend): ``ranking`` keeps them from the tasks
# whose predictions are not rankings of items per user.
RANKING: dict[str, Callable[[Tensor, Tensor, int], float]] = {
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "hits": user_hits_at_k,
}
# The K a recommender is scored at (task.k), each a declared metric so that it can be monitored.
RANKING_KS = (1, 5, 10, 20, 50, 100)
METRICS.update(
    {
        f"{name}@{k}": Metric(_ranking(RANKING[name], k), "max", regression=False, ranking=True)
        for name in ("recall", "ndcg")
        for k in RANKING_KS
    }
)
