"""Knowledge-graph dataset sources (``dataset.level: kg``), each one declared class (torch-free).

A knowledge graph is a set of (head, relation, tail) facts between named entities; only
``task=kg`` applies to it. The loading code is ``gnnexp.data.kg_loading``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import MISSING

from gnnexp.config.components import component, option
from gnnexp.data.datasets import DatasetSpec
from gnnexp.metrics import METRICS

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData

# The metrics of knowledge-graph completion (from the ranks of true entities).
KG_METRICS = tuple(name for name, m in METRICS.items() if m.entity_ranks)


@dataclass
class KGSpec(DatasetSpec):
    """The settings every knowledge-graph source shares."""

    level: str = option("kg", doc="what the data is: facts between entities", choices=("kg",))
    metric: str = option("mrr", doc="the metric reported and monitored", choices=KG_METRICS)
    unseen: str = option(
        "drop",
        doc="valid/test triples whose entity or relation is not in train: drop them (and say how many) or refuse",
        choices=("drop", "refuse"),
    )


@component("dataset", "kg_files")
class KGFolder(KGSpec):
    """A knowledge graph shipped in the data directory: KG/<folder>/{train,valid,test}.txt."""

    folder: str = option(MISSING, doc="the folder under <data dir>/KG: Kinships, UMLS or Nations")

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.kg_loading import load_kg_folder

        return load_kg_folder(cfg, data_dir)


@component("dataset", "triples")
class Triples(KGSpec):
    """Your own knowledge graph: TSV or CSV files of (head, relation, tail) names."""

    train: str | None = option(None, doc="training triples (with valid and test); or use path")
    valid: str | None = option(None, doc="validation triples")
    test: str | None = option(None, doc="test triples")
    path: str | None = option(
        None, doc="one file of all triples, split by train_ratio/val_ratio with split_seed"
    )
    delimiter: str = option(
        "auto",
        doc="column separator (auto: comma for .csv files, else tab)",
        choices=("auto", "tab", "comma"),
    )
    header: bool = option(False, doc="the first line names the columns (it is skipped)")
    train_ratio: float = option(0.8, doc="share of the triples for training (path only)", gt=0, lt=1)
    val_ratio: float = option(0.1, doc="share of the triples for validation (path only)", gt=0, lt=1)

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.kg_loading import load_triples

        return load_triples(cfg, data_dir)


@component("dataset", "pyg_kg")
class PyGKnowledgeGraph(KGSpec):
    """FB15k-237 or WordNet18RR through PyG (downloaded into the data directory when online)."""

    pyg_name: str = option(
        MISSING, doc="PyG's dataset: FB15k_237 or WordNet18RR", choices=("FB15k_237", "WordNet18RR")
    )

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.kg_loading import load_pyg_kg

        return load_pyg_kg(cfg, data_dir)
