"""Molecules from SMILES: read, featurised with PyG's ``from_smiles`` (RDKit), cached.

Atoms get PyG's 9 categorical features and bonds its 3; each is one-hot encoded with the
full vocabulary of ``torch_geometric.utils.smiles`` (177 atom and 30 bond columns), so a
model's first linear map on them is exactly OGB's ``AtomEncoder``/``BondEncoder`` (a sum of
one embedding per feature), and a new file always gives the same columns. The featurised
set is cached under ``<data_dir>/smiles/`` as plain tensors, keyed by the file's content
and the settings, and reused while the file is unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import pickle
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.data.loading import GraphData
from gnnexp.errors import DataError, GnnexpError

CACHE_VERSION = 2
FLOAT32_MAX = 3.4028234663852886e38


def _rdkit() -> None:
    try:
        import rdkit  # noqa: F401
    except ImportError:
        raise GnnexpError(
            "dataset=smiles needs RDKit, which is not installed.", "pip install 'gnnexp[chem]'."
        ) from None


def one_hot(values: Tensor, sizes: list[int]) -> Tensor:
    """Categorical columns ``values`` (rows x len(sizes)) as concatenated one-hot columns
    (PyG's and OGB's atom and bond features alike)."""
    offsets = torch.tensor([0, *sizes[:-1]]).cumsum(0)
    out = torch.zeros(values.size(0), sum(sizes))
    if values.numel():
        out.scatter_(1, values.long() + offsets, 1.0)
    return out


def read_rows(path: Path, smiles_column: str, targets: list[str]) -> list[tuple[int, str, list[float]]]:
    """(row number, SMILES, target values) per molecule; a missing value is NaN."""
    if not path.is_file():
        raise DataError(
            f"dataset.path={path} does not exist.", "give the CSV (or .smi) file of your molecules."
        )
    if path.suffix == ".smi":
        if targets:
            raise DataError(
                f"{path} is a .smi file, which has no target columns.", "give a CSV with targets."
            )
        lines = _text(path).splitlines()
        return [(i, line.split()[0], []) for i, line in enumerate(lines, start=1) if line.strip()]
    with io.StringIO(_text(path), newline="") as stream:
        reader = csv.DictReader(stream)
        columns = reader.fieldnames or []
        if not any(t in columns for t in targets):
            targets_read: list[str] = []  # no target column at all: molecules to predict for
        else:
            targets_read = targets
        missing = [c for c in [smiles_column, *targets_read] if c not in columns]
        if missing:
            raise DataError(
                f"{path} has no column {', '.join(missing)} (its columns: {', '.join(columns)}).",
                "name the columns with dataset.smiles=... and dataset.targets=[...].",
            )
        rows = []
        for number, row in enumerate(reader, start=2):  # row 1 is the header
            values = [math.nan] * len(targets) if not targets_read else []
            for target in targets_read:
                text = (row.get(target) or "").strip()
                try:
                    value = float(text) if text else math.nan
                except ValueError:
                    raise DataError(
                        f"{path}, row {number}: {target}={text!r} is not a number.",
                        "fix the value, or leave it empty for a missing label.",
                    ) from None
                if abs(value) > FLOAT32_MAX:  # inf too; NaN (like an empty cell) is a missing label
                    raise DataError(
                        f"{path}, row {number}: {target}={text!r} is not a finite 32-bit number.",
                        "fix the value (scale the column), or leave it empty for a missing label.",
                    )
                values.append(value)
            rows.append((number, (row.get(smiles_column) or "").strip(), values))
    return rows


def _text(path: Path) -> str:
    """The file's text: UTF-8, with or without a byte-order mark; anything else refused."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path} is not UTF-8 text (byte {err.start} is not UTF-8).",
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8).",
        ) from None
    except OSError as err:
        raise DataError(f"Cannot read {path} ({err.strerror or err}).", "check dataset.path=...") from err


def _check_labels(path: Path, targets: list[str], y: Tensor, smiles: list[str], classes: bool) -> None:
    """Refuse a target column with no value at all (beside others that have some), and class
    labels that are not 0, 1, 2, ... (0.5 would be truncated, -1 or 1e12 cannot index a class)."""
    known = ~torch.isnan(y)
    empty = [t for j, t in enumerate(targets) if not known[:, j].any()]
    if empty and len(empty) < len(targets):
        raise DataError(
            f"{path}: the target column {', '.join(empty)} holds no value; its metric would mean nothing.",
            "fill it, or leave it out of dataset.targets.",
        )
    if not classes:
        return
    values = y[:, 0]
    wrong = known[:, 0] & ((values != values.floor()) | (values < 0) | (values >= max(len(values), 2)))
    if wrong.any():
        i = int(wrong.nonzero()[0])
        raise DataError(
            f"{path}: the class of {smiles[i]} is {targets[0]}={float(values[i]):g}, not one of 0, 1, 2, ... "
            f"(below the number of molecules, {len(values)}).",
            "number the classes 0, 1, 2, ..., or set dataset.target=regression for real values.",
        )


Featurised = tuple[dict[str, Tensor], list[int], list[str], list[str]]


def _featurise(rows: list[tuple[int, str, list[float]]]) -> Featurised:
    """Concatenated atom/bond tensors with per-molecule offsets, the rows RDKit could not read,
    and the Bemis-Murcko scaffold and the SMILES of each molecule kept."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem.Scaffolds import MurckoScaffold
    from torch_geometric.utils import from_smiles
    from torch_geometric.utils.smiles import e_map, x_map

    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # its parse errors: reported below by row number
    atom_sizes, bond_sizes = [len(v) for v in x_map.values()], [len(v) for v in e_map.values()]
    xs, edges, bonds, ys, atoms, links, bad, scaffolds, kept = [], [], [], [], [0], [0], [], [], []
    for number, smiles, values in rows:
        mol = Chem.MolFromSmiles(smiles) if smiles else None
        if mol is None or mol.GetNumAtoms() == 0:
            bad.append(number)
            continue
        graph = from_smiles(smiles)
        xs.append(one_hot(graph.x, atom_sizes))
        edges.append(graph.edge_index)
        bonds.append(one_hot(graph.edge_attr.view(-1, len(bond_sizes)), bond_sizes))
        ys.append(torch.tensor(values, dtype=torch.float).view(1, -1))
        atoms.append(atoms[-1] + graph.num_nodes)
        links.append(links[-1] + graph.edge_index.size(1))
        scaffolds.append(MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False))
        kept.append(smiles)
    tensors = {
        "x": torch.cat(xs) if xs else torch.zeros(0, sum(atom_sizes)),
        "edge_index": torch.cat(edges, dim=1) if edges else torch.zeros(2, 0, dtype=torch.long),
        "edge_attr": torch.cat(bonds) if bonds else torch.zeros(0, sum(bond_sizes)),
        "y": torch.cat(ys) if ys else torch.zeros(0, 0),
        "atoms": torch.tensor(atoms),
        "links": torch.tensor(links),
    }
    return tensors, bad, scaffolds, kept


def _cached(cfg: DictConfig, path: Path, data_dir: Path) -> Featurised:
    """The featurised molecules of ``path``, from the cache when its recorded SHA-256 matches
    (a damaged or replaced cache, a flipped bit in a target included, is rebuilt)."""
    settings = [CACHE_VERSION, str(cfg.smiles), [str(t) for t in cfg.targets]]
    digest = hashlib.sha256(path.read_bytes() + json.dumps(settings).encode()).hexdigest()[:24]
    cache = data_dir / "smiles" / f"{path.stem}-{digest}.pt"
    record = cache.with_suffix(".sha256")
    try:
        content = cache.read_bytes()
        if hashlib.sha256(content).hexdigest() == record.read_text().strip():
            # Plain tensors and lists, loaded weights-only: no code runs.
            stored = torch.load(io.BytesIO(content), weights_only=True)
            return stored["tensors"], stored["bad"], stored["scaffolds"], stored["smiles"]
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, EOFError, pickle.UnpicklingError):
        pass  # no cache, or a damaged one: rebuilt
    tensors, bad, scaffolds, kept = _featurise(read_rows(path, str(cfg.smiles), list(cfg.targets)))
    buffer = io.BytesIO()
    torch.save({"tensors": tensors, "bad": bad, "scaffolds": scaffolds, "smiles": kept}, buffer)
    try:
        from gnnexp.util.atomic import atomic_file

        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(cache, "wb") as stream:
            stream.write(buffer.getvalue())
        with atomic_file(record, "w") as stream:  # after the cache: a cache without it is rebuilt
            stream.write(hashlib.sha256(buffer.getvalue()).hexdigest() + "\n")
    except (OSError, GnnexpError):
        pass  # a read-only data dir: featurised again next time
    return tensors, bad, scaffolds, kept


def load_smiles(cfg: DictConfig, data_dir: Path) -> GraphData:
    """The molecules of ``cfg.path`` as graph-level data (``dataset=smiles``)."""
    from torch_geometric.data import Data

    _rdkit()
    path = Path(str(cfg.path)).expanduser()
    if not cfg.targets:
        raise DataError("dataset=smiles needs the columns to predict.", "set dataset.targets=[column, ...].")
    if not path.is_file():
        raise DataError(
            f"dataset.path={path} does not exist.", "give the CSV (or .smi) file of your molecules."
        )
    tensors, bad, scaffolds, kept = _cached(cfg, path, data_dir)
    notes: dict[str, str] = {}
    if torch.isnan(tensors["y"]).all() and path.suffix != ".smi":
        columns = next(csv.reader(io.StringIO(_text(path))), [])
        notes["labels"] = f"none: no column {', '.join(cfg.targets)} (its columns: {', '.join(columns)})"
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        if cfg.invalid == "refuse":
            raise DataError(
                f"{path}: RDKit cannot read the SMILES of {len(bad)} rows ({shown}).",
                "fix or remove them, or set dataset.invalid=skip.",
            )
        notes["skipped"] = f"{len(bad)} invalid SMILES (rows {shown})"
    if cfg.split == "scaffold":
        notes["split"] = f"by Bemis-Murcko scaffold ({len(set(scaffolds))} scaffolds, none shared)"
    y = tensors["y"]
    if y.size(0) == 0:
        raise DataError(f"{path} holds no molecule RDKit can read.", "check the SMILES column.")
    regression = cfg.target == "regression"
    if "labels" not in notes:
        _check_labels(path, [str(t) for t in cfg.targets], y, kept, not regression and len(cfg.targets) == 1)
    # Several binary targets, or any missing label: a float row per molecule (task.loss=bce).
    multilabel = not regression and (len(cfg.targets) > 1 or bool(torch.isnan(y).any()))
    if multilabel and not torch.isin(y[~torch.isnan(y)], torch.tensor([0.0, 1.0])).all():
        raise DataError(
            f"{path}: several classification targets must each be 0 or 1 (or empty when unknown).",
            "give binary columns, or predict one class column at a time.",
        )
    atoms, links = tensors["atoms"].tolist(), tensors["links"].tolist()
    graphs = []
    for i in range(y.size(0)):
        edge_index = tensors["edge_index"][:, links[i] : links[i + 1]]
        graphs.append(
            Data(
                x=tensors["x"][atoms[i] : atoms[i + 1]],
                edge_index=edge_index,
                edge_attr=tensors["edge_attr"][links[i] : links[i + 1]],
                y=y[i : i + 1] if regression or multilabel else y[i, :1].long(),
            )
        )
    known = y[:, 0][~torch.isnan(y[:, 0])]
    classes = y.size(1) if regression or multilabel else (int(known.max()) + 1 if known.numel() else 2)
    return GraphData(
        str(cfg.name),
        "graph",
        graphs,
        int(tensors["x"].size(1)),
        classes,
        int(tensors["edge_attr"].size(1)),
        groups=scaffolds if cfg.split == "scaffold" else None,
        ids=kept,
        notes=notes,
    )
