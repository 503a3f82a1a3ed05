"""A user's graph from plain files (``dataset=files``), with errors that name the file and the row."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.data.loading import GraphData, node_level
from gnnexp.errors import ConfigError, DataError


def _path(value: str, what: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise DataError(f"The {what} file {path} does not exist.", f"check dataset.{what}=...")
    return path


def _unreadable(path: Path, what: str, err: Exception) -> DataError:
    if isinstance(err, PermissionError):
        return DataError(
            f"The {what} file {path} cannot be read: permission denied.", f"make {path} readable (chmod)."
        )
    if isinstance(err, UnicodeDecodeError):
        return DataError(
            f"The {what} file {path} is not a text CSV (byte {err.start} is not UTF-8).",
            "give a CSV text file, or a .npy array saved with numpy.save.",
        )
    return DataError(
        f"The {what} file {path} cannot be read ({type(err).__name__}: {err}).", f"check dataset.{what}=..."
    )


def _numeric(cells: list[str]) -> bool:
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return False
    return bool(cells)


def _read_csv(path: Path, what: str) -> tuple[list[str], np.ndarray]:
    """Header and a float matrix; a non-numeric cell is reported with its row number."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(
                    f"The {what} file {path} is empty.", "give it a header row and one row per item."
                )
            if _numeric(header):
                raise DataError(
                    f"{path} row 1: {header!r} looks like data, but the first row of a CSV is its header.",
                    f"add a header row to the {what} file (e.g. 'source,target' for edges).",
                )
            if not any(cell.strip() for cell in header):
                raise DataError(
                    f"{path} has no columns in its header row.", f"give the {what} file a header row."
                )
            rows = []
            for row in reader:
                if not row:
                    continue
                try:
                    rows.append([float(cell) for cell in row])
                except ValueError:
                    raise DataError(
                        f"{path} row {reader.line_num}: {row!r} is not numeric.",
                        f"fix that row of the {what} file (the first row is the header).",
                    ) from None
                if len(rows[-1]) != len(header):
                    raise DataError(
                        f"{path} row {reader.line_num} has {len(rows[-1])} columns, the header {len(header)}.",
                        f"give every row of the {what} file the header's columns.",
                    )
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise _unreadable(path, what, err) from err
    return header, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(header))


def _read_npy(path: Path, what: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except PermissionError as err:
        raise _unreadable(path, what, err) from err
    except (OSError, ValueError, EOFError) as err:
        raise DataError(
            f"The {what} file {path} is not a readable .npy array ({err}).",
            "save it with numpy.save from a numeric array (pickled objects are not read).",
        ) from err
    if not isinstance(array, np.ndarray) or not (
        (np.issubdtype(array.dtype, np.number) and not np.issubdtype(array.dtype, np.complexfloating))
        or array.dtype == np.bool_
    ):
        kind = getattr(array, "dtype", type(array).__name__)
        raise DataError(f"The {what} file {path} holds {kind} values, not numbers.", "save a numeric array.")
    if array.ndim == 0 or array.shape[0] == 0:
        raise DataError(
            f"The {what} file {path} holds no rows (shape {array.shape}).", "save one row per node."
        )
    table = array.reshape(len(array), -1) if array.ndim != 2 else array
    if table.shape[1] == 0:
        raise DataError(
            f"The {what} file {path} has no columns (shape {array.shape}).", "save at least one column."
        )
    return table.astype(np.float64)


def _read_matrix(path: Path, what: str) -> np.ndarray:
    if path.suffix == ".npy":
        return _read_npy(path, what)
    return _read_csv(path, what)[1]


def read_edges(value: str) -> Tensor:
    """``[2, E]`` node ids from a CSV with a header and two columns (source, target)."""
    path = _path(value, "edges")
    header, table = _read_csv(path, "edges")
    if len(header) != 2:
        raise DataError(
            f"{path} has columns {header}; an edge list needs exactly two (source,target).",
            "write the edges file as 'source,target' followed by one edge per row.",
        )
    with np.errstate(invalid="ignore"):
        wrong = ~np.isfinite(table) | (table != np.floor(table)) | (table < 0) | (table >= 2**62)
    bad = np.nonzero(wrong.any(axis=1))[0]
    if bad.size:
        raise DataError(
            f"{path} row {bad[0] + 2}: {table[bad[0]].tolist()} are not non-negative integer node ids.",
            "use 0-based integer node ids.",
        )
    return torch.from_numpy(table.astype(np.int64)).t().contiguous()


def read_labels(value: str, regression: bool) -> Tensor:
    """One label per node (row i is node i)."""
    path = _path(value, "labels")
    table = _read_matrix(path, "labels")
    if table.shape[1] != 1:
        raise DataError(
            f"{path} has {table.shape[1]} columns; labels need one.", "keep a single label column."
        )
    if table.shape[0] == 0:
        raise DataError(
            f"The labels file {path} holds no rows.", "give one label per node, row i for node i."
        )
    labels = table[:, 0]
    if not np.isfinite(labels).all():
        row = int(np.nonzero(~np.isfinite(labels))[0][0])
        raise DataError(
            f"{path} row {row + 2}: the label is {labels[row]}.", "give every node a finite label."
        )
    if regression:
        values = _as_float32(labels)
        if not np.isfinite(values).all():
            row = int(np.nonzero(~np.isfinite(values))[0][0])
            raise DataError(
                f"{path} row {row + 2}: the label {labels[row]} is {_why_not_finite(labels[row : row + 1])}.",
                "scale the target values.",
            )
        return torch.from_numpy(values)
    if (labels != np.floor(labels)).any() or (labels < 0).any():
        row = int(np.nonzero((labels != np.floor(labels)) | (labels < 0))[0][0])
        raise DataError(
            f"{path} row {row + 2}: class label {labels[row]} is not a non-negative integer.",
            "use 0-based integer classes, or dataset.target=regression for real values.",
        )
    if labels.max() >= len(labels):
        row = int(labels.argmax())
        raise DataError(
            f"{path} row {row + 2}: class {int(labels[row])} is not below the number of nodes ({len(labels)}); "
            "the output layer would need a unit per class id.",
            "number the classes 0, 1, 2, ... (or use dataset.target=regression for values).",
        )
    return torch.from_numpy(labels.astype(np.int64))


def read_features(value: str, num_nodes: int | None) -> Tensor:
    """``[num_nodes, F]`` float features; NaN or a wrong row count is an error."""
    path = _path(value, "features")
    table = _read_matrix(path, "features")
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise DataError(
            f"The features file {path} holds no values (shape {table.shape}).", "give one row per node."
        )
    if num_nodes is not None and table.shape[0] != num_nodes:
        raise DataError(
            f"{path} has {table.shape[0]} rows but the labels file has {num_nodes} nodes.",
            "give one feature row per node, in node-id order.",
        )
    features = _as_float32(table)
    bad_rows = np.nonzero(~np.isfinite(features).all(axis=1))[0]
    if bad_rows.size:
        row = int(bad_rows[0])
        raise DataError(
            f"{path} row {row + 1}: features of node {row} are {_why_not_finite(table[row])}.",
            "fill or drop the missing or infinite values of the features file (or scale it) before training.",
        )
    return torch.from_numpy(features)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _as_float32(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf: reported
        return values.astype(np.float32)


def _why_not_finite(values: np.ndarray) -> str:
    if np.isfinite(values).all():
        return f"beyond the range of 32-bit floats (±{FLOAT32_MAX:.4g}), which models compute in"
    return "not finite (NaN or infinite)"


def check_edges(edges: Tensor, num_nodes: int, value: str) -> None:
    """Every node id must be below ``num_nodes`` (the number of labels)."""
    too_big = (edges >= num_nodes).any(dim=0).nonzero().view(-1)
    if too_big.numel():
        col = int(too_big[0])
        raise DataError(
            f"{value} row {col + 2}: edge {edges[:, col].tolist()} names a node id >= {num_nodes}, "
            f"but the labels file has {num_nodes} nodes.",
            "use 0-based node ids below the number of labels.",
        )


def load_files(cfg: DictConfig, data_dir: Path) -> GraphData:
    """A user's graph: ``edges`` CSV, ``labels`` and optional ``features`` (CSV or .npy)."""
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce, to_undirected

    regression = cfg.target == "regression"
    if cfg.labels is not None:
        labels = read_labels(cfg.labels, regression=regression)
        num_nodes = labels.numel()
        x = read_features(cfg.features, num_nodes) if cfg.features else torch.ones(num_nodes, 1)
    else:  # unlabelled (for predictions): the features say how many nodes there are
        if not cfg.features:
            raise ConfigError(
                "dataset.labels=null needs dataset.features to count the nodes.", "give dataset.features=..."
            )
        x = read_features(cfg.features, None)
        num_nodes = x.size(0)
        labels = torch.zeros(num_nodes, dtype=torch.float if regression else torch.long)
    edges = read_edges(cfg.edges)
    check_edges(edges, num_nodes, cfg.edges)
    edges = (
        to_undirected(edges, num_nodes=num_nodes) if cfg.undirected else coalesce(edges, num_nodes=num_nodes)
    )
    graph = Data(x=x, edge_index=edges, y=labels, num_nodes=num_nodes)
    return node_level(cfg, graph, x.size(1))
