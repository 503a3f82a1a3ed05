"""Typed graphs from Cora's raw files, from PyG's classes, or generated."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gnnexp.data.hetero import SPLITS, HeteroGraphData, finish
from gnnexp.data.pyg_readers import _pyg_load, planetoid
from gnnexp.errors import DataError

# ---- Cora as papers and words -----------------------------------------------------------


def load_cora_words(cfg: DictConfig, data_dir: Path) -> HeteroGraphData:
    """Planetoid's Cora as two node types: paper-cites-paper and paper-has-word (a word of
    the paper's bag of words), papers labelled, split as Planetoid's public split."""
    from torch_geometric.data import HeteroData

    planetoid_cfg = OmegaConf.create(
        {
            "name": cfg.name,
            "pyg_name": "Cora",
            "split": "public",
            "normalize_features": True,
            "target": "classification",
            "train_ratio": cfg.train_ratio,
            "val_ratio": cfg.val_ratio,
            "split_seed": cfg.split_seed,
        }
    )
    cora = planetoid(planetoid_cfg, data_dir).graphs
    graph = HeteroData()
    paper = graph["paper"]
    paper.num_nodes = cora.num_nodes
    if cfg.paper_features:
        paper.x = cora.x
    paper.y = cora.y
    for split in SPLITS:
        paper[f"{split}_mask"] = cora[f"{split}_mask"]
    graph["word"].num_nodes = int(cora.x.size(1))
    graph["paper", "cites", "paper"].edge_index = cora.edge_index
    graph["paper", "has", "word"].edge_index = cora.x.nonzero().t().contiguous()
    return finish(cfg, graph)


# ---- PyG's classes ----------------------------------------------------------------------


def load_hetero_pyg(cfg: DictConfig, data_dir: Path) -> HeteroGraphData:
    """One of PyG's heterogeneous datasets (downloaded into ``<data_dir>/<class>``)."""
    import torch_geometric.datasets as pyg_datasets

    cls = getattr(pyg_datasets, str(cfg.pyg_class))
    root = data_dir / cls.__name__
    dataset = _pyg_load(lambda: cls(str(root)), cls.__name__, root / "raw", [])
    graph = dataset[0]
    for store in graph.node_stores:  # AMiner: labels of some nodes, by index
        if store.get("y_index") is not None:
            y = torch.full((store.num_nodes,), -1, dtype=torch.long)
            y[store.y_index] = store.y
            store.y = y
            del store.y_index
    return finish(cfg, graph)


# ---- generated ----------------------------------------------------------------------------


def hetero_synthetic(cfg: DictConfig, data_dir: Path) -> HeteroGraphData:
    """Items (noise features, labelled) and tags (no features): a share ``signal`` of an item's
    tags belongs to its class, the rest are drawn from every tag; items also link at random.
    A model reading item -> tag -> item paths finds the classes; one reading features cannot."""
    from torch_geometric.data import HeteroData

    gen = torch.Generator().manual_seed(cfg.data_seed)
    n, t, c, k = cfg.num_items, cfg.num_tags, cfg.num_classes, cfg.tags_per_item
    if t < c:
        raise DataError(
            f"dataset.num_tags={t} is below dataset.num_classes={c}: some class would own no tag.",
            "use at least as many tags as classes.",
        )
    y = torch.randint(c, (n,), generator=gen)
    item = torch.arange(n).repeat_interleave(k)
    own = torch.rand(n * k, generator=gen) < cfg.signal
    random_tag = torch.randint(t, (n * k,), generator=gen)
    # Tag j belongs to class j % c: class i owns tags i, i + c, i + 2c, ...
    owned = (t - torch.arange(c) + c - 1) // c
    cls = y[item]
    class_tag = cls + c * (torch.rand(n * k, generator=gen) * owned[cls]).long()
    tag = torch.where(own, class_tag, random_tag)
    graph = HeteroData()
    graph["item"].x = torch.randn(n, cfg.num_features, generator=gen)
    graph["item"].y = y
    graph["tag"].num_nodes = t
    graph["item", "has", "tag"].edge_index = torch.stack([item, tag])
    links = torch.randint(n, (2, 2 * n), generator=gen)
    graph["item", "links", "item"].edge_index = links
    return finish(cfg, graph)
