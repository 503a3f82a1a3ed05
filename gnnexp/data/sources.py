"""Dataset sources: ``dataset.source`` names a loader here.

A new kind of dataset is one function decorated with :func:`register_source` plus one YAML
file whose ``source`` names it. Loaded datasets are cached per process, so consecutive jobs
of a multirun reuse them instead of re-reading files.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gnnexp.errors import ConfigError, DataError, did_you_mean


@dataclass
class GraphData:
    """What a source returns: one graph (node-level labels) or many graphs (graph-level)."""

    name: str
    level: str
    graphs: Any  # torch_geometric Data for level=node; a Dataset of Data for level=graph
    num_features: int
    num_classes: int


Source = Callable[[DictConfig, Path], GraphData]
SOURCES: dict[str, Source] = {}
_CACHE: dict[str, GraphData] = {}


def register_source(name: str) -> Callable[[Source], Source]:
    """Register a dataset loader under ``name`` (the value of ``dataset.source``)."""

    def add(fn: Source) -> Source:
        SOURCES[name] = fn
        return fn

    return add


def load_dataset(cfg: DictConfig, data_dir: Path) -> GraphData:
    """Load (or reuse from this process's cache) the dataset that ``cfg`` describes."""
    if cfg.source not in SOURCES:
        names = sorted(SOURCES)
        raise ConfigError(
            f"dataset.source={cfg.source} is unknown ({', '.join(names)}).{did_you_mean(cfg.source, names)}",
            "set dataset.source to one of them.",
        )
    key = f"{data_dir}|{OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)}"
    if key not in _CACHE:
        _CACHE[key] = SOURCES[cfg.source](cfg, data_dir)
    # Callers may attach attributes; a shallow copy keeps the cached object pristine.
    return copy.copy(_CACHE[key])


def _missing_raw_files(raw_dir: Path, names: list[str]) -> list[str]:
    return [n for n in names if not (raw_dir / n).is_file()]


@register_source("planetoid")
def planetoid(cfg: DictConfig, data_dir: Path) -> GraphData:
    """Cora, CiteSeer, PubMed from ``<data_dir>/Planetoid/<Name>/raw`` (downloaded if absent)."""
    import torch_geometric.transforms as T
    from torch_geometric.datasets import Planetoid

    root = data_dir / "Planetoid"
    raw_dir = root / cfg.pyg_name / "raw"
    prefix = f"ind.{cfg.pyg_name.lower()}."
    expected = [prefix + s for s in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")]
    had_raw = not _missing_raw_files(raw_dir, expected)
    transform = T.NormalizeFeatures() if cfg.normalize_features else None
    try:
        dataset = Planetoid(str(root), cfg.pyg_name, split=cfg.split, transform=transform)
    except Exception as err:  # download errors differ by PyG version: aiohttp, urllib, OSError
        missing = _missing_raw_files(raw_dir, expected)
        if missing:
            raise DataError(
                f"{cfg.pyg_name} raw files are missing from {raw_dir} ({', '.join(missing[:3])}"
                f"{'...' if len(missing) > 3 else ''}) and downloading them failed "
                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}).",
                f"copy the Planetoid raw files into {raw_dir}, or set GNNEXP_DATA_DIR to a "
                f"directory that holds Planetoid/{cfg.pyg_name}/raw/.",
            ) from err
        raise DataError(
            f"Could not read the {cfg.pyg_name} files in {raw_dir} "
            f"({type(err).__name__}: {err}){'' if had_raw else ' after downloading them'}.",
            f"they may be corrupt: delete {root / cfg.pyg_name} and restore the raw files.",
        ) from err
    return GraphData(
        name=cfg.name,
        level="node",
        graphs=dataset[0],
        num_features=dataset.num_features,
        num_classes=dataset.num_classes,
    )


@register_source("synthetic")
def synthetic(cfg: DictConfig, data_dir: Path) -> GraphData:
    """A planted-partition graph generated from ``cfg.data_seed``; ``data_dir`` is unused."""
    from gnnexp.data.synthetic import planted_partition

    if cfg.train_ratio + cfg.val_ratio >= 1:
        raise ConfigError(
            f"dataset.train_ratio + dataset.val_ratio = {cfg.train_ratio + cfg.val_ratio:g} "
            "leaves no test nodes.",
            "make them sum to less than 1, e.g. dataset.train_ratio=0.6 dataset.val_ratio=0.2.",
        )
    data = planted_partition(
        num_nodes=cfg.num_nodes,
        num_classes=cfg.num_classes,
        num_features=cfg.num_features,
        avg_degree=cfg.avg_degree,
        homophily=cfg.homophily,
        feature_signal=cfg.feature_signal,
        train_ratio=cfg.train_ratio,
        val_ratio=cfg.val_ratio,
        seed=cfg.data_seed,
    )
    return GraphData(
        name=cfg.name,
        level="node",
        graphs=data,
        num_features=cfg.num_features,
        num_classes=cfg.num_classes,
    )
