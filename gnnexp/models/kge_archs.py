"""Knowledge-graph models, each one declared class (torch-free): shallow embeddings and R-GCN.

They score (head, relation, tail) facts and apply to ``task=kg`` only. Each builds a module
of :mod:`gnnexp.models.kge` (PyG's ``torch_geometric.nn.kge`` classes, with every entity
scored at once) with :meth:`KGModelSpec.build`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from omegaconf import MISSING

from gnnexp.config.components import component, option

if TYPE_CHECKING:
    import torch


@dataclass
class KGModelSpec:
    """Settings every knowledge-graph model understands."""

    name: str = MISSING
    hidden_channels: int = option(200, doc="embedding size of entities and relations", ge=1)
    lr: float = option(0.01, doc="recommended learning rate (optimizer.lr follows it)", gt=0)
    weight_decay: float = option(0.0, doc="recommended L2 penalty (optimizer.weight_decay follows it)", ge=0)

    # What task.training=auto and task.negative_loss=auto choose for this model.
    training: ClassVar[str] = "1-n"
    negative_loss: ClassVar[str] = "bce"
    # Marks a model of (head, relation, tail) facts: the config checks pair it with task=kg.
    knowledge_graph: ClassVar[bool] = True

    def build(
        self,
        num_entities: int,
        num_relations: int,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor,
        num_edge_types: int,
    ) -> torch.nn.Module:
        """The model for ``num_entities`` entities and ``num_relations`` relations (inverse ones
        included); ``edge_index``/``edge_type`` are the training facts as a graph (its
        ``num_edge_types`` types: each relation and its inverse), for encoders that pass messages."""
        raise NotImplementedError


@component("model", "transe")
class TransE(KGModelSpec):
    """TransE (Bordes et al. 2013): a relation translates its head onto its tail."""

    p_norm: float = option(1.0, doc="order of the distance (1 or 2)", choices=(1.0, 2.0))
    margin: float = option(1.0, doc="margin of the ranking loss (task.negative_loss=margin)", gt=0)

    training = "negatives"
    negative_loss = "margin"

    def build(self, num_entities: int, num_relations: int, *graph: Any) -> torch.nn.Module:
        from gnnexp.models.kge import TransE

        return TransE(num_entities, num_relations, self.hidden_channels, self.margin, self.p_norm)


@component("model", "distmult")
class DistMult(KGModelSpec):
    """DistMult (Yang et al. 2015): a bilinear score with a diagonal relation matrix."""

    margin: float = option(1.0, doc="margin of the ranking loss (task.negative_loss=margin)", gt=0)

    def build(self, num_entities: int, num_relations: int, *graph: Any) -> torch.nn.Module:
        from gnnexp.models.kge import DistMult

        return DistMult(num_entities, num_relations, self.hidden_channels, self.margin)


@component("model", "complex")
class ComplEx(KGModelSpec):
    """ComplEx (Trouillon et al. 2016): DistMult in complex space, so relations may be asymmetric."""

    def build(self, num_entities: int, num_relations: int, *graph: Any) -> torch.nn.Module:
        from gnnexp.models.kge import ComplEx

        return ComplEx(num_entities, num_relations, self.hidden_channels)


@component("model", "rotate")
class RotatE(KGModelSpec):
    """RotatE (Sun et al. 2019): a relation rotates its head onto its tail in complex space."""

    margin: float = option(9.0, doc="gamma: a score is margin minus the distance", gt=0)

    training = "negatives"
    negative_loss = "self_adversarial"

    def build(self, num_entities: int, num_relations: int, *graph: Any) -> torch.nn.Module:
        from gnnexp.models.kge import RotatE

        return RotatE(num_entities, num_relations, self.hidden_channels, self.margin)


@component("model", "rgcn")
class RGCN(KGModelSpec):
    """R-GCN (Schlichtkrull et al. 2018): a relational GCN encoder with a DistMult decoder."""

    hidden_channels: int = option(100, doc="width of the entity embeddings and of each layer", ge=1)
    num_layers: int = option(2, doc="relational message-passing layers", ge=1)
    decomposition: str = option(
        "basis",
        doc="sharing of the per-relation weights: basis (num_bases), block (num_blocks) or none",
        choices=("basis", "block", "none"),
    )
    num_bases: int = option(4, doc="basis matrices (decomposition=basis)", ge=1)
    num_blocks: int = option(4, doc="diagonal blocks (decomposition=block; divides hidden_channels)", ge=1)
    dropout: float = option(0.2, doc="dropout on each layer's input", ge=0, lt=1)

    def build(
        self,
        num_entities: int,
        num_relations: int,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor,
        num_edge_types: int,
    ) -> torch.nn.Module:
        from gnnexp.models.kge import RGCN

        if self.decomposition == "block" and self.hidden_channels % self.num_blocks:
            raise ValueError(
                f"model.num_blocks={self.num_blocks} does not divide model.hidden_channels={self.hidden_channels}"
            )
        return RGCN(
            num_entities,
            num_relations,
            self.hidden_channels,
            self.num_layers,
            num_bases=self.num_bases if self.decomposition == "basis" else None,
            num_blocks=self.num_blocks if self.decomposition == "block" else None,
            dropout=self.dropout,
            edge_index=edge_index,
            edge_type=edge_type,
            num_edge_types=num_edge_types,
        )
