"""Recommendation on one user-item edge type: BPR loss, every unseen item ranked per user.

Validation ranks, for each user with a validation interaction, every item the user did
not interact with in training; test ranks every item not met in training or validation
(those are known by then, and propagated over). Recall@K, NDCG@K and Hits@K average over
those users (``gnnexp.metrics``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.config.validate import metric_name
from gnnexp.data.loading import GraphData
from gnnexp.errors import ConfigError
from gnnexp.metrics import RANKING, RANKING_KS
from gnnexp.tasks.typed_edge_split import (
    SPLITS,
    chosen_edge_type,
    hetero_graph,
    reverse_edge_type,
    with_reverse,
)
from gnnexp.tasks.typed_edges import TypedEdges, TypedEncoder, typed_inputs

# Users ranked at once: a block of their scores over every item is held in memory.
USER_BLOCK = 1024


def _ranking_names(k: int, metric: str) -> list[str]:
    """The columns a run reports: Recall, NDCG and Hits at ``task.k``, and the run's metric."""
    return list(dict.fromkeys((f"recall@{k}", f"ndcg@{k}", f"hits@{k}", metric)))


def _in_block(pairs: Tensor, block: Tensor, num_users: int) -> tuple[Tensor, Tensor]:
    """(row in ``block``, item) of the user-item ``pairs`` whose user is in ``block``."""
    row = torch.full((num_users,), -1, dtype=torch.long, device=block.device)
    row[block] = torch.arange(block.numel(), device=block.device)
    mine = pairs[:, row[pairs[0]] >= 0]
    return row[mine[0]], mine[1]


def ranked(z_user: Tensor, z_item: Tensor, users: Tensor, known: Tensor) -> Iterator[tuple[Tensor, Tensor]]:
    """``(block of users, their scores over every item)``, blocks of :data:`USER_BLOCK` users,
    the items each user is known to have met (``known``: user-item pairs) scored -inf."""
    for start in range(0, users.numel(), USER_BLOCK):
        block = users[start : start + USER_BLOCK]
        scores = z_user[block] @ z_item.t()
        scores[_in_block(known, block, z_user.size(0))] = float("-inf")
        yield block, scores


def _k_of(metric: str) -> int:
    """The K of a ranking metric's name (``recall@20``: 20)."""
    return int(metric.rsplit("@", 1)[1])


class RecommendTask:
    """BPR on training interactions; evaluation ranks every unseen item for each user."""

    def __init__(self, cfg: DictConfig, data: GraphData, device: torch.device) -> None:
        t = cfg.task
        self.edges = TypedEdges(cfg, data, device, negatives=False)
        self.in_channels = self.edges.in_channels
        self.k = int(t.k)
        self.metric = metric_name(cfg)
        self.names = _ranking_names(self.k, self.metric)
        items = self.edges.num_dst
        for setting, k in ((f"task.k={self.k}", self.k), (f"task.metric={self.metric}", _k_of(self.metric))):
            if k > items:
                fitting = max(size for size in RANKING_KS if size <= items)  # 1 <= items
                raise ConfigError(
                    f"{setting} ranks a top {k} of the {items} {self.edges.edge_type[2]} nodes of "
                    f"dataset={data.name}: every item would be in every top {k}.",
                    f"use task.k={fitting} (and a metric at that K).",
                )
        self.batch_size = int(t.batch_size)
        self.lambda_reg = float(t.lambda_reg)
        # Fixed negatives for the validation and test losses, so the curves compare epochs.
        gen = torch.Generator().manual_seed(int(t.split_seed))
        self.eval_neg = {
            s: torch.randint(
                self.edges.num_dst,
                (self.edges.parts[s][self.edges.edge_type].pos_edge_label_index.size(1),),
                generator=gen,
            ).to(device)
            for s in SPLITS
        }

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        return self.edges.encoder.build(cfg)

    def train_batches(self) -> Iterable[Tensor]:
        pos = self.edges.parts["train"][self.edges.edge_type].pos_edge_label_index
        order = torch.randperm(pos.size(1), device=pos.device)
        size = self.batch_size or pos.size(1)
        return [pos[:, order[i : i + size]] for i in range(0, pos.size(1), size)]

    def _bpr(self, z_user: Tensor, z_item: Tensor, pos: Tensor, neg_items: Tensor) -> Tensor:
        """BPR loss of ``pos`` pairs against the same users with ``neg_items``, plus the L2
        penalty on the embeddings involved (averaged over the pairs, as LightGCN's)."""
        users, items = z_user[pos[0]], z_item[pos[1]]
        negatives = z_item[neg_items]
        margin = (users * items).sum(-1) - (users * negatives).sum(-1)
        penalty = (users.pow(2).sum() + items.pow(2).sum() + negatives.pow(2).sum()) / pos.size(1)
        return -F.logsigmoid(margin).mean() + self.lambda_reg * penalty

    def training_loss(self, model: torch.nn.Module, batch: Tensor) -> Tensor:
        z_user, z_item = self.edges.embed(model, "train")
        neg = torch.randint(self.edges.num_dst, (batch.size(1),), device=batch.device)
        return self._bpr(z_user, z_item, batch, neg)

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        e = self.edges
        results = {}
        for split in splits:
            z_user, z_item = e.embed(model, split)
            store = e.parts[split][e.edge_type]
            held = store.pos_edge_label_index
            out = {"loss": self._bpr(z_user, z_item, held, self.eval_neg[split]).item()}
            out.update(rank_scores(z_user, z_item, held, store.edge_index, self.names))
            results[split] = out
        return results

    def describe(self) -> dict[str, Any]:
        return {
            **self.edges.sizes(),
            "ranked": f"every unseen {self.edges.edge_type[2]} per user, K={self.k}",
        }


def rank_scores(
    z_user: Tensor, z_item: Tensor, held: Tensor, known: Tensor, names: list[str]
) -> dict[str, float]:
    """Each metric of ``names`` (``recall@K``, ``ndcg@K``, ``hits@K``) over the users with a
    held-out pair in ``held``, ranking every item not in ``known``."""
    users = torch.unique(held[0])
    totals = dict.fromkeys(names, 0.0)
    for block, scores in ranked(z_user, z_item, users, known):
        relevant = torch.zeros_like(scores, dtype=torch.bool)
        relevant[_in_block(held, block, z_user.size(0))] = True
        for name in names:
            kind, k = name.split("@")
            totals[name] += RANKING[kind](scores, relevant, int(k)) * block.numel()
    count = max(users.numel(), 1)
    return {name: total / count if users.numel() else float("nan") for name, total in totals.items()}


def predict_top_k(
    cfg: DictConfig, data: GraphData, load: Callable[[torch.nn.Module], None]
) -> tuple[list[str], list[list[Any]]]:
    """``gnnexp predict`` of an edge-type task: for every source node (user), its ``task.k`` best
    targets (items) it has no edge to yet, messages passed over every edge of the data.
    ``load`` puts the trained weights into the model built here."""

    graph = hetero_graph(data, str(cfg.task.kind))
    edge_type = chosen_edge_type(graph, cfg.task.edge_type, data.name)
    rev = reverse_edge_type(graph, edge_type, cfg.task.rev_edge_type, data.name)
    graph = with_reverse(graph, edge_type, rev)
    model = TypedEncoder(cfg, graph, edge_type, rev, data.name).build(cfg.model)
    load(model)
    model.eval()
    src, _, dst = edge_type
    num_dst = graph[dst].num_nodes
    k = min(int(cfg.task.k), num_dst)
    known = graph[edge_type].edge_index
    if src == dst:  # a relation within one type: a node is no candidate of its own
        loops = torch.arange(graph[src].num_nodes)
        known = torch.cat([known, torch.stack([loops, loops])], dim=1)
    with torch.inference_mode():
        z = model(*typed_inputs(graph))
        users = torch.arange(graph[src].num_nodes)
        rows: list[list[Any]] = []
        link = cfg.task.kind != "recommend"
        # A folder's own ids where the data has them (dataset=hetero_files), else positions.
        ids = getattr(data, "node_ids", None) or {}
        src_ids, dst_ids = ids.get(src), ids.get(dst)
        for block, scores in ranked(z[src], z[dst], users, known):
            top = scores.topk(k, dim=1)
            unseen = top.values.isfinite().tolist()  # a user who met all but a few items gets fewer
            values = (top.values.sigmoid() if link else top.values).tolist()
            for user, items, vals, keep in zip(
                block.tolist(), top.indices.tolist(), values, unseen, strict=True
            ):
                rows += [
                    [src_ids[user] if src_ids else user, rank + 1, dst_ids[item] if dst_ids else item, val]
                    for rank, (item, val, kept) in enumerate(zip(items, vals, keep, strict=True))
                    if kept
                ]
    target = dst if dst != src else f"target_{dst}"
    return [src, "rank", target, "prob_edge" if link else "score"], rows
