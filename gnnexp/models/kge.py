"""Knowledge-graph models: PyG's ``kge`` classes scoring every candidate entity at once, and R-GCN.

Each model splits scoring in two, so evaluation and 1-N training score a batch of queries
against all entities with one matrix product or distance matrix (PyG's own ``forward``
scores one triple at a time):

- ``encode()``: the entity representations (a shallow model: its embedding tables; R-GCN:
  its encoder's output over the training facts);
- ``decode(ent, anchor, rel, candidates=None, heads=False)``: the scores of the queries
  ``(anchor, rel, ?)`` (``heads``: ``(?, rel, anchor)``) for every entity, ``[B, N]``, or for
  the entities ``candidates`` names, ``[B, K]``.

A decode scores exactly what PyG's ``forward(head, rel, tail)`` does (tests/test_kg.py).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import kge


def _all_then_pick(candidates: Tensor | None, ent: Tensor) -> bool:
    """Whether scoring every entity and picking the candidates is cheaper than gathering the
    candidates' embeddings: on small graphs a [B, N] product beats a [B, K, D] gather, whose
    backward scatters into the embedding table row by row."""
    return candidates is None or candidates.size(1) * ent.size(1) >= ent.size(0)


def _distance(q: Tensor, ent: Tensor, candidates: Tensor | None, p: float) -> Tensor:
    """p-norm distances from each query vector to every entity (or to its candidates)."""
    if _all_then_pick(candidates, ent):
        out = torch.cdist(q, ent, p=p)
        return out if candidates is None else out.gather(1, candidates)
    assert candidates is not None
    if p == 1:  # abs().sum() is several times faster than torch's generic p-norm kernel
        return (q.unsqueeze(1) - ent[candidates]).abs().sum(-1)
    return torch.linalg.vector_norm(q.unsqueeze(1) - ent[candidates], ord=p, dim=-1)


def _complex_query(anchor: Tensor, r_re: Tensor, r_im: Tensor, heads: bool) -> Tensor:
    """The anchors' (re | im) embeddings times the relation ``r`` (a tail query) or times its
    conjugate (a head query), as (re | im): what ComplEx's product and RotatE's distance
    compare every candidate entity with."""
    a_re, a_im = anchor.chunk(2, dim=-1)
    if heads:
        return torch.cat([r_re * a_re + r_im * a_im, r_re * a_im - r_im * a_re], dim=-1)
    return torch.cat([r_re * a_re - r_im * a_im, r_re * a_im + r_im * a_re], dim=-1)


def _dot(q: Tensor, ent: Tensor, candidates: Tensor | None) -> Tensor:
    if _all_then_pick(candidates, ent):
        out = q @ ent.t()
        return out if candidates is None else out.gather(1, candidates)
    assert candidates is not None
    return (q.unsqueeze(1) * ent[candidates]).sum(-1)


class TransE(kge.TransE):
    """TransE: ``-|| h/|h| + r - t/|t| ||_p`` (PyG normalises entities in the score)."""

    def encode(self) -> Tensor:
        return F.normalize(self.node_emb.weight, p=self.p_norm, dim=-1)

    def decode(
        self, ent: Tensor, anchor: Tensor, rel: Tensor, candidates: Tensor | None = None, heads: bool = False
    ) -> Tensor:
        r = self.rel_emb(rel)
        q = ent[anchor] - r if heads else ent[anchor] + r  # ||h + r - t|| = ||h - (t - r)||
        return -_distance(q, ent, candidates, self.p_norm)


class DistMult(kge.DistMult):
    """DistMult: ``<h, r, t>`` (symmetric in head and tail)."""

    def encode(self) -> Tensor:
        return self.node_emb.weight

    def decode(
        self, ent: Tensor, anchor: Tensor, rel: Tensor, candidates: Tensor | None = None, heads: bool = False
    ) -> Tensor:
        return _dot(ent[anchor] * self.rel_emb(rel), ent, candidates)


class ComplEx(kge.ComplEx):
    """ComplEx: ``Re(<h, r, conj(t)>)``."""

    def encode(self) -> Tensor:
        return torch.cat([self.node_emb.weight, self.node_emb_im.weight], dim=-1)

    def decode(
        self, ent: Tensor, anchor: Tensor, rel: Tensor, candidates: Tensor | None = None, heads: bool = False
    ) -> Tensor:
        return _dot(
            _complex_query(ent[anchor], self.rel_emb(rel), self.rel_emb_im(rel), heads), ent, candidates
        )


class RotatE(kge.RotatE):
    """RotatE: ``margin - || h o r - t ||`` (PyG's norm runs over real and imaginary parts together)."""

    def encode(self) -> Tensor:
        return torch.cat([self.node_emb.weight, self.node_emb_im.weight], dim=-1)

    def decode(
        self, ent: Tensor, anchor: Tensor, rel: Tensor, candidates: Tensor | None = None, heads: bool = False
    ) -> Tensor:
        theta = self.rel_emb(rel)
        # |r| = 1: ||h o r - t|| = ||h - t o conj(r)||, so a head query rotates by conj(r).
        q = _complex_query(ent[anchor], torch.cos(theta), torch.sin(theta), heads)
        return self.margin - _distance(q, ent, candidates, 2.0)


class RGCN(torch.nn.Module):
    """R-GCN encoder (``RGCNConv`` layers over the training facts, each relation and its inverse
    an edge type) under a DistMult decoder, as Schlichtkrull et al. 2018 (and PyG's
    examples/rgcn_link_pred.py) build it."""

    def __init__(
        self,
        num_entities: int,
        num_relations: int,
        hidden_channels: int,
        num_layers: int,
        num_bases: int | None,
        num_blocks: int | None,
        dropout: float,
        edge_index: Tensor,
        edge_type: Tensor,
        num_edge_types: int,
    ) -> None:
        from torch_geometric.nn import RGCNConv

        super().__init__()
        self.node_emb = torch.nn.Embedding(num_entities, hidden_channels)
        self.convs = torch.nn.ModuleList(
            RGCNConv(
                hidden_channels, hidden_channels, num_edge_types, num_bases=num_bases, num_blocks=num_blocks
            )
            for _ in range(num_layers)
        )
        self.rel_emb = torch.nn.Embedding(num_relations, hidden_channels)
        self.dropout = dropout
        # The graph is the data's, not a weight: rebuilt from the dataset, never checkpointed.
        self.register_buffer("edge_index", edge_index, persistent=False)
        self.register_buffer("edge_type", edge_type, persistent=False)
        torch.nn.init.xavier_uniform_(self.node_emb.weight)
        torch.nn.init.xavier_uniform_(self.rel_emb.weight)

    def encode(self) -> Tensor:
        x = self.node_emb.weight
        for i, conv in enumerate(self.convs):
            x = F.dropout(x, p=self.dropout, training=self.training)
            x = conv(x, self.edge_index, self.edge_type)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return x

    def decode(
        self, ent: Tensor, anchor: Tensor, rel: Tensor, candidates: Tensor | None = None, heads: bool = False
    ) -> Tensor:
        return _dot(ent[anchor] * self.rel_emb(rel), ent, candidates)

    def __repr__(self) -> str:
        conv: Any = self.convs[0]
        return (
            f"RGCN({self.node_emb.num_embeddings}, {self.rel_emb.num_embeddings}, "
            f"hidden={conv.out_channels}, layers={len(self.convs)}, edge types={conv.num_relations})"
        )
