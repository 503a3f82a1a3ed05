"""Filtered, realistic ranking of knowledge-graph completion, on hand-built score matrices and
against a brute-force reference (both query directions, with and without inverse relations)."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from gnnexp.data.kg_loading import KnowledgeGraph
from gnnexp.data.loading import GraphData
from gnnexp.metrics import METRICS
from gnnexp.tasks.kg import KGTask
from gnnexp.tasks.kg_ranking import Answers, realistic_ranks


def test_a_constant_scorer_ranks_every_true_entity_in_the_middle():
    scores = torch.zeros(3, 10)
    ranks = realistic_ranks(scores, torch.tensor([0, 5, 9]))
    assert ranks.tolist() == [5.5, 5.5, 5.5]
    # Two other known answers of row 0 leave the ranking: 8 candidates, middle rank 4.5.
    filtered = (torch.tensor([0, 0]), torch.tensor([3, 7]))
    assert realistic_ranks(scores, torch.tensor([0, 5, 9]), filtered).tolist() == [4.5, 5.5, 5.5]


def test_higher_scores_filtering_and_ties():
    scores = torch.tensor([[0.9, 0.5, 0.7, 0.1], [0.5, 0.5, 0.5, 0.1], [0.2, 0.3, 0.1, 0.0]])
    true = torch.tensor([1, 1, 1])
    assert realistic_ranks(scores, true).tolist() == [3.0, 2.0, 1.0]
    # Entity 0 is another known answer of row 0; row 1 names its true entity as known too,
    # which never filters the true entity itself.
    filtered = (torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2]))
    assert realistic_ranks(scores, true, filtered).tolist() == [2.0, 1.5, 1.0]


def test_a_nan_score_counts_as_the_lowest():
    scores = torch.tensor([[float("nan"), 0.2, 0.3], [0.1, float("nan"), 0.3]])
    assert realistic_ranks(scores, torch.tensor([0, 2])).tolist() == [3.0, 1.0]


def test_answers_find_every_known_answer_of_a_batch():
    anchor, rel, answer = torch.tensor([0, 0, 1, 0]), torch.tensor([0, 0, 0, 1]), torch.tensor([2, 3, 0, 1])
    answers = Answers.build(anchor, rel, answer, num_entities=4)
    rows, cols = answers.lookup(torch.tensor([0, 2, 1, 0]), torch.tensor([0, 0, 0, 1]))
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 2), (0, 3), (2, 0), (3, 1)]
    assert answers.queries()[0].tolist() == [0, 1, 0] and answers.queries()[1].tolist() == [0, 0, 1]


class TableScorer(torch.nn.Module):
    """Fixed scores per (anchor, relation, direction), rounded so that ties happen."""

    def __init__(self, num_entities: int, num_relations: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.table = (
            torch.rand(2, num_entities, num_relations, num_entities, generator=generator).mul(4).round()
        )

    def encode(self) -> None:
        return None

    def decode(self, ent, anchor, rel, candidates=None, heads=False):
        return self.table[int(heads), anchor, rel]


def _reference_mrr(kg: KnowledgeGraph, split: torch.Tensor, score) -> float:
    """Filtered realistic MRR, one query at a time, in plain Python."""
    known = {tuple(t) for part in (kg.train, kg.val, kg.test) for t in part.tolist()}
    reciprocal = []
    for h, r, t in split.tolist():
        for heads in (False, True):
            true = h if heads else t
            s = [score(h, r, t, e, heads) for e in range(kg.num_entities)]
            others = [
                e
                for e in range(kg.num_entities)
                if e != true and ((e, r, t) if heads else (h, r, e)) not in known
            ]
            rank = 1 + sum(s[e] > s[true] for e in others) + 0.5 * sum(s[e] == s[true] for e in others)
            reciprocal.append(1 / rank)
    return sum(reciprocal) / len(reciprocal)


@pytest.mark.parametrize("inverse", [True, False])
def test_task_ranks_match_a_brute_force_reference_in_both_directions(inverse):
    generator = torch.Generator().manual_seed(1)
    n, r = 12, 3
    triples = torch.unique(torch.randint(0, n, (60, 3), generator=generator) % torch.tensor([n, r, n]), dim=0)
    triples = triples[torch.randperm(triples.size(0), generator=generator)]
    kg = KnowledgeGraph(
        [f"e{i}" for i in range(n)], [f"r{i}" for i in range(r)], triples[:30], triples[30:40], triples[40:]
    )
    cfg = OmegaConf.create(
        {
            "task": {"kind": "kg", "metric": None, "inverse_relations": inverse, "eval_batch_size": 7},
            "model": {"name": "distmult"},
            "dataset": {"metric": "mrr"},
        }
    )
    task = KGTask(cfg, GraphData("toy", "kg", kg, n, r), torch.device("cpu"))
    scorer = TableScorer(n, 2 * r)

    def score(h, rel, t, e, heads):
        if not heads:
            return float(scorer.table[0, h, rel, e])
        # Head queries: (t, r^-1, ?) with inverse relations, else scored in head direction.
        return float(scorer.table[0, t, rel + r, e] if inverse else scorer.table[1, t, rel, e])

    result = task.evaluate(scorer, ("val", "test"))
    for split in ("val", "test"):
        assert result[split]["mrr"] == pytest.approx(_reference_mrr(kg, kg.split(split), score))
        ranks = task.ranks[split][0]
        assert ranks.numel() == 2 * kg.split(split).size(0)
        assert result[split]["hits@1"] == pytest.approx(float((ranks <= 1).double().mean()))
        assert result[split]["mean_rank"] == pytest.approx(float(ranks.mean()))


def test_metrics_of_ranks():
    ranks = torch.tensor([1.0, 2.0, 4.0, 11.5])
    assert METRICS["mrr"].compute(ranks, ranks) == pytest.approx((1 + 0.5 + 0.25 + 1 / 11.5) / 4)
    assert METRICS["hits@1"].compute(ranks, ranks) == 0.25
    assert METRICS["hits@3"].compute(ranks, ranks) == 0.5
    assert METRICS["hits@10"].compute(ranks, ranks) == 0.75
    assert METRICS["mean_rank"].compute(ranks, ranks) == pytest.approx(18.5 / 4)
    assert METRICS["mean_rank"].mode == "min" and METRICS["mrr"].mode == "max"
    assert math.isnan(METRICS["mrr"].compute(torch.tensor([]), torch.tensor([])))
