"""Graph transforms, each one declared class: its settings and the PyG transform it builds.

``transform=[normalize_features,random_walk_pe]`` selects several, applied in that order;
each option file holds one transform's settings under its name
(``transform.random_walk_pe.walk_length=16``). Torch-free: configs are composed, checked and
listed without PyG; ``gnnexp.data.transforming`` builds each from its ``pyg`` class name
and :meth:`TransformSpec.arguments`.

A transform that writes a positional encoding names the attribute (``pe_attr``) and its
width (:meth:`TransformSpec.pe_width`); loading appends it to the node features, so every
model gets it as input columns (``gnnexp.data.transforming``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from gnnexp.config.components import component, option
from gnnexp.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig


@dataclass
class TransformSpec:
    """A transform of every graph of a dataset.

    ``pe_attr``: the attribute its positional encoding is written to (None: it writes none);
    ``edges``: it reads or rewires the edge list, so on a link task it would see the held-out
    edges; :meth:`random`: it draws anew for every training graph in every epoch.
    """

    pe_attr: ClassVar[str | None] = None
    edges: ClassVar[bool] = True
    pyg: ClassVar[str] = ""  # the class of ``torch_geometric.transforms`` it builds

    def arguments(self) -> dict[str, Any]:
        """What the PyG class is called with (``gnnexp.data.transforming.build`` calls it)."""
        return {}

    def pe_width(self) -> int:
        """Columns of its positional encoding (0: none)."""
        return 0

    def random(self) -> bool:
        """Whether it is drawn again for each training graph in each epoch (else: once, at loading)."""
        return False

    def check(self, name: str, cfg: DictConfig) -> None:
        """Refuse a run this transform does not fit (the data-dependent checks run at loading)."""
        if self.random() and cfg.task.kind != "graph":
            raise ConfigError(
                f"transform={name} is drawn again for each training graph in each epoch, which gnnexp "
                f"does for task=graph only (this is task={cfg.task.kind}).",
                f"drop the {name} setting that makes it random, or use it on a graph task.",
            )
        if self.edges and cfg.task.kind == "link":
            raise ConfigError(
                f"transform={name} reads the whole edge list, so on task=link it would see the held-out "
                "edges it is tested on.",
                f"drop {name} from transform=[...] for link prediction.",
            )


@component("transform", "normalize_features")
class NormalizeFeatures(TransformSpec):
    """Scale each node's features to sum to one (NormalizeFeatures)."""

    edges = False
    pyg = "NormalizeFeatures"


@component("transform", "to_undirected")
class ToUndirected(TransformSpec):
    """Add the reverse of every edge (ToUndirected)."""

    reduce: str = option(
        "add", doc="how the features of an edge and its reverse merge", choices=("add", "mean", "max", "min")
    )

    pyg = "ToUndirected"

    def arguments(self) -> dict[str, Any]:
        return {"reduce": self.reduce}


@component("transform", "add_self_loops")
class AddSelfLoops(TransformSpec):
    """A self-loop on every node (AddSelfLoops); new loops' edge features get fill_value."""

    fill_value: float = option(1.0, doc="edge features of the new loops")

    pyg = "AddSelfLoops"

    def arguments(self) -> dict[str, Any]:
        return {"attr": "edge_attr", "fill_value": self.fill_value}


@component("transform", "random_walk_pe")
class RandomWalkPE(TransformSpec):
    """Random-walk structural encoding (AddRandomWalkPE): return probabilities of 1..walk_length steps."""

    walk_length: int = option(20, doc="steps of the walk: the width of the encoding", ge=1, le=256)

    pe_attr = "random_walk_pe"
    pyg = "AddRandomWalkPE"

    def arguments(self) -> dict[str, Any]:
        return {"walk_length": self.walk_length, "attr_name": self.pe_attr}

    def pe_width(self) -> int:
        return self.walk_length


@component("transform", "laplacian_pe")
class LaplacianPE(TransformSpec):
    """Laplacian eigenvector encoding (AddLaplacianEigenvectorPE): the k smallest non-trivial eigenvectors."""

    k: int = option(4, doc="eigenvectors: the width of the encoding (graphs need more than k nodes)", ge=1)
    resign: bool = option(
        False,
        doc="draw the eigenvectors' signs again for each training graph in each epoch (the GPS paper's "
        "augmentation; graph tasks); false: once, from a fixed seed",
    )

    pe_attr = "laplacian_eigenvector_pe"
    pyg = "AddLaplacianEigenvectorPE"

    def arguments(self) -> dict[str, Any]:
        # The datasets' edge lists hold both directions: the symmetric solver applies. PyG
        # draws a random sign per eigenvector (an eigenvector's sign is arbitrary).
        return {"k": self.k, "attr_name": self.pe_attr, "is_undirected": True}

    def random(self) -> bool:
        return self.resign

    def pe_width(self) -> int:
        return self.k


@component("transform", "virtual_node")
class VirtualNode(TransformSpec):
    """One extra node joined to every node in both directions (VirtualNode; edge_type marks its edges)."""

    pyg = "VirtualNode"


@component("transform", "one_hot_degree")
class OneHotDegree(TransformSpec):
    """Each node's degree, one-hot, appended to (or replacing) its features (OneHotDegree)."""

    max_degree: int = option(10, doc="largest degree encoded (the data's largest must not exceed it)", ge=0)
    in_degree: bool = option(False, doc="count incoming rather than outgoing edges")
    cat: bool = option(True, doc="append to the node features (false: replace them)")

    pyg = "OneHotDegree"

    def arguments(self) -> dict[str, Any]:
        return {"max_degree": self.max_degree, "in_degree": self.in_degree, "cat": self.cat}


@component("transform", "local_degree_profile")
class LocalDegreeProfile(TransformSpec):
    """Five degree statistics of each node's neighbourhood appended to its features (LocalDegreeProfile)."""

    pyg = "LocalDegreeProfile"


@component("transform", "gdc")
class GDC(TransformSpec):
    """Graph diffusion convolution (GDC): edges rewired to a sparsified diffusion, weights in edge_attr."""

    method: str = option(
        "ppr", doc="the diffusion: personalised PageRank or heat kernel", choices=("ppr", "heat")
    )
    alpha: float = option(0.05, doc="ppr: teleport probability", gt=0, lt=1)
    t: float = option(5.0, doc="heat: diffusion time", gt=0)
    avg_degree: int = option(64, doc="edges kept per node on average (largest weights first)", ge=1)

    pyg = "GDC"

    def arguments(self) -> dict[str, Any]:
        diffusion = (
            {"method": "ppr", "alpha": self.alpha}
            if self.method == "ppr"
            else {"method": "heat", "t": self.t}
        )
        return {
            "diffusion_kwargs": diffusion,
            "sparsification_kwargs": {"method": "threshold", "avg_degree": self.avg_degree},
            "exact": True,
        }
