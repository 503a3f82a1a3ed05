"""Link prediction: RandomLinkSplit, fresh negatives every epoch, ranking metrics."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import RandomLinkSplit
from torch_geometric.utils import negative_sampling, to_undirected

from gnnexp.config.components import instance
from gnnexp.config.validate import metric_name
from gnnexp.data.loading import GraphData
from gnnexp.errors import DataError
from gnnexp.metrics import METRICS, hits_at_k
from gnnexp.models.build import model_spec
from gnnexp.models.fast import fast_forward
from gnnexp.tasks.base import describe_edges
from gnnexp.util.seeding import seeded

if TYPE_CHECKING:
    from gnnexp.models.heads import LinkModel


def split_edges(graph: Data, val_ratio: float, test_ratio: float, seed: int) -> tuple[Data, Data, Data]:
    """Train/val/test graphs whose message-passing edges exclude the edges they predict.

    Training passes messages over training edges only; validation over training edges;
    test over training and validation edges. Val/test carry fixed negative pairs.
    """
    plain = Data(x=graph.x, edge_index=graph.edge_index, num_nodes=graph.num_nodes)
    transform = RandomLinkSplit(
        num_val=val_ratio,
        num_test=test_ratio,
        is_undirected=plain.is_undirected(),
        add_negative_train_samples=False,
        split_labels=True,
    )
    with seeded(seed):  # the split depends on split_seed only (PyG draws from torch and random)
        return transform(plain)


def fixed_split(graph: Data, pairs: dict[str, Any]) -> tuple[Data, Data, Data]:
    """The train/val/test graphs of a dataset's own split (OGB's): ``graph`` passes messages
    over training edges; test also over the validation edges where the dataset's rules allow
    (``pairs["validation_edges_at_test"]``). ``pairs``: ``{split: (positive pairs, negative
    pairs or None)}``."""
    train_pos = pairs["train"][0]
    val_pos, val_neg = pairs["val"]
    test_pos, test_neg = pairs["test"]
    seen = graph.edge_index
    if pairs.get("validation_edges_at_test"):
        seen = torch.cat([seen, to_undirected(val_pos, num_nodes=graph.num_nodes)], dim=1)

    def part(edge_index: Tensor, pos: Tensor, neg: Tensor | None) -> Data:
        d = Data(x=graph.x, edge_index=edge_index, num_nodes=graph.num_nodes, pos_edge_label_index=pos)
        if neg is not None:
            d.neg_edge_label_index = neg
        return d

    return (
        part(graph.edge_index, train_pos, None),
        part(graph.edge_index, val_pos, val_neg),
        part(seen, test_pos, test_neg),
    )


class LinkTask:
    """Binary cross-entropy on training edges against negatives drawn afresh each epoch."""

    def __init__(self, cfg: DictConfig, data: GraphData, device: torch.device, fast: bool = True) -> None:
        t = cfg.task
        self.spec = instance("task", t)
        self.edges = describe_edges(cfg.model, data, None, "link prediction does not use them yet")
        too_few = DataError(
            f"dataset={data.name} has too few edges ({data.graphs.num_edges}) to hold out any "
            "for link prediction's train/val/test splits.",
            "use a graph with more edges, or larger task.val_ratio / task.test_ratio.",
        )
        try:
            if data.split is not None:
                train, val, test = fixed_split(data.graphs, data.split)
            else:
                train, val, test = split_edges(data.graphs, t.val_ratio, t.test_ratio, t.split_seed)
        except ValueError as err:  # RandomLinkSplit: "Insufficient number of edges for training"
            raise too_few from err
        if min(part.pos_edge_label_index.size(1) for part in (train, val, test)) == 0:
            raise too_few
        self.data = {"train": train.to(device), "val": val.to(device), "test": test.to(device)}
        self.metric = metric_name(cfg)
        self.neg_ratio = t.neg_ratio
        # Every metric of pairs: ROC-AUC, AP, Hits@K of task.hits_k and of the run's metric.
        self.names = list(dict.fromkeys(("roc_auc", "ap", f"hits@{t.hits_k}", self.metric)))
        self.scorer = data.scorer
        self.notes = dict(data.notes)
        self.decoder = t.decoder
        self.in_channels = data.num_features
        self.num_nodes = data.graphs.num_nodes
        # Message-passing inputs per split, in the layout the model is built for (the same
        # for every split: it depends on the model and the features).
        spec = model_spec(cfg.model)
        forwards = {name: fast_forward(spec, d, enabled=fast) for name, d in self.data.items()}
        self.layout = forwards["train"].layout
        self.inputs = {name: f.inputs for name, f in forwards.items()}

    def build_model(self, cfg: DictConfig) -> torch.nn.Module:
        return self.spec.model(cfg, self.in_channels, 1, self.layout)

    def train_batches(self) -> Iterable[Data]:
        return (self.data["train"],)

    def training_loss(self, model: torch.nn.Module, batch: Data) -> Tensor:
        link = cast("LinkModel", model)
        z = link.encode(*self.inputs["train"])
        pos = batch.pos_edge_label_index
        neg = negative_sampling(
            batch.edge_index,
            num_nodes=self.num_nodes,
            num_neg_samples=max(1, int(pos.size(1) * self.neg_ratio)),
        )
        logits = link.decode(z, torch.cat([pos, neg], dim=1))
        labels = torch.cat([torch.ones(pos.size(1)), torch.zeros(neg.size(1))]).to(logits.device)
        return F.binary_cross_entropy_with_logits(logits, labels)

    def evaluate(self, model: torch.nn.Module, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
        results = {}
        link = cast("LinkModel", model)
        for split in splits:
            d = self.data[split]
            z = link.encode(*self.inputs[split])
            pos, neg = link.decode(z, d.pos_edge_label_index), link.decode(z, d.neg_edge_label_index)
            scores = torch.cat([pos, neg])
            labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
            results[split] = {"loss": F.binary_cross_entropy_with_logits(scores, labels).item()}
            for name in self.names:
                results[split][name] = (
                    hits_at_k(pos, neg, int(name[5:]))
                    if name.startswith("hits@")
                    else METRICS[name].compute(scores, labels)
                )
            if self.scorer is not None and self.scorer[0] in results[split]:
                results[split][self.scorer[0]] = self.scorer[1](pos, neg)  # the dataset's own evaluator
        return results

    def describe(self) -> dict[str, Any]:
        count = {s: d.pos_edge_label_index.size(1) for s, d in self.data.items()}
        return {
            "nodes": self.num_nodes,
            "features": self.in_channels,
            "message-passing edges": self.data["train"].edge_index.size(1),
            "positive pairs train/val/test": "/".join(str(count[s]) for s in ("train", "val", "test")),
            "decoder": self.decoder,
            **self.edges,
            **self.notes,
        }
