"""Filtered, realistic ranking of true entities among all entities, batched over queries.

A query is ``(anchor, relation)`` asking for the tails of ``(anchor, relation, ?)`` (or, in
head direction, the heads of ``(?, relation, anchor)``). Its answers are kept as a CSR index
keyed by ``relation * N + anchor``: one ``searchsorted`` finds a whole batch's answers, which
serve as the 1-N training targets and as the filter of evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Answers:
    """The known answers of every query, sorted by key: ``values[ptr[i]:ptr[i+1]]`` answer ``keys[i]``."""

    keys: Tensor
    ptr: Tensor
    values: Tensor
    num_entities: int

    @classmethod
    def build(cls, anchor: Tensor, rel: Tensor, answer: Tensor, num_entities: int) -> Answers:
        key = rel * num_entities + anchor
        order = torch.argsort(key * num_entities + answer)
        key, answer = key[order], answer[order]
        keys, counts = torch.unique_consecutive(key, return_counts=True)
        ptr = torch.zeros(keys.numel() + 1, dtype=torch.long, device=key.device)
        ptr[1:] = counts.cumsum(0)
        return cls(keys, ptr, answer, num_entities)

    def to(self, device: torch.device) -> Answers:
        return Answers(self.keys.to(device), self.ptr.to(device), self.values.to(device), self.num_entities)

    def queries(self) -> tuple[Tensor, Tensor]:
        """``(anchor, relation)`` of every query that has answers."""
        return self.keys % self.num_entities, self.keys // self.num_entities

    def lookup(self, anchor: Tensor, rel: Tensor) -> tuple[Tensor, Tensor]:
        """``(row, entity)`` pairs: entity answers the query of that row of the batch."""
        key = rel * self.num_entities + anchor
        at = torch.searchsorted(self.keys, key).clamp(max=max(self.keys.numel() - 1, 0))
        found = self.keys[at] == key
        start = self.ptr[at]
        counts = torch.where(found, self.ptr[at + 1] - start, torch.zeros_like(start))
        rows = torch.repeat_interleave(torch.arange(key.numel(), device=key.device), counts)
        offsets = torch.arange(rows.numel(), device=key.device) - torch.repeat_interleave(
            counts.cumsum(0) - counts, counts
        )
        return rows, self.values[torch.repeat_interleave(start, counts) + offsets]


def realistic_ranks(scores: Tensor, true: Tensor, filtered: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """The rank of each row's true entity (``true[i]``) among all columns of ``scores``.

    ``filtered``: ``(row, entity)`` pairs of other known answers, left out of the ranking
    (the true entity itself is never left out). Ties count realistically: the mean of the
    optimistic and the pessimistic rank, so a constant scorer ranks every entity (n + 1) / 2.
    A NaN score counts as the lowest.
    """
    scores = torch.nan_to_num(scores.float(), nan=-torch.inf)
    rows = torch.arange(scores.size(0), device=scores.device)
    target = scores[rows, true].clone()
    candidate = torch.ones_like(scores, dtype=torch.bool)
    if filtered is not None:
        candidate[filtered] = False
        candidate[rows, true] = True
    higher = ((scores > target.unsqueeze(1)) & candidate).sum(1)
    at_least = ((scores >= target.unsqueeze(1)) & candidate).sum(1)  # counts the true entity
    return (higher + at_least + 1).double() / 2.0
