"""The knowledge-graph completion task, declared (torch-free): its settings and how it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gnnexp.config.components import component, option
from gnnexp.metrics import METRICS
from gnnexp.models.layout import PLAIN, Layout
from gnnexp.tasks.kinds import TaskSpec

if TYPE_CHECKING:
    import torch
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData
    from gnnexp.tasks.base import Task
    from gnnexp.util.ranks import Dist


@component("task", "kg")
class KGTaskSpec(TaskSpec):
    """Knowledge-graph completion: rank every entity for (head, relation, ?) and (?, relation, tail)."""

    training: str = option(
        "auto",
        doc="1-n: every entity scored against each (entity, relation) query, BCE; negatives: sampled "
        "corrupted triples; auto: the model's recommendation",
        choices=("auto", "1-n", "negatives"),
    )
    negative_loss: str = option(
        "auto",
        doc="loss with negatives: bce, margin (ranking, model.margin), self_adversarial (RotatE's); auto: the model's",
        choices=("auto", "bce", "margin", "self_adversarial"),
    )
    num_negatives: int = option(16, doc="corrupted triples per true one (training=negatives)", ge=1)
    adversarial_temperature: float = option(
        1.0, doc="self-adversarial weighting of the negatives (softmax of score x this)", ge=0
    )
    label_smoothing: float = option(0.1, doc="1-n targets smoothed towards 1/entities", ge=0, lt=1)
    inverse_relations: bool = option(
        True, doc="add (tail, relation^-1, head) for each triple, so head queries are tail queries"
    )
    batch_size: int = option(1024, doc="queries (1-n) or true triples (negatives) per training step", ge=1)
    eval_batch_size: int = option(2048, doc="queries scored against all entities at once in evaluation", ge=1)
    per_relation: bool = option(
        False, doc="write per_relation.csv (test metrics per relation) into the run dir"
    )

    levels = ("kg",)
    metrics = tuple(name for name, m in METRICS.items() if m.entity_ranks)
    default_metric = "mrr"

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        from gnnexp.tasks.kg import KGTask

        return KGTask(cfg, data, device)

    def model(
        self, cfg: DictConfig, in_channels: int, out_channels: int, layout: Layout = PLAIN
    ) -> torch.nn.Module:
        # A knowledge-graph model needs the graph's relations (and R-GCN its edges): the task
        # builds it (KGTask.build_model, gnnexp.models.kge.build_kg_model).
        raise NotImplementedError("knowledge-graph models are built by KGTask.build_model")
