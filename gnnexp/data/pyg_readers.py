"""The readers of the PyG-backed dataset sources (planetoid, tu, pyg), which share the one
error translation in ``_pyg_load``: a failed download, unreadable files or a stale processed
cache each become one DataError that names the fix.
"""

from __future__ import annotations

import copy
import inspect
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gnnexp.data.loading import GraphData, _graph_level, node_level
from gnnexp.errors import DataError


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
