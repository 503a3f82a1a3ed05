"""Tasks on one edge type of a heterogeneous graph: link prediction and recommendation.

Torch-free declarations (``gnnexp list task`` and config checks read them); the tasks
themselves live in :mod:`gnnexp.tasks.hetero_link` and :mod:`gnnexp.tasks.recommend`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gnnexp.config.components import component, option
from gnnexp.metrics import METRICS, RANKING_KS
from gnnexp.tasks.hetero_kinds import HeteroTaskSpec
from gnnexp.tasks.kinds import PairScoring

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData
    from gnnexp.tasks.base import Task
    from gnnexp.util.ranks import Dist

_TYPE = (
    lambda v: (
        v is None or (isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(s, str) for s in v))
    ),
    "three names: [source node type, relation, target node type]",
)


def _edge_type(what: str) -> Any:
    return option(None, doc=what, rule=_TYPE)


@dataclass
class TypedEdgeTaskSpec(HeteroTaskSpec):
    """Settings shared by the tasks on one edge type of a heterogeneous graph: LightGCN on a
    user-item graph, any other model through the typed-graph builder (``hetero_model``)."""

    edge_type: list[str] | None = _edge_type(
        "the edge type to predict, e.g. [user,rates,item] (null: the data's only one besides reverses)"
    )
    rev_edge_type: list[str] | None = _edge_type(
        "its reverse, kept out of evaluation with it (null: the data's [dst,*,src] type, added when absent)"
    )
    val_ratio: float = option(0.1, doc="share of the edges held out for validation", gt=0, lt=1)
    test_ratio: float = option(0.2, doc="share of the edges held out for testing", gt=0, lt=1)
    split_seed: int = option(0, doc="seed of the edge split", ge=0)

    def predictions(
        self,
        cfg: DictConfig,
        data: GraphData,
        shape: dict[str, Any] | None,
        load: Callable[[torch.nn.Module], None],
    ) -> tuple[list[str], list[list[Any]]]:
        """Header and rows of ``gnnexp predict``: the top ``k`` targets of every source node
        not yet linked to it; ``load`` puts the trained weights into the model."""
        from gnnexp.tasks.recommend import predict_top_k

        return predict_top_k(cfg, data, load)


@component("task", "hetero_link")
class HeteroLinkTaskSpec(PairScoring, TypedEdgeTaskSpec):
    """Link prediction on one edge type of a heterogeneous graph (ROC-AUC, AP, Hits@K)."""

    k: int = option(20, doc="gnnexp predict: targets listed per source node", ge=1)

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        from gnnexp.tasks.hetero_link import HeteroLinkTask

        return HeteroLinkTask(cfg, data, device)


@component("task", "recommend")
class RecommendTaskSpec(TypedEdgeTaskSpec):
    """Recommendation: BPR loss; every item a user has not met ranked (Recall@K, NDCG@K, Hits@K)."""

    k: int = option(
        20, doc="K of Recall@K, NDCG@K and Hits@K (and of gnnexp predict's lists)", choices=RANKING_KS
    )
    batch_size: int = option(2048, doc="training interactions per BPR step (0: all in one)", ge=0)
    lambda_reg: float = option(
        1e-4, doc="L2 penalty on the embeddings of a step's users and items (LightGCN's BPR)", ge=0
    )

    metrics = (
        *(name for name, m in METRICS.items() if m.ranking),
        *(name for name in METRICS if name.startswith("hits@")),
    )
    default_metric = "recall@{k}"  # monitored at task.k unless task.metric names another

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        from gnnexp.tasks.recommend import RecommendTask

        return RecommendTask(cfg, data, device)
