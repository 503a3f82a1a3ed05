"""A typed graph from a folder of tables; every problem with the folder is one line naming the
file (and row).

A folder holds ``nodes/<type>.csv`` (an id column, feature columns or ``nodes/<type>.npy``,
an optional label column, an optional split column) and ``edges/<src>__<relation>__<dst>.csv``
(source and target ids, optional numeric edge-feature columns). Node types without features
keep only ``num_nodes``: the model gives them a learned embedding.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.data.hetero import SPLITS, HeteroGraphData, finish
from gnnexp.errors import DataError


def _read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows (text cells) of a CSV; an empty table or a ragged row is an error."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [cell.strip() for cell in next(reader, [])]
            if not any(header):
                raise DataError(f"The table {path} is empty.", "give it a header row and one row per item.")
            rows = []
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{path} row {reader.line_num} has {len(row)} columns, the header {len(header)}.",
                        "give every row the header's columns.",
                    )
                rows.append([cell.strip() for cell in row])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(
            f"The table {path} cannot be read ({type(err).__name__}: {err}).", "check the file."
        ) from err
    if not rows:
        raise DataError(f"The table {path} has a header but no rows.", "give it one row per node or edge.")
    return header, rows


def _numbers(path: Path, header: list[str], rows: list[list[str]], columns: list[int], what: str) -> Tensor:
    """The ``columns`` of ``rows`` as a float32 matrix; a cell that is no finite number is an error."""
    out = np.empty((len(rows), len(columns)), dtype=np.float32)
    for r, row in enumerate(rows):
        for c, col in enumerate(columns):
            try:
                value = float(row[col])
            except ValueError:
                value = float("nan")
            if not np.isfinite(value):
                raise DataError(
                    f"{path} row {r + 2}: {what} column {header[col]!r} holds {row[col]!r}, not a finite number.",
                    f"give every {what} cell a number (or move text columns out of the table).",
                )
            out[r, c] = value
    return torch.from_numpy(out)


def _labels(path: Path, cells: list[str], regression: bool) -> tuple[Tensor, dict[str, int] | None]:
    """Labels (empty cells: unlabelled, -1 or NaN); text classes are numbered in sorted order."""
    known = [c for c in cells if c != ""]
    if regression:
        try:
            return torch.tensor([float(c) if c else float("nan") for c in cells]), None
        except ValueError:
            bad = next(i for i, c in enumerate(cells) if c and not _is_number(c))
            raise DataError(
                f"{path} row {bad + 2}: label {cells[bad]!r} is not a number.",
                "give numeric regression targets.",
            ) from None
    if all(_is_int(c) for c in known):
        values = [int(float(c)) if c else -1 for c in cells]
        negative = next((i for i, v in enumerate(values) if v < -1 or (v == -1 and cells[i])), None)
        if negative is not None:
            raise DataError(
                f"{path} row {negative + 2}: class {cells[negative]} is negative.",
                "number classes 0, 1, 2, ... (leave the cell empty for an unlabelled node).",
            )
        return torch.tensor(values, dtype=torch.long), None
    names = {name: i for i, name in enumerate(sorted(set(known)))}
    return torch.tensor([names[c] if c else -1 for c in cells], dtype=torch.long), names


def _is_number(cell: str) -> bool:
    try:
        return bool(np.isfinite(float(cell)))
    except ValueError:
        return False


def _is_int(cell: str) -> bool:
    return _is_number(cell) and float(cell) == int(float(cell))


def _node_table(
    cfg: DictConfig, path: Path, graph: Any, ids: dict[str, list[str]], notes: dict[str, str]
) -> None:
    node_type = path.stem
    header, rows = _read_table(path)
    if cfg.id_column not in header:
        raise DataError(
            f"{path} has no id column {cfg.id_column!r} (its columns: {', '.join(header)}).",
            "add the column, or set dataset.id_column to the one that names the nodes.",
        )
    at = header.index(cfg.id_column)
    names = [row[at] for row in rows]
    seen: dict[str, int] = {}
    for r, name in enumerate(names):
        if name == "":
            raise DataError(f"{path} row {r + 2} has an empty id.", "give every node an id.")
        if name in seen:
            raise DataError(
                f"{path} rows {seen[name] + 2} and {r + 2} share the id {name!r}.",
                "give each node its own id.",
            )
        seen[name] = r
    ids[node_type] = names
    store = graph[node_type]
    store.num_nodes = len(rows)
    special = {cfg.id_column, cfg.label_column, cfg.split_column}
    feature_cols = [i for i, name in enumerate(header) if name not in special]
    beside = path.with_suffix(".npy")
    if beside.exists():
        if feature_cols:
            raise DataError(
                f"Node type {node_type} has features both in {path} (columns {', '.join(header[i] for i in feature_cols)}) "
                f"and in {beside}.",
                "keep one of them.",
            )
        from gnnexp.data.files import read_features

        x = read_features(str(beside), None)
        if x.size(0) != len(rows):
            raise DataError(
                f"{beside} has {x.size(0)} rows but {path} has {len(rows)} nodes.",
                "give one feature row per node, in the table's order.",
            )
        store.x = x
    elif feature_cols:
        store.x = _numbers(path, header, rows, feature_cols, "feature")
    if cfg.label_column in header:
        col = header.index(cfg.label_column)
        y, classes = _labels(path, [row[col] for row in rows], cfg.target == "regression")
        store.y = y
        if classes:
            notes[f"{node_type} classes"] = ", ".join(f"{k}={v}" for k, v in classes.items())
    if cfg.split_column in header:
        col = header.index(cfg.split_column)
        for r, row in enumerate(rows):
            if row[col] not in (*SPLITS, ""):
                raise DataError(
                    f"{path} row {r + 2}: split {row[col]!r} is not train, val or test.",
                    "write train, val, test (or leave the cell empty).",
                )
        for split in SPLITS:
            store[f"{split}_mask"] = torch.tensor([row[col] == split for row in rows])


def _edge_table(cfg: DictConfig, path: Path, graph: Any, ids: dict[str, list[str]]) -> None:
    parts = path.stem.split("__")
    if len(parts) != 3 or not all(parts):
        raise DataError(
            f"The edge table {path.name} is not named <source type>__<relation>__<target type>.csv.",
            "rename it, e.g. paper__cites__paper.csv.",
        )
    src, relation, dst = parts
    for node_type in (src, dst):
        if node_type not in ids:
            raise DataError(
                f"The edge table {path} names node type {node_type!r}, which has no table in nodes/ "
                f"(types: {', '.join(sorted(ids))}).",
                f"add nodes/{node_type}.csv, or rename the edge table.",
            )
    header, rows = _read_table(path)
    for column in (cfg.source_column, cfg.target_column):
        if column not in header:
            raise DataError(
                f"{path} has no column {column!r} (its columns: {', '.join(header)}).",
                "add it, or set dataset.source_column / dataset.target_column.",
            )
    index = []
    for column, node_type in ((cfg.source_column, src), (cfg.target_column, dst)):
        col = header.index(column)
        lookup = {name: i for i, name in enumerate(ids[node_type])}
        found = []
        for r, row in enumerate(rows):
            i = lookup.get(row[col])
            if i is None:
                raise DataError(
                    f"{path} row {r + 2}: {column} {row[col]!r} is not an id in nodes/{node_type}.csv.",
                    "use the node tables' ids (or add the node).",
                )
            found.append(i)
        index.append(found)
    store = graph[src, relation, dst]
    store.edge_index = torch.tensor(index, dtype=torch.long)
    extra = [i for i, name in enumerate(header) if name not in (cfg.source_column, cfg.target_column)]
    if extra:
        store.edge_attr = _numbers(path, header, rows, extra, "edge feature")


def load_hetero_files(cfg: DictConfig, data_dir: Path) -> HeteroGraphData:
    """A folder of node and edge tables (see the module's docstring)."""
    from torch_geometric.data import HeteroData

    root = Path(cfg.path).expanduser()
    for sub in ("nodes", "edges"):
        if not (root / sub).is_dir():
            raise DataError(
                f"dataset.path={root} has no {sub}/ folder.",
                "give a folder with nodes/<type>.csv and edges/<src>__<relation>__<dst>.csv.",
            )
    node_files = sorted((root / "nodes").glob("*.csv"))
    edge_files = sorted((root / "edges").glob("*.csv"))
    for what, files in (("nodes", node_files), ("edges", edge_files)):
        if not files:
            raise DataError(f"{root / what} holds no .csv tables.", f"add one table per {what[:-1]} type.")
    graph = HeteroData()
    ids: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    for path in node_files:
        _node_table(cfg, path, graph, ids, notes)
    for path in edge_files:
        _edge_table(cfg, path, graph, ids)
    widths = {int(s.edge_attr.size(1)) for s in graph.edge_stores if s.get("edge_attr") is not None}
    if len(widths) > 1:
        raise DataError(
            f"The edge tables under {root / 'edges'} have edge features of different widths "
            f"({', '.join(map(str, sorted(widths)))}).",
            "give every edge table the same feature columns (or none).",
        )
    data = finish(cfg, graph, ids)
    data.notes.update(notes)
    return data
