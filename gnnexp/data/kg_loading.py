"""Reading knowledge graphs: (head, relation, tail) name triples into id tensors, with errors
that name the file and the line (the sources are declared in ``gnnexp.data.kg_datasets``)."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import Tensor

from gnnexp.data.loading import GraphData
from gnnexp.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")
Triple = tuple[str, str, str]


@dataclass
class KnowledgeGraph:
    """Facts as id triples ``[n, 3]`` (head, relation, tail) per split, and the names of the ids."""

    entities: list[str]
    relations: list[str]
    train: Tensor
    val: Tensor
    test: Tensor
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def split(self, name: str) -> Tensor:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def read_triples(path: Path, delimiter: str, header: bool = False, own: bool = False) -> list[Triple]:
    """The triples of one file, in order; each bad input stops with one line naming it.
    ``own``: the user's file (``dataset=triples``), whose separator is an option."""
    if not path.is_file():
        raise DataError(
            f"The triples file {path} does not exist.", "check the path (dataset.train=..., ...)."
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path} line {line}: byte {err.start} is not UTF-8 text.",
            "save the file as UTF-8 (e.g. iconv -t UTF-8).",
        ) from None
    except OSError as err:
        raise DataError(
            f"The triples file {path} cannot be read ({err.strerror or err}).", "make it readable."
        ) from None
    rows = csv.reader(
        text.splitlines(),
        delimiter=delimiter,
        quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
    )
    triples: list[Triple] = []
    first: dict[Triple, int] = {}
    for number, row in enumerate(rows, start=1):
        if header and number == 1:
            continue
        if not row or not "".join(row).strip():
            continue
        cells = [cell.strip() for cell in row]
        if len(cells) != 3 or not all(cells):
            shown = "tab" if delimiter == "\t" else repr(delimiter)
            raise DataError(
                f"{path} line {number}: {len(cells)} {shown}-separated column{'s' if len(cells) != 1 else ''} "
                f"{row!r}, not 3 non-empty ones (head, relation, tail).",
                "give every line a head, a relation and a tail"
                + (
                    {
                        "\t": " (dataset.delimiter=comma for a CSV).",
                        ",": " (dataset.delimiter=tab for a TSV).",
                    }[delimiter]
                    if own
                    else "."
                ),
            )
        triple = (cells[0], cells[1], cells[2])
        if triple in first:
            raise DataError(
                f"{path} line {number} repeats line {first[triple]} ({', '.join(triple)}).",
                "remove the duplicate lines (e.g. sort -u).",
            )
        first[triple] = number
        triples.append(triple)
    if not triples:
        raise DataError(f"The triples file {path} is empty.", "give it one head, relation, tail per line.")
    return triples


def _delimiter(cfg: DictConfig, path: Path) -> str:
    if cfg.get("delimiter", "auto") == "auto":
        return "," if path.suffix.lower() == ".csv" else "\t"
    return {"tab": "\t", "comma": ","}[str(cfg.delimiter)]


def build_graph(cfg: DictConfig, parts: dict[str, list[Triple]], files: dict[str, Path]) -> GraphData:
    """Ids for the names of the training triples; valid/test triples naming anything else are
    dropped (and counted) or refused, as ``dataset.unseen`` says."""
    train = parts["train"]
    entities = sorted({e for h, _, t in train for e in (h, t)})
    relations = sorted({r for _, r, _ in train})
    ent_id = {e: i for i, e in enumerate(entities)}
    rel_id = {r: i for i, r in enumerate(relations)}
    holder = dict.fromkeys(train, "train")  # which split first holds each fact
    tensors: dict[str, Tensor] = {}
    notes: dict[str, str] = {}
    for split in SPLITS:
        kept: list[list[int]] = []
        unseen = 0
        for h, r, t in parts[split]:
            if split != "train" and (h, r, t) in holder:
                other = files[holder[h, r, t]]
                raise DataError(
                    f"{files[split]} holds ({h}, {r}, {t}), which {other} holds too: a fact is "
                    "evaluated once, in one split, and never trained on.",
                    f"remove the facts of {other.name} from {files[split].name}.",
                )
            if h in ent_id and t in ent_id and r in rel_id:
                kept.append([ent_id[h], rel_id[r], ent_id[t]])
                continue
            if cfg.unseen == "refuse":
                name = h if h not in ent_id else r if r not in rel_id else t
                raise DataError(
                    f"{files[split]} holds ({h}, {r}, {t}), whose '{name}' is not in the training triples: "
                    "no embedding can be learned for it.",
                    "add facts about it to the training triples, or set dataset.unseen=drop.",
                )
            unseen += 1
        if split != "train":
            holder.update(dict.fromkeys(parts[split], split))
            if unseen:
                notes[f"dropped from {split}"] = (
                    f"{unseen} triples whose entity or relation is not in train (dataset.unseen=refuse refuses them)"
                )
            if not kept:
                raise DataError(
                    f"No {split} triple of {files[split]} is left: each names an entity or relation absent from training.",
                    "give valid and test triples about the training entities and relations.",
                )
        tensors[split] = torch.tensor(kept, dtype=torch.long).view(-1, 3)
    kg = KnowledgeGraph(entities, relations, tensors["train"], tensors["val"], tensors["test"], notes)
    return GraphData(cfg.name, "kg", kg, len(entities), len(relations), notes=notes)


def load_kg_folder(cfg: DictConfig, data_dir: Path) -> GraphData:
    """``<data_dir>/KG/<folder>/{train,valid,test}.txt`` (Kinships, UMLS, Nations as PyKEEN ships them)."""
    folder = data_dir / "KG" / str(cfg.folder)
    files = {split: folder / f"{'valid' if split == 'val' else split}.txt" for split in SPLITS}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise DataError(
            f"{cfg.name}: {', '.join(missing)} missing from {folder}.",
            f"copy the {cfg.folder} files there, or set GNNEXP_DATA_DIR to a directory holding KG/{cfg.folder}/.",
        )
    return build_graph(cfg, {s: read_triples(p, "\t") for s, p in files.items()}, files)


def load_triples(cfg: DictConfig, data_dir: Path) -> GraphData:
    """``dataset=triples``: train/valid/test files, or one file split at random."""
    named = {"train": cfg.train, "val": cfg.valid, "test": cfg.test}
    if cfg.path is not None:
        if any(v is not None for v in named.values()):
            raise ConfigError(
                "dataset.path and dataset.train/valid/test are both set.",
                "give one file (dataset.path=...) or three (dataset.train=... dataset.valid=... dataset.test=...).",
            )
        path = Path(str(cfg.path)).expanduser()
        triples = read_triples(path, _delimiter(cfg, path), cfg.header, own=True)
        order = list(range(len(triples)))
        random.Random(cfg.split_seed).shuffle(order)
        n_train = round(cfg.train_ratio * len(order))
        n_val = round(cfg.val_ratio * len(order))
        cut = {
            "train": order[:n_train],
            "val": order[n_train : n_train + n_val],
            "test": order[n_train + n_val :],
        }
        parts = {s: [triples[i] for i in cut[s]] for s in SPLITS}
        return build_graph(cfg, parts, dict.fromkeys(SPLITS, path))
    absent = [f"dataset.{'valid' if s == 'val' else s}" for s, v in named.items() if v is None]
    if absent:
        raise ConfigError(
            f"dataset=triples needs its triples: {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not set.",
            "give dataset.train=... dataset.valid=... dataset.test=..., or one file as dataset.path=...",
        )
    files = {s: Path(str(v)).expanduser() for s, v in named.items()}
    return build_graph(
        cfg, {s: read_triples(p, _delimiter(cfg, p), cfg.header, own=True) for s, p in files.items()}, files
    )


def load_pyg_kg(cfg: DictConfig, data_dir: Path) -> GraphData:
    """FB15k-237 or WordNet18RR: PyG downloads the files its class names into
    ``<data_dir>/KG/<name>/raw``; they are read as named triples like every other graph."""
    import torch_geometric.datasets as pyg_datasets

    from gnnexp.data.pyg_readers import _pyg_load

    name = str(cfg.pyg_name)
    raw = data_dir / "KG" / name / "raw"
    files = {split: raw / f"{'valid' if split == 'val' else split}.txt" for split in SPLITS}
    if not all(path.is_file() for path in files.values()):
        cls = getattr(pyg_datasets, name)
        _pyg_load(partial(cls, str(raw.parent)), name, raw, [p.name for p in files.values()])
    return build_graph(cfg, {s: read_triples(p, "\t") for s, p in files.items()}, files)
