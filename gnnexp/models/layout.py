"""How a model takes its inputs: chosen once, when the model is built (torch-free record).

The fast layouts compute exactly what the plain one does (see ``gnnexp.models.fast``); a
model is built for one layout and the task prepares its inputs in the same layout, so
nothing is switched on a model or a task after construction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """``sparse_features``: node features as a CSR matrix; ``adjacency``: ``coo`` (edge list),
    ``csr`` (plain CSR matrix), ``mean`` (CSR normalised by in-degree), ``gcn`` (CSR with
    GCN's normalisation already applied) or ``attention`` (CSR with GAT's self-loops);
    ``uniform_dropout``: dropout masks drawn as ``uniform >= p`` (same distribution);
    ``edge_dim``: the width of the edge features the model takes with each edge (None: the
    model gets none, because the data has none or the architecture cannot use them);
    ``reorder``: linear maps run before mean/sum aggregation where that is cheaper
    (``gnnexp.models.fast.reordered``); ``trim``: sampled mini-batches come with their per-hop
    node and edge counts, and each layer computes only the nodes later layers still need
    (PyG's ``trim_to_layer``); ``pe_dim``: the last columns of the node features that are
    positional encodings (``transform=[random_walk_pe]``), which a model may encode apart."""

    sparse_features: bool = False
    adjacency: str = "coo"
    uniform_dropout: bool = False
    edge_dim: int | None = None
    reorder: bool = False
    trim: bool = False
    pe_dim: int = 0


PLAIN = Layout()
