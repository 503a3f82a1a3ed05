"""What a dataset source returns (``GraphData``), and ``load_dataset``, which calls the source
declared in ``gnnexp.data.datasets``.

Loaded datasets are cached per process, so consecutive jobs of a multirun reuse them
instead of re-reading files. The sources' readers live in ``gnnexp.data.pyg_readers`` and
``gnnexp.data.synthetic_readers``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gnnexp.config.components import declared
from gnnexp.data.splits import random_node_masks
from gnnexp.errors import ConfigError, did_you_mean


@dataclass
class GraphData:
    """What a source returns: one graph (node-level labels) or many graphs (graph-level)."""

    name: str
    level: str
    graphs: Any  # torch_geometric Data for level=node; a sequence of Data for level=graph
    num_features: int
    num_classes: int  # output width: classes, or target dimensions for regression
    num_edge_features: int = 0  # width of edge_attr (0: the edges carry no features)
    # Graphs that must stay in one split together (molecules of one scaffold); None: any split.
    groups: list[str] | None = None
    ids: list[str] | None = None  # what names each graph in a prediction file (a molecule's SMILES)
    split: dict[str, Any] | None = None  # a fixed split (train/val/test indices): OGB's official one
    # The run's metric as the dataset's own evaluator computes it: (metric name, function).
    scorer: tuple[str, Callable[[Any, Any], float]] | None = None
    notes: dict[str, str] = field(default_factory=dict)  # what loading did, for the intro panel
    pe_dim: int = 0  # the last columns of the node features that are positional encodings
    # Random transforms: graph indices -> those graphs, transformed anew at each read (training).
    redraw: Callable[[list[int]], Any] | None = None


_CACHE: dict[str, GraphData] = {}


def load_dataset(cfg: DictConfig, data_dir: Path, transforms: Any = None) -> GraphData:
    """Load (or reuse from this process's cache) the dataset that ``cfg`` describes, with
    ``transforms`` (the ``transform`` config node) applied."""
    sources = declared("dataset")
    source = "pyg" if cfg.get("_target_") else cfg.source
    if source not in sources:
        names = sorted(sources)
        raise ConfigError(
            f"dataset.source={source} is unknown ({', '.join(names)}).{did_you_mean(source, names)}",
            "set dataset.source to one of them, or dataset._target_ to a PyG dataset class.",
        )
    identity = f"{OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)}|{_files_fingerprint(cfg)}"
    key = f"{data_dir}|{identity}"
    if key not in _CACHE:
        _CACHE[key] = sources[source]().load(cfg, data_dir)
    if transforms:  # its own entry: a changed transform reuses the loaded data, never a stale result
        from gnnexp.data.transform_cache import cached_transforms

        loaded, key = _CACHE[key], f"{key}|{OmegaConf.to_yaml(transforms, resolve=True)}"
        if key not in _CACHE:  # and kept on disk for the next process, by the same settings
            if not _plain(loaded):
                raise ConfigError(
                    f"transform=[...] applies to graphs of one node and edge type; dataset={cfg.name} "
                    "is a typed graph or a knowledge graph.",
                    "drop the transform override (transform=[]).",
                )
            _CACHE[key] = cached_transforms(loaded, transforms, data_dir, identity)
    # Callers may replace attributes; a shallow copy keeps the cached object as it was.
    return copy.copy(_CACHE[key])


def _plain(data: GraphData) -> bool:
    """Graphs of one node and edge type (``Data``): what ``transform=[...]`` can change."""
    from torch_geometric.data import Data

    if data.level not in ("node", "graph"):  # typed graphs, knowledge graphs
        return False
    first = data.graphs if data.level == "node" else (data.graphs[0] if len(data.graphs) else None)
    return first is None or type(first) is Data


def _files_fingerprint(cfg: DictConfig) -> str:
    """Size and modification time of every file the config names, and of the files in a
    folder it names (a folder of tables): an edited file is re-read."""
    stamps = []
    for value in OmegaConf.to_container(cfg, resolve=True).values():  # type: ignore[union-attr]
        if not isinstance(value, str) or not value:
            continue
        path = Path(value).expanduser().resolve()  # the same name elsewhere is another file
        files = [path] if path.is_file() else sorted(_files_in(path)) if path.is_dir() else []
        for file in files:
            stat = file.stat()
            stamps.append(f"{file}:{stat.st_size}:{stat.st_mtime_ns}")
    return ",".join(stamps)


def _files_in(folder: Path, at_most: int = 10_000) -> list[Path]:
    """The files under ``folder`` (the first ``at_most``: a config never names a huge tree)."""
    found: list[Path] = []
    for file in folder.rglob("*"):
        if file.is_file():
            found.append(file)
            if len(found) >= at_most:
                break
    return found


def clear_cache() -> None:
    """Forget every loaded dataset (tests use this to measure loading)."""
    _CACHE.clear()


# Beyond this a value's square overflows float32 (sqrt of 3.4e38 is 1.8e19): a squared
# error, or a layer's sum over such features, becomes inf whatever the learning rate.
_OVERFLOWS = 1e18


def unusable_values(data: GraphData) -> str | None:
    """What in ``data`` makes any loss non-finite (infinite targets, NaN or huge features), or
    None. NaN targets are missing labels, which the losses mask out."""
    graphs = data.graphs if data.level == "graph" else [data.graphs]
    for field_name, what in (("y", "targets"), ("x", "features")):
        found: tuple[str, float] | None = None
        for graph in graphs:
            values = getattr(graph, field_name, None)
            if not isinstance(values, torch.Tensor) or not values.is_floating_point():
                continue
            bad = torch.isinf(values) if field_name == "y" else ~torch.isfinite(values)
            if bool(bad.any()):
                return f"dataset={data.name} holds {what} that are not finite ({values[bad][0].item()})"
            known = values[~torch.isnan(values)]
            if known.numel() and float(known.abs().max()) > _OVERFLOWS:
                peak = float(known.abs().max())
                found = (what, max(peak, found[1]) if found else peak)
        if found:
            return (
                f"dataset={data.name} holds {found[0]} as large as {found[1]:.3g}, whose squares "
                "overflow 32-bit floats"
            )
    return None


def _output_width(y: torch.Tensor, regression: bool) -> int:
    if regression:
        return 1 if y.dim() == 1 else int(y.size(-1))
    return int(y.max()) + 1


def node_level(cfg: DictConfig, graph: Any, num_features: int) -> GraphData:
    """Wrap one graph, adding seeded random masks when it brings none."""
    regression = cfg.target == "regression"
    if regression:
        graph.y = graph.y.float()
    if any(getattr(graph, f"{s}_mask", None) is None for s in ("train", "val", "test")):
        graph.train_mask, graph.val_mask, graph.test_mask = random_node_masks(
            graph.num_nodes, cfg.train_ratio, cfg.val_ratio, cfg.split_seed
        )
    for split in ("train", "val", "test"):  # several predefined splits: use the first
        mask = graph[f"{split}_mask"]
        if mask is not None and mask.dim() == 2:
            graph[f"{split}_mask"] = mask[:, 0]
    return GraphData(
        cfg.name, "node", graph, num_features, _output_width(graph.y, regression), _edge_width(graph)
    )


def _graph_level(cfg: DictConfig, graphs: Any) -> GraphData:
    regression = cfg.target == "regression"
    labels = torch.cat([g.y.view(1, -1) if regression else g.y.view(-1) for g in graphs])
    num_features = int(graphs[0].num_node_features)
    return GraphData(
        cfg.name, "graph", graphs, num_features, _output_width(labels, regression), _edge_width(graphs[0])
    )


def _edge_width(graph: Any) -> int:
    edge_attr = getattr(graph, "edge_attr", None)
    return 0 if edge_attr is None else (1 if edge_attr.dim() == 1 else int(edge_attr.size(-1)))
