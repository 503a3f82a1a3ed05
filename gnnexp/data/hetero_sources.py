"""Heterogeneous dataset sources (typed nodes and edges), each one declared class (torch-free).

Their labels belong to the nodes of one type (``task.target``), so their level is ``hetero``:
the tasks that read typed graphs (``task=hetero_node``) declare that level. The loading code
is ``gnnexp.data.hetero_tables`` and ``gnnexp.data.hetero_readers``, imported only when a run
needs the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import MISSING

from gnnexp.config.components import component, option
from gnnexp.data.datasets import DatasetSpec

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData

# The PyG classes of heterogeneous graphs that ``dataset=hetero_pyg`` loads by name.
PYG_HETERO = ("OGB_MAG", "DBLP", "IMDB", "MovieLens", "AMiner", "LastFM")


@dataclass
class HeteroDatasetSpec(DatasetSpec):
    """A graph with several node and edge types; labels on the nodes of some types."""

    level: str = option("hetero", doc="what the labels belong to: nodes of one type", choices=("hetero",))
    reverse: bool = option(
        True,
        doc="add each edge type's reverse, named rev_<relation> (PyG's ToUndirected), so every type gets messages",
    )


@component("dataset", "hetero_files")
class HeteroFiles(HeteroDatasetSpec):
    """A typed graph from a folder of tables: nodes/<type>.csv and edges/<src>__<relation>__<dst>.csv.

    A node table: an id column, feature columns (or <type>.npy beside it), an optional label
    column; an edge table: source and target ids, optional edge-feature columns."""

    path: str = option(MISSING, doc="the folder holding nodes/ and edges/")
    id_column: str = option("id", doc="the node tables' id column (any text; edges name nodes by it)")
    label_column: str = option("label", doc="the node tables' label column, where a type has labels")
    split_column: str = option(
        "split",
        doc="optional node-table column of train/val/test (else a random split of the labelled nodes)",
    )
    source_column: str = option("source", doc="the edge tables' column of source ids")
    target_column: str = option("target", doc="the edge tables' column of target ids")

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.hetero_tables import load_hetero_files

        return load_hetero_files(cfg, data_dir)


@component("dataset", "cora_words")
class CoraWords(HeteroDatasetSpec):
    """Cora as papers and words (paper-cites-paper, paper-has-word), Planetoid's public split.

    Papers keep their bag-of-words features and labels; words get learned embeddings."""

    paper_features: bool = option(
        True, doc="give papers their bag-of-words features (false: a learned embedding)"
    )

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.hetero_readers import load_cora_words

        return load_cora_words(cfg, data_dir)


@component("dataset", "hetero_pyg")
class HeteroPyG(HeteroDatasetSpec):
    """One of PyG's heterogeneous datasets by class name (downloaded; their own splits)."""

    pyg_class: str = option(MISSING, doc="the dataset class", choices=PYG_HETERO)

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.hetero_readers import load_hetero_pyg

        return load_hetero_pyg(cfg, data_dir)


@component("dataset", "hetero_synthetic")
class HeteroSynthetic(HeteroDatasetSpec):
    """Generated items and tags: an item's class shows only in the tags it links to.

    Its own features are noise, so only a model that reads the graph can find the class."""

    num_items: int = option(600, doc="item nodes (labelled)", ge=4)
    num_tags: int = option(40, doc="tag nodes (no features: learned embeddings)", ge=2)
    num_classes: int = option(4, doc="item classes (each owns a share of the tags)", ge=2)
    num_features: int = option(8, doc="item feature columns (pure noise)", ge=1)
    tags_per_item: int = option(4, doc="tag edges per item", ge=1)
    signal: float = option(0.8, doc="share of an item's tags drawn from its class's tags", ge=0, le=1)
    data_seed: int = option(0, doc="seed of the generated graph", ge=0)

    def load(self, cfg: DictConfig, data_dir: Path) -> GraphData:
        from gnnexp.data.hetero_readers import hetero_synthetic

        return hetero_synthetic(cfg, data_dir)
