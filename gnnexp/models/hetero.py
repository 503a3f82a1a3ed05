"""Models on typed graphs: per-type input encoders, then a core that passes messages by type.

The core is either a built-in architecture turned heterogeneous by PyG's ``to_hetero`` (one
copy of each layer per edge type, their outputs combined per node type by ``aggr``), with no
code of its own per architecture, or a native one (HGT, R-GCN: ``gnnexp.models.hetero_archs``).
A node type with features is projected to ``hidden_channels`` by a linear map; one without
gets a learned embedding per node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.resolver import activation_resolver

from gnnexp.errors import ConfigError
from gnnexp.models.archs import GNNSpec, ModelSpec
from gnnexp.models.fast import sparse as fast
from gnnexp.models.fast.typed import TypedSAGE
from gnnexp.models.gnn import make_norm
from gnnexp.models.layout import PLAIN, Layout

EdgeType = tuple[str, str, str]
# How to_hetero may combine the outputs of a node type's edge types.
HETERO_AGGRS = ("sum", "mean", "max", "min")


@dataclass(frozen=True)
class Schema:
    """What a model of a typed graph is built for: its types, node counts, feature widths."""

    node_types: tuple[str, ...]
    edge_types: tuple[EdgeType, ...]
    num_nodes: dict[str, int]
    widths: dict[str, int]  # 0: no features (a learned embedding)

    @classmethod
    def of(cls, graph: Any) -> Schema:
        widths = {}
        for t in graph.node_types:
            x = graph[t].get("x")
            widths[t] = 0 if x is None else int(x.view(x.size(0), -1).size(1))
        return cls(
            tuple(graph.node_types),
            tuple(graph.edge_types),
            {t: int(graph[t].num_nodes) for t in graph.node_types},
            widths,
        )

    @property
    def metadata(self) -> tuple[list[str], list[EdgeType]]:
        return list(self.node_types), list(self.edge_types)


class Dropout(torch.nn.Module):
    """``torch.nn.Dropout``, or with ``uniform`` its masks drawn from uniform numbers (the same
    distribution, cheaper on CPU). A module, so that ``to_hetero``'s trace keeps it a call
    that reads ``training`` when it runs."""

    def __init__(self, p: float, uniform: bool) -> None:
        super().__init__()
        self.p, self.uniform = p, uniform

    def forward(self, x: Tensor) -> Tensor:
        return fast.dropout(x, self.p, self.training, self.uniform)


class Body(torch.nn.Module):
    """A built-in architecture's layers as a plain, traceable stack (what ``to_hetero`` copies):
    dropout, convolution, then for hidden layers norm, activation and a residual; jumping
    knowledge over the hidden layers. Layers that do not pass messages (the MLP's) read each
    node's own representation only."""

    def __init__(self, spec: GNNSpec, in_channels: int, out_channels: int, layout: Layout = PLAIN) -> None:
        super().__init__()
        self.jk = None if spec.jk == "none" else spec.jk
        width = spec.hidden_width()
        self.convs = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        self.acts = torch.nn.ModuleList()
        self.residual: list[bool] = []
        channels = in_channels
        for i in range(spec.num_layers):
            last = i == spec.num_layers - 1 and self.jk is None
            self.convs.append(
                spec.init_conv(channels, out_channels if last else spec.hidden_channels, last, layout)
            )
            if not last:
                self.norms.append(make_norm(spec.norm, width))
                self.acts.append(activation_resolver(spec.act))
                self.residual.append(spec.residual and channels == width)
            channels = width
        self.passing = [isinstance(conv, MessagePassing) for conv in self.convs]
        self.dropout = Dropout(spec.dropout, layout.uniform_dropout)
        if self.jk is not None:
            self.lin = torch.nn.Linear(width * spec.num_layers if self.jk == "cat" else width, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        hidden = []
        for i, conv in enumerate(self.convs):
            x_in = x
            x = self.dropout(x)
            x = conv(x, edge_index) if self.passing[i] else conv(x)
            if i < len(self.norms):
                x = self.acts[i](self.norms[i](x))
                if self.residual[i]:
                    x = x + x_in
                hidden.append(x)
        if self.jk is None:
            return x
        if self.jk == "cat":
            x = torch.cat(hidden, dim=-1)
        elif self.jk == "max":
            x = torch.stack(hidden, dim=0).max(dim=0).values
        else:
            x = hidden[-1]
        return self.lin(self.dropout(x))


def _self_loops_within_types(module: torch.nn.Module, schema: Schema, layers: set[int]) -> None:
    """Give back self-loops (GAT's, GCN's) to the copies of ``layers`` (positions in
    ``Body.convs``) that serve an edge type within one node type: on an edge type between two
    types a self-loop would link node i of one type to node i of the other."""
    keys = {"__".join(et) for et in schema.edge_types if et[0] == et[2]}
    for name, sub in module.named_modules():
        parts = name.split(".")
        if len(parts) != 2:
            continue
        if isinstance(sub, torch.nn.ModuleDict) and parts[0] == "convs" and int(parts[-1]) in layers:
            for key in keys & set(sub.keys()):
                conv: Any = sub[key]
                conv.add_self_loops = True


class HGTCore(torch.nn.Module):
    """HGTConv layers (dropout before each, activation after) and a linear output per type."""

    def __init__(self, spec: Any, metadata: tuple[list[str], list[EdgeType]], hidden: int, out: int) -> None:
        from torch_geometric.nn import HGTConv

        super().__init__()
        self.dropout = spec.dropout
        self.act = activation_resolver(spec.act)
        self.convs = torch.nn.ModuleList(
            HGTConv(hidden, hidden, metadata, heads=spec.heads) for _ in range(spec.num_layers)
        )
        self.out = torch.nn.ModuleDict({t: torch.nn.Linear(hidden, out) for t in metadata[0]})

    def forward(self, h: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> dict[str, Tensor]:
        for conv in self.convs:
            h = {t: F.dropout(v, self.dropout, self.training) for t, v in h.items()}
            h = {t: self.act(v) for t, v in conv(h, edge_index_dict).items() if v is not None}
        return {t: self.out[t](F.dropout(v, self.dropout, self.training)) for t, v in h.items()}


class RGCNCore(torch.nn.Module):
    """RGCNConv layers over the typed graph laid out as one graph with an edge type per edge."""

    def __init__(self, spec: Any, metadata: tuple[list[str], list[EdgeType]], hidden: int, out: int) -> None:
        from torch_geometric.nn import RGCNConv

        super().__init__()
        self.node_types, self.edge_types = list(metadata[0]), list(metadata[1])
        self.dropout = spec.dropout
        self.act = activation_resolver(spec.act)
        relations = len(self.edge_types)
        bases = spec.num_bases or None
        self.convs = torch.nn.ModuleList(
            RGCNConv(
                hidden,
                out if i == spec.num_layers - 1 else hidden,
                relations,
                num_bases=bases,
                aggr=spec.aggr,
            )
            for i in range(spec.num_layers)
        )

    def forward(self, h: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> dict[str, Tensor]:
        offsets, start = {}, 0
        for t in self.node_types:
            offsets[t], start = start, start + h[t].size(0)
        x = torch.cat([h[t] for t in self.node_types])
        edges, kinds = [], []
        for i, (src, rel, dst) in enumerate(self.edge_types):
            ei = edge_index_dict[(src, rel, dst)]
            shift = torch.tensor([[offsets[src]], [offsets[dst]]], device=ei.device)
            edges.append(ei + shift)
            kinds.append(torch.full((ei.size(1),), i, dtype=torch.long, device=ei.device))
        edge_index, edge_type = torch.cat(edges, 1), torch.cat(kinds)
        for i, conv in enumerate(self.convs):
            x = conv(F.dropout(x, self.dropout, self.training), edge_index, edge_type)
            if i < len(self.convs) - 1:
                x = self.act(x)
        return {t: x[offsets[t] : offsets[t] + h[t].size(0)] for t in self.node_types}


class HeteroModel(torch.nn.Module):
    """Encoders per node type, then the core: ``model(x_dict, edge_index_dict)`` returns a
    dict of outputs per node type. ``n_id_dict`` (sampled batches, restricted passes) names
    the nodes of each type that the pass reads, whose embeddings the featureless types use
    (a type it does not name is not read). ``edge_index_dict`` may hold one dict per layer
    (a restricted pass of ``TypedSAGE``: ``restricted_inputs``)."""

    def __init__(self, schema: Schema, hidden: int, core: torch.nn.Module) -> None:
        super().__init__()
        self.schema = schema
        self.encoders = torch.nn.ModuleDict(
            {
                t: fast.SparseAwareLinear(w, hidden) if w else torch.nn.Embedding(schema.num_nodes[t], hidden)
                for t, w in schema.widths.items()
            }
        )
        self.core = core

    def forward(
        self,
        x_dict: dict[str, Tensor],
        edge_index_dict: dict[EdgeType, Tensor] | tuple[dict[EdgeType, Tensor], ...],
        n_id_dict: dict[str, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        h = {}
        for t, encoder in self.encoders.items():
            if n_id_dict is not None and t not in n_id_dict:
                continue  # a restricted pass (fast.typed.restricted) that reads no node of t
            if isinstance(encoder, torch.nn.Embedding):
                h[t] = encoder.weight if n_id_dict is None else encoder(n_id_dict[t])
            else:
                h[t] = encoder(x_dict[t])
        return self.core(h, edge_index_dict)


def build_hetero_model(
    cfg: Any, graph: Any, out_channels: int, aggr: str, fast_paths: bool = False
) -> HeteroModel:
    """The model ``cfg`` (the model node) names, for the typed graph ``graph``: a native
    heterogeneous architecture, or a built-in one through ``to_hetero`` (its per-type outputs
    combined by ``aggr``). Run once on ``graph``, so that what cannot work is one line now."""
    from gnnexp.config.components import instance

    if cfg.get("_target_"):
        raise ConfigError(
            "model._target_ (a model class of your own) takes one node and one edge type; this dataset has several.",
            "use a built-in model (each runs on typed graphs through to_hetero), hgt or rgcn_hetero.",
        )
    spec: ModelSpec = instance("model", cfg)
    schema = Schema.of(graph)
    lonely = [t for t in schema.node_types if not any(dst == t for _, _, dst in schema.edge_types)]
    if lonely:
        raise ConfigError(
            f"Node type(s) {', '.join(lonely)} receive no edges, so message passing cannot update them.",
            "add dataset.reverse=true (rev_<relation> edges), or give them incoming edges.",
        )
    hidden = int(spec.hidden_channels)
    try:
        if getattr(spec, "hetero_only", False):  # a native one (gnnexp.models.hetero_archs)
            core = spec.core(schema.metadata, hidden, out_channels)  # type: ignore[attr-defined]
        else:
            core = _to_hetero(spec, schema, hidden, out_channels, aggr, fast_paths)
        model = HeteroModel(schema, hidden, core)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"model={spec.name} cannot be built for a typed graph: {str(err).splitlines()[0]}",
            "check the model.* values (gnnexp list model shows them).",
        ) from err
    try:
        model.eval()
        with torch.no_grad():
            out = model(*hetero_inputs(spec, graph, fast_paths))
        model.train()
    except (RuntimeError, ValueError, TypeError, KeyError, NotImplementedError) as err:
        raise ConfigError(
            f"model={spec.name} cannot run on a typed graph: {str(err).strip().splitlines()[0]}",
            "use model=sage, gat, gin, transformer, mlp, hgt or rgcn_hetero.",
        ) from err
    missing = [t for t in schema.node_types if t not in out]
    if missing:
        raise ConfigError(
            f"model={spec.name} computes nothing for node type(s) {', '.join(missing)} of this graph.",
            "give those types incoming edges (dataset.reverse=true).",
        )
    return model


def _to_hetero(
    spec: ModelSpec, schema: Schema, hidden: int, out_channels: int, aggr: str, fast_paths: bool
) -> torch.nn.Module:
    from torch_geometric.nn import to_hetero

    if not isinstance(spec, GNNSpec):
        raise ValueError(f"model={spec.name} is not a built-in architecture")
    if spec.needs_edge_features:
        raise ConfigError(
            f"model={spec.name} needs edge features, which typed graphs do not pass to its layers here.",
            "use a model without them (model=gin instead of gine), hgt or rgcn_hetero.",
        )
    if type(spec).init_conv is GNNSpec.init_conv:  # GPS: global attention, no layer to copy per type
        raise ConfigError(
            f"model={spec.name} has no message-passing layer that to_hetero can copy per edge type.",
            "use a model with one (sage, gat, gin), hgt or rgcn_hetero on typed graphs.",
        )
    if spec.drop_edge > 0:
        raise ConfigError(
            f"model.drop_edge={spec.drop_edge} drops edges of one edge list; a typed graph has one per edge type.",
            "use model.drop_edge=0 on typed graphs.",
        )
    body = Body(spec, hidden, out_channels, hetero_layout(spec, fast_paths))
    looped = {i for i, conv in enumerate(body.convs) if getattr(conv, "add_self_loops", False)}
    for i in looped:
        conv: Any = body.convs[i]
        conv.add_self_loops = False
    core = to_hetero(body, schema.metadata, aggr=aggr)
    _self_loops_within_types(core, schema, looped)
    if typed_layers(spec, aggr, fast_paths):
        # The same modules (parameters, initial values, state-dict keys), computed per node type.
        return TypedSAGE(
            core.convs, core.norms, core.acts, core.dropout, body.residual, aggr, list(schema.edge_types)
        )
    return core


def typed_layers(spec: ModelSpec | None, aggr: str, enabled: bool) -> int:
    """How many layers of ``spec`` on a typed graph run as ``gnnexp.models.fast.typed``'s
    ``TypedSAGE``, which also computes passes restricted to some nodes (0: none, the model
    is ``to_hetero``'s): GraphSAGE with mean or sum aggregation, per-node norms, no jumping
    knowledge, its edge types combined by sum or mean, on the fast paths."""
    from gnnexp.models.archs import GraphSAGE

    if (
        enabled
        and isinstance(spec, GraphSAGE)
        and spec.preferred_adjacency() in ("csr", "mean")
        and spec.rows_independent()
        and spec.jk == "none"
        and aggr in ("sum", "mean")
    ):
        return int(spec.num_layers)
    return 0


# Features denser than this stay dense: the sparse product stops paying off.
MAX_SPARSE_DENSITY = 0.1


def hetero_layout(spec: ModelSpec | None, enabled: bool) -> Layout:
    """The layout of ``to_hetero``'s layers on the fast paths: for layers that aggregate by sum
    or mean, a CSR adjacency per edge type (row-normalised for a mean) and linear maps run
    before aggregating (``gnnexp.models.fast.reordered``); dropout masks from uniform numbers."""
    if not enabled or not isinstance(spec, GNNSpec):
        return PLAIN
    kind = spec.preferred_adjacency()
    if kind in ("csr", "mean"):
        return Layout(adjacency=kind, uniform_dropout=True, reorder=True)
    return Layout(uniform_dropout=True)


def sparse_types(graph: Any) -> set[str]:
    """The node types whose features the fast paths take as CSR matrices (sparse enough)."""
    return {
        t
        for t, x in graph.x_dict.items()
        if x.is_floating_point()
        and x.dim() == 2
        and x.numel()
        and float((x != 0).float().mean()) < MAX_SPARSE_DENSITY
    }


def restricted_inputs(
    graph: Any,
    inputs: tuple[dict[str, Tensor], dict[EdgeType, Tensor]],
    target: str,
    nodes: Tensor,
    layers: int,
) -> tuple[dict[str, Tensor], tuple[dict[EdgeType, Tensor], ...], dict[str, Tensor]] | None:
    """The arguments of a pass of a model with ``typed_layers`` = ``layers`` that computes the
    outputs of ``target``'s ``nodes`` (its first rows) and only what they need; ``inputs``:
    the full pass's (:func:`hetero_inputs`, CSR adjacencies). None where it would compute
    nearly as much as the full pass."""
    from gnnexp.models.fast.typed import restricted

    return restricted(dict(graph.x_dict), inputs[1], target, nodes, layers, sparse_types(graph))


def hetero_inputs(
    spec: ModelSpec | None, graph: Any, enabled: bool
) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor]]:
    """``(x_dict, edge_index_dict)`` of ``graph`` in the layout of :func:`hetero_layout`, and
    sparse features as CSR matrices (the encoders' products are then sparse). The model's
    parameters and outputs are those of the plain layout (edge lists, dense features)."""
    from torch_geometric.utils import to_torch_csr_tensor

    x_dict, edges = dict(graph.x_dict), dict(graph.edge_index_dict)
    if not enabled:
        return x_dict, edges
    for t in sparse_types(graph):
        x_dict[t] = fast.with_transpose(fast.csr(x_dict[t]))
    kind = hetero_layout(spec, enabled).adjacency
    if kind in ("csr", "mean"):
        for (src, rel, dst), edge_index in edges.items():
            size = (int(graph[dst].num_nodes), int(graph[src].num_nodes))
            adj_t = fast.csr(to_torch_csr_tensor(edge_index.flip(0), fast.edge_ones(edge_index), size=size))
            edges[(src, rel, dst)] = fast.with_transpose(
                fast.mean_adjacency(adj_t) if kind == "mean" else adj_t
            )
    return x_dict, edges
