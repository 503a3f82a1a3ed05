"""The loading code behind the dataset sources declared in ``gnnexp.data.datasets``.

Loaded datasets are cached per process, so consecutive jobs of a multirun reuse them
instead of re-reading files. (Over 250 lines on purpose: every PyG-backed source shares the
one error translation in ``_pyg_load``, which should not be read in pieces.)
"""

from __future__ import annotations

import copy
import inspect
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gnnexp.config.components import declared
from gnnexp.data.splits import random_node_masks
from gnnexp.errors import ConfigError, DataError, did_you_mean
from gnnexp.util.memory import check_fits


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
            _CACHE[key] = cached_transforms(loaded, transforms, data_dir, identity)
    # Callers may replace attributes; a shallow copy keeps the cached object as it was.
    return copy.copy(_CACHE[key])


def _files_fingerprint(cfg: DictConfig) -> str:
    """Size and modification time of every file the config names: an edited file is re-read."""
    stamps = []
    for value in OmegaConf.to_container(cfg, resolve=True).values():  # type: ignore[union-attr]
        if isinstance(value, str) and value and Path(value).expanduser().is_file():
            stat = Path(value).expanduser().stat()
            stamps.append(f"{value}:{stat.st_size}:{stat.st_mtime_ns}")
    return ",".join(stamps)


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


def _pyg_load(
    make: Callable[[], Any],
    what: str,
    raw_dir: Path | None,
    expected: list[str],
    processed: list[Path] | None = None,
) -> Any:
    """Build a PyG dataset, turning download and parsing failures into clear DataErrors.

    ``raw_dir`` is where the raw files belong (None for generated datasets); ``expected``
    names the files that must be there, when known. ``processed``: where PyG keeps its
    processed files (default: beside ``raw_dir``), loaded only once verified
    (``gnnexp.data.processed``).
    """
    from gnnexp.data.processed import verified

    if processed is None:
        processed = [] if raw_dir is None else [raw_dir.parent / "processed"]
    had_raw = raw_dir is not None and bool(expected) and all((raw_dir / n).is_file() for n in expected)
    try:
        with verified(processed):
            return make()
    except DataError:
        raise
    except pickle.UnpicklingError as err:
        if "add_safe_globals" not in str(err):  # damaged rather than naming code: below
            raise _load_error(err, what, raw_dir, expected, had_raw) from err
        # A file naming code, refused by the weights-only load (gnnexp.data.processed).
        where = " or ".join(map(str, processed)) if processed else "the data directory"
        raise DataError(
            f"Could not load the {what} dataset: a processed file under {where} is not plain data "
            "(unpickling it would run code); gnnexp did not load it.",
            f"delete {where} (PyG rebuilds it from the raw files).",
        ) from err
    except Exception as err:  # download errors differ by PyG version: aiohttp, urllib, OSError
        raise _load_error(err, what, raw_dir, expected, had_raw) from err


def _load_error(
    err: Exception, what: str, raw_dir: Path | None, expected: list[str], had_raw: bool
) -> DataError:
    """The one line that says why building a PyG dataset failed."""
    reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    denied = _denied(err)
    if denied is not None:
        where = raw_dir.parent if raw_dir is not None else "the data directory"
        return DataError(
            f"PyG cannot write its processed files under {where}: {denied}.",
            f"make {where} writable, or copy the data to a writable place and point GNNEXP_DATA_DIR there.",
        )
    if raw_dir is None:
        return DataError(f"Could not build the {what} dataset ({reason}).", "check dataset.kwargs.")
    missing = [n for n in expected if not (raw_dir / n).is_file()]
    if missing or (not expected and not any(raw_dir.glob("*"))):
        shown = ", ".join(missing[:3]) + ("..." if len(missing) > 3 else "")
        return DataError(
            f"{what} raw files are missing from {raw_dir}{f' ({shown})' if shown else ''} "
            f"and downloading them failed ({reason}).",
            f"copy the raw files into {raw_dir}, or set GNNEXP_DATA_DIR to a directory "
            f"that holds {raw_dir.parent.parent.name}/{raw_dir.parent.name}/raw/.",
        )
    from gnnexp.data.processed import MANIFEST

    processed_dir = raw_dir.parent / "processed"
    cached = processed_dir.is_dir() and any(
        not p.name.startswith("pre_") and p.name != MANIFEST for p in processed_dir.iterdir()
    )
    if had_raw and cached:  # the raw files are there and were processed once: the cache is the suspect
        return DataError(
            f"Could not load the {what} dataset from {raw_dir.parent} ({reason}); PyG's processed cache "
            f"{processed_dir} may be stale or damaged.",
            f"delete {processed_dir} (PyG rebuilds it from the raw files); if that fails, restore the raw files.",
        )
    return DataError(
        f"Could not read the {what} files in {raw_dir} ({reason}){'' if had_raw else ' after downloading them'}.",
        f"they may be corrupt: delete {raw_dir.parent} and restore the raw files.",
    )


def _denied(err: BaseException) -> str | None:
    """'permission denied' or 'read-only file system' when that is why loading failed."""
    import errno

    for e in (err, err.__cause__, err.__context__):
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "read-only file system" if e.errno == errno.EROFS else "permission denied"
    return None


def planetoid(cfg: DictConfig, data_dir: Path) -> GraphData:
    """Cora, CiteSeer, PubMed from ``<data_dir>/Planetoid/<Name>/raw`` (downloaded if absent)."""
    import torch_geometric.transforms as T
    from torch_geometric.datasets import Planetoid

    root = data_dir / "Planetoid"
    raw_dir = root / cfg.pyg_name / "raw"
    prefix = f"ind.{cfg.pyg_name.lower()}."
    expected = [prefix + s for s in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")]
    transform = T.NormalizeFeatures() if cfg.normalize_features else None
    dataset = _pyg_load(
        lambda: Planetoid(str(root), cfg.pyg_name, split=cfg.split, transform=transform),
        cfg.pyg_name,
        raw_dir,
        expected,
    )
    return node_level(cfg, dataset[0], dataset.num_features)


def tu(cfg: DictConfig, data_dir: Path) -> GraphData:
    """Any TU Dortmund collection from ``<data_dir>/TUDataset/<NAME>/raw``.

    Graphs without node features get a one-hot encoding of their degree, the usual
    choice for the social-network collections.
    """
    import torch_geometric.transforms as T
    from torch_geometric.datasets import TUDataset
    from torch_geometric.utils import degree

    root = data_dir / "TUDataset"
    raw_dir = root / cfg.pyg_name / "raw"
    expected = [f"{cfg.pyg_name}_{part}.txt" for part in ("A", "graph_indicator", "graph_labels")]

    def make(transform: Any = None) -> Any:
        if not cfg.use_edge_attr:  # TUDataset keeps the edge features made from edge labels
            transform = T.Compose([_without_edge_attr, *([transform] if transform else [])])
        return TUDataset(
            str(root),
            cfg.pyg_name,
            use_node_attr=cfg.use_node_attr,
            use_edge_attr=cfg.use_edge_attr,
            transform=transform,
        )

    dataset = _pyg_load(make, cfg.pyg_name, raw_dir, expected)
    if dataset.num_node_features == 0:
        max_degree = max(int(degree(g.edge_index[0], g.num_nodes).max()) for g in dataset if g.num_edges)
        dataset = _pyg_load(lambda: make(T.OneHotDegree(max_degree)), cfg.pyg_name, raw_dir, expected)
    return _graph_level(cfg, dataset)


def _without_edge_attr(graph: Any) -> Any:
    """``graph`` without edge features (``dataset.use_edge_attr=false``)."""
    graph = copy.copy(graph)
    del graph.edge_attr
    return graph


def pyg_class(cfg: DictConfig, data_dir: Path) -> GraphData:
    """Any PyG dataset class named by ``dataset._target_``, stored under its class name."""
    from gnnexp.config.trust import import_target

    cls = import_target(str(cfg._target_), "dataset._target_")
    root = data_dir / cls.__name__
    kwargs: dict[str, Any] = dict(cfg.kwargs)
    params = inspect.signature(cls).parameters
    if "root" in params:  # generated datasets (KarateClub, FakeDataset) have no root
        kwargs.setdefault("root", str(root))
    if "name" in params:
        kwargs.setdefault("name", cfg.get("pyg_name") or cfg.name)
    if cfg.normalize_features:
        import torch_geometric.transforms as T

        kwargs.setdefault("transform", T.NormalizeFeatures())
    # PyG's named datasets (Amazon's Photo, Coauthor's CS...) keep their files in
    # root/<name>/raw, the others in root/raw.
    raw_dir = None
    processed: list[Path] = []
    if "root" in kwargs:
        raw_dir = Path(kwargs["root"]) / (str(kwargs["name"]) if "name" in kwargs else "") / "raw"
        # PyG's classes keep their processed files beside raw/ (root/processed or
        # root/<name>/processed); nothing else under a user's root is gnnexp's to check.
        root = Path(kwargs["root"])
        processed = sorted({root / "processed", raw_dir.parent / "processed"})
    dataset = _pyg_load(lambda: cls(**kwargs), cls.__name__, raw_dir, [], processed)
    if cfg.level == "graph":
        return _graph_level(cfg, dataset)
    if len(dataset) != 1:
        raise DataError(
            f"{cls.__name__} holds {len(dataset)} graphs, not one graph with node labels.",
            "set dataset.level=graph (and task=graph) for graph-level labels.",
        )
    return node_level(cfg, dataset[0], dataset.num_features)


def synthetic(cfg: DictConfig, data_dir: Path) -> GraphData:
    """A planted-partition graph generated from ``cfg.data_seed``; ``data_dir`` is unused."""
    from gnnexp.data.synthetic import node_regression_target, planted_partition

    if cfg.num_classes > cfg.num_nodes:
        raise ConfigError(
            f"dataset.num_classes={cfg.num_classes} exceeds dataset.num_nodes={cfg.num_nodes}: "
            "some classes would have no node.",
            "use at most as many classes as nodes.",
        )
    if cfg.avg_degree > cfg.num_nodes - 1:  # edges are drawn without repeats
        raise ConfigError(
            f"dataset.avg_degree={cfg.avg_degree:g} is above dataset.num_nodes - 1 = {cfg.num_nodes - 1}: "
            "no simple graph has it.",
            "lower dataset.avg_degree (or raise dataset.num_nodes).",
        )
    # Features (drawn, then shifted) and about six int64/float draws per edge while generating.
    check_fits(
        cfg.num_nodes * (8.0 * cfg.num_features + 48.0 * cfg.avg_degree),
        f"dataset=synthetic with {cfg.num_nodes:,} nodes of {cfg.num_features:,} features",
        "lower dataset.num_nodes, dataset.num_features or dataset.avg_degree.",
    )
    graph = planted_partition(
        num_nodes=cfg.num_nodes,
        num_classes=cfg.num_classes,
        num_features=cfg.num_features,
        avg_degree=cfg.avg_degree,
        homophily=cfg.homophily,
        feature_signal=cfg.feature_signal,
        seed=cfg.data_seed,
    )
    if cfg.target == "regression":
        graph.y = node_regression_target(graph, cfg.data_seed)
    return node_level(cfg, graph, cfg.num_features)


def synthetic_graphs(cfg: DictConfig, data_dir: Path) -> GraphData:
    """Random graphs labelled by their density; ``data_dir`` is unused."""
    from gnnexp.data.synthetic import random_graphs

    if cfg.max_nodes < cfg.min_nodes:
        raise ConfigError(
            f"dataset.max_nodes={cfg.max_nodes} is below dataset.min_nodes={cfg.min_nodes}.",
            "make max_nodes >= min_nodes.",
        )
    # Each graph's features and edges, kept; its dense n x n draw, passing.
    check_fits(
        cfg.num_graphs * cfg.max_nodes * (4.0 * cfg.num_features + 8.0 * cfg.max_nodes)
        + 5.0 * cfg.max_nodes**2,
        f"dataset=synthetic_graphs with {cfg.num_graphs:,} graphs of up to {cfg.max_nodes:,} nodes",
        "lower dataset.num_graphs, dataset.max_nodes or dataset.num_features.",
    )
    graphs = random_graphs(
        cfg.num_graphs,
        cfg.min_nodes,
        cfg.max_nodes,
        cfg.num_features,
        regression=cfg.target == "regression",
        seed=cfg.data_seed,
    )
    return _graph_level(cfg, graphs)
