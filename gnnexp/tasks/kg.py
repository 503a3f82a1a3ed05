"""Knowledge-graph completion: training by 1-N scoring or sampled negatives, evaluation by the
filtered, realistic rank of each true entity among all entities (head and tail queries)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.config.components import declared, instance
from gnnexp.config.validate import metric_name
from gnnexp.data.kg_loading import KnowledgeGraph
from gnnexp.data.loading import GraphData
from gnnexp.errors import ConfigError
from gnnexp.metrics import METRICS
from gnnexp.tasks.kg_ranking import Answers, realistic_ranks
from gnnexp.util.atomic import atomic_file

# Reported on every split, the run's metric first.
RANK_METRICS = tuple(name for name, m in METRICS.items() if m.entity_ranks)


class Batch(NamedTuple):
    """Training queries of one direction: tail queries, or head queries when ``heads`` (with
    inverse relations: tail queries of ``r^-1``); ``answer``: one true entity each (negative
    sampling) or None (1-N)."""

    heads: bool
    anchor: Tensor
    rel: Tensor
    answer: Tensor | None


class KGTask:
    """Scores queries against every entity; ranks filtered against all known facts."""

    def __init__(self, cfg: DictConfig, data: GraphData, device: torch.device) -> None:
        kg = data.graphs
        if not isinstance(kg, KnowledgeGraph):
            raise ConfigError(
                f"task=kg needs a knowledge graph, and dataset={data.name} is not one.",
                "use dataset=kinships, umls, nations or triples.",
            )
        self.spec = t = instance("task", cfg.task)
        model_cls = declared("model")[str(cfg.model.name)]
        self.training = model_cls.training if t.training == "auto" else str(t.training)
        self.negative_loss = model_cls.negative_loss if t.negative_loss == "auto" else str(t.negative_loss)
        self.kg, self.device = kg, device
        self.metric = metric_name(cfg)
        self.names = [self.metric, *(n for n in RANK_METRICS if n != self.metric)]
        self.num_entities = n = kg.num_entities
        r = kg.num_relations
        self.inverse = bool(t.inverse_relations)
        self.in_channels = n  # entity ids are the inputs: a checkpoint fits graphs of its entity count
        self.out_channels = 2 * r if self.inverse else r
        self.splits = {s: kg.split(s).to(device) for s in ("train", "val", "test")}
        every = torch.cat(list(self.splits.values()))
        self.known = {heads: self._answers(every, heads) for heads in (False, True)}
        self.train_answers = {heads: self._answers(self.splits["train"], heads) for heads in (False, True)}
        train = self.splits["train"]
        # The training facts as a graph for message passing: each relation and its inverse.
        self.edge_index = torch.cat([train[:, [0, 2]].t(), train[:, [2, 0]].t()], dim=1)
        self.edge_type = torch.cat([train[:, 1], train[:, 1] + r])
        self.notes = dict(data.notes)
        self.ranks: dict[str, tuple[Tensor, Tensor]] = {}  # split -> (ranks, relation of each query)

    def query(self, triples: Tensor, heads: bool) -> tuple[Tensor, Tensor, Tensor, bool]:
        """``(anchor, relation, answer, head-direction scoring)`` of ``triples``' tail queries, or
        head queries (``heads``): with inverse relations those are tail queries of ``r^-1``."""
        h, r, t = triples.unbind(1)
        if not heads:
            return h, r, t, False
        if self.inverse:
            return t, r + self.kg.num_relations, h, False
        return t, r, h, True

    def _answers(self, triples: Tensor, heads: bool) -> Answers:
        anchor, rel, answer, _ = self.query(triples, heads)
        return Answers.build(anchor, rel, answer, self.num_entities)

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        spec = instance("model", cfg)
        try:
            return spec.build(
                self.num_entities,
                self.out_channels,
                self.edge_index,
                self.edge_type,
                2 * self.kg.num_relations,
            )
        except (TypeError, ValueError, AssertionError) as err:
            raise ConfigError(
                f"model={cfg.name} cannot be built with these settings: {err or type(err).__name__}.",
                "check the model.* values (gnnexp list model shows them).",
            ) from err

    def train_batches(self) -> list[Batch]:
        size = int(self.spec.batch_size)
        batches: list[Batch] = []
        for heads in (False, True):
            if self.training == "1-n":
                anchor, rel = self.train_answers[heads].queries()
                answer = None
            else:
                anchor, rel, answer, _ = self.query(self.splits["train"], heads)
            order = torch.randperm(anchor.numel(), device=anchor.device)
            for chunk in order.split(size):
                batches.append(
                    Batch(heads, anchor[chunk], rel[chunk], None if answer is None else answer[chunk])
                )
        return [batches[i] for i in torch.randperm(len(batches)).tolist()]

    def training_loss(self, model: torch.nn.Module, batch: Batch) -> Tensor:
        kge: Any = model
        ent = kge.encode()
        scoring_heads = batch.heads and not self.inverse
        if batch.answer is None:  # 1-N: every entity, the known answers as targets
            scores = kge.decode(ent, batch.anchor, batch.rel, heads=scoring_heads)
            target = torch.zeros_like(scores)
            target[self.train_answers[batch.heads].lookup(batch.anchor, batch.rel)] = 1.0
            smoothing = float(self.spec.label_smoothing)
            if smoothing:
                target = target * (1.0 - smoothing) + smoothing / self.num_entities
            return F.binary_cross_entropy_with_logits(scores, target)
        negatives = torch.randint(
            self.num_entities,
            (batch.anchor.numel(), int(self.spec.num_negatives)),
            device=batch.anchor.device,
        )
        candidates = torch.cat([batch.answer.unsqueeze(1), negatives], dim=1)
        scores = kge.decode(ent, batch.anchor, batch.rel, candidates, heads=scoring_heads)
        pos, neg = scores[:, 0], scores[:, 1:]
        if self.negative_loss == "margin":
            return F.relu(float(getattr(kge, "margin", 1.0)) - pos.unsqueeze(1) + neg).mean()
        if self.negative_loss == "self_adversarial":
            weight = torch.softmax(neg * float(self.spec.adversarial_temperature), dim=1).detach()
            return (-F.logsigmoid(pos) - (weight * F.logsigmoid(-neg)).sum(1)).mean()
        labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg.flatten())])
        return F.binary_cross_entropy_with_logits(torch.cat([pos, neg.flatten()]), labels)

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        kge: Any = model
        ent = kge.encode()
        size = int(self.spec.eval_batch_size)
        results = {}
        for split in splits:
            triples = self.splits[split]
            ranks, relations, loss = [], [], 0.0
            for heads in (False, True):
                anchor, rel, answer, scoring_heads = self.query(triples, heads)
                for at in range(0, anchor.numel(), size):
                    a, r, true = anchor[at : at + size], rel[at : at + size], answer[at : at + size]
                    scores = kge.decode(ent, a, r, heads=scoring_heads)
                    ranks.append(realistic_ranks(scores, true, self.known[heads].lookup(a, r)))
                    loss += float(F.cross_entropy(scores.float(), true, reduction="sum"))
                relations.append(triples[:, 1])
            all_ranks = torch.cat(ranks)
            self.ranks[split] = (all_ranks, torch.cat(relations))
            results[split] = {"loss": loss / max(all_ranks.numel(), 1)}
            for name in self.names:
                results[split][name] = METRICS[name].compute(all_ranks, all_ranks)
        return results

    def top_answers(
        self, model: torch.nn.Module, anchor: int, rel: int, heads: bool, k: int
    ) -> list[tuple[int, float, str]]:
        """The ``k`` best-scored answers of one query: ``(entity, score, split)``, where split
        names the split holding the fact when it is a known one (else "")."""
        kge: Any = model
        triple = torch.tensor([[anchor, rel, anchor]], device=self.device)
        a, r, _, scoring_heads = self.query(triple, heads)
        scores = kge.decode(kge.encode(), a, r, heads=scoring_heads)[0]
        top = torch.topk(scores, min(k, self.num_entities))
        where: dict[int, str] = {}
        for split in ("test", "val", "train"):  # a fact in several splits is named by the first
            facts = self.splits[split]
            h, rr, t = facts.unbind(1)
            match = (rr == rel) & ((t if heads else h) == anchor)
            for entity in (h if heads else t)[match].tolist():
                where[entity] = split
        return [
            (int(e), float(v), where.get(int(e), "")) for v, e in zip(top.values, top.indices, strict=True)
        ]

    def save_details(self, out_dir: Path) -> None:
        """``per_relation.csv`` (task.per_relation): the test metrics of each relation's queries."""
        if not self.spec.per_relation or "test" not in self.ranks:
            return
        ranks, relations = self.ranks["test"]
        with atomic_file(out_dir / "per_relation.csv", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["relation", "queries", *RANK_METRICS])
            for index, name in enumerate(self.kg.relations):
                mine = ranks[relations == index]
                if mine.numel():
                    values = [f"{METRICS[m].compute(mine, mine):.4f}" for m in RANK_METRICS]
                    writer.writerow([name, mine.numel(), *values])

    def describe(self) -> dict[str, Any]:
        count = {s: int(t.size(0)) for s, t in self.splits.items()}
        training = (
            f"1-n (BCE, label smoothing {self.spec.label_smoothing:g})"
            if self.training == "1-n"
            else f"{self.spec.num_negatives} negatives per triple ({self.negative_loss})"
        )
        return {
            "entities": self.num_entities,
            "relations": f"{self.kg.num_relations}{' (+ inverses)' if self.inverse else ''}",
            "triples train/val/test": "/".join(str(count[s]) for s in ("train", "val", "test")),
            "training": training,
            "evaluation": "filtered ranks among all entities, head and tail queries, realistic ties",
            **self.notes,
        }
