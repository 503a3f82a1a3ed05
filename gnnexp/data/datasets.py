"""Dataset sources, each one declared class: its settings and how it loads (torch-free).

``dataset=cora`` picks an option file whose ``source`` names one of these; the loading code
(``gnnexp.data.loading`` and the sources' readers: ``gnnexp.data.pyg_readers``,
``gnnexp.data.synthetic_readers``, ...) is imported only when a run needs the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import MISSING

from gnnexp.config.components import component, group_base, option
from gnnexp.metrics import METRICS

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData

# What the labels belong to, and the task kinds that can use them.
LEVELS = ("node", "graph")


def _ratio(default: float, what: str) -> Any:
    return option(default, doc=f"share of the {what} (datasets without a fixed split)", gt=0, lt=1)


@group_base("dataset")
@dataclass
class DatasetSpec:
    """A graph dataset; ``source`` names how it is loaded.

    Datasets without split masks are split at random by ``train_ratio``/``val_ratio`` with
    ``split_seed``.
    """

    name: str = MISSING
    source: str = MISSING
    _target_: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    level: str = option("node", doc="what the labels belong to", choices=LEVELS)
    target: str = option("classification", doc="kind of label", choices=("classification", "regression"))
    metric: str = option("accuracy", doc="the metric reported and monitored", choices=tuple(METRICS))
    normalize_features: bool = option(False, doc="scale each node's features to sum to one")
    train_ratio: float = _ratio(0.6, "training nodes")
    val_ratio: float = _ratio(0.2, "validation nodes")
    split_seed: int = option(0, doc="seed of the random split", ge=0)

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        raise NotImplementedError


@component("dataset", "planetoid")
class Planetoid(DatasetSpec):
    """Cora, CiteSeer, PubMed citation graphs (Planetoid splits)."""

    pyg_name: str = option(MISSING, doc="PyG's name of the graph: Cora, CiteSeer or PubMed")
    split: str = option("public", doc="Planetoid's split", choices=("public", "full", "geom-gcn", "random"))

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.pyg_readers import planetoid

        return planetoid(cfg, data_dir)


@component("dataset", "tu")
class TU(DatasetSpec):
    """Any TU Dortmund graph collection; graphs without node features get one-hot degrees."""

    pyg_name: str = option(MISSING, doc="the collection's name (MUTAG, PROTEINS, IMDB-BINARY...)")
    use_node_attr: bool = option(False, doc="also use the continuous node attributes")
    use_edge_attr: bool = option(True, doc="give edges their attributes (MUTAG: the 4 bond types)")

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.pyg_readers import tu

        return tu(cfg, data_dir)


@component("dataset", "pyg")
class PyGClass(DatasetSpec):
    """Any PyG dataset class named by ``dataset._target_`` (its constructor gets root, name, kwargs)."""

    pyg_name: str | None = option(None, doc="the name the class is given (default: dataset.name)")

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.pyg_readers import pyg_class

        return pyg_class(cfg, data_dir)


@component("dataset", "files")
class Files(DatasetSpec):
    """A user's graph: an edge list CSV plus node features and labels (CSV or .npy)."""

    edges: str = option(MISSING, doc="CSV with a header row and two columns: source,target (0-based)")
    features: str | None = option(None, doc=".npy (nodes x features) or CSV; null: a constant feature")
    labels: str | None = option(MISSING, doc=".npy or one-column CSV; null: an unlabelled graph (predict)")
    undirected: bool = option(True, doc="add the reverse of every edge")

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.files import load_files

        return load_files(cfg, data_dir)


@component("dataset", "smiles")
class Smiles(DatasetSpec):
    """Molecules from SMILES: a CSV (or .smi) file, featurised by RDKit as PyG's from_smiles does."""

    path: str = option(MISSING, doc="CSV with a SMILES column and target columns, or a .smi file")
    smiles: str = option("smiles", doc="the CSV column holding the SMILES")
    targets: list[str] = option(doc="the CSV columns to predict (one or more)", factory=list)
    invalid: str = option(
        "skip",
        doc="SMILES RDKit cannot read: skip them (and say which rows) or refuse the file",
        choices=("skip", "refuse"),
    )
    split: str = option(
        "scaffold",
        doc="scaffold: Bemis-Murcko scaffolds never shared across splits (seeded by task.split_seed); "
        "random: stratified by class (k-fold with trainer.folds)",
        choices=("scaffold", "random"),
    )

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.molecules import load_smiles

        return load_smiles(cfg, data_dir)


@component("dataset", "ogbg")
class OGBGraph(DatasetSpec):
    """An Open Graph Benchmark graph dataset (ogbg-*): its official split, scored by ogb's Evaluator."""

    ogb_name: str = option(
        MISSING, doc="OGB's name of it: ogbg-molhiv, ogbg-molesol, ogbg-molfreesolv, ogbg-mollipo"
    )

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.ogb_sets import load_ogbg

        return load_ogbg(cfg, data_dir)


@component("dataset", "ogbn")
class OGBNode(DatasetSpec):
    """An Open Graph Benchmark node dataset (ogbn-*): its official split, scored by ogb's Evaluator."""

    ogb_name: str = option(MISSING, doc="OGB's name of it: ogbn-arxiv, ogbn-products")

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.ogb_sets import load_ogbn

        return load_ogbn(cfg, data_dir)


@component("dataset", "ogbl")
class OGBLink(DatasetSpec):
    """An Open Graph Benchmark link dataset (ogbl-*): its edges and negatives, Hits@K by ogb's Evaluator."""

    ogb_name: str = option(MISSING, doc="OGB's name of it: ogbl-collab, ogbl-ddi, ogbl-ppa")

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.ogb_sets import load_ogbl

        return load_ogbl(cfg, data_dir)


@component("dataset", "synthetic")
class Synthetic(DatasetSpec):
    """A planted-partition graph generated from ``data_seed`` (no download)."""

    num_nodes: int = option(2000, doc="nodes", ge=2)
    num_classes: int = option(4, doc="communities (classes)", ge=2)
    num_features: int = option(32, doc="feature columns", ge=1)
    avg_degree: float = option(8.0, doc="mean degree", gt=0)
    homophily: float = option(0.8, doc="share of edges inside a community", ge=0, le=1)
    feature_signal: float = option(0.2, doc="how strongly features encode the class", ge=0)
    data_seed: int = option(0, doc="seed of the generated graph", ge=0)

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.synthetic_readers import synthetic

        return synthetic(cfg, data_dir)


@component("dataset", "synthetic_graphs")
class SyntheticGraphs(DatasetSpec):
    """Many small random graphs: dense or sparse, or (regression) their mean degree."""

    num_graphs: int = option(300, doc="graphs", ge=10)
    min_nodes: int = option(8, doc="nodes of the smallest graph", ge=2)
    max_nodes: int = option(24, doc="nodes of the largest graph", ge=2)
    num_features: int = option(4, doc="feature columns", ge=1)
    data_seed: int = option(0, doc="seed of the generated graphs", ge=0)

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.synthetic_readers import synthetic_graphs

        return synthetic_graphs(cfg, data_dir)
