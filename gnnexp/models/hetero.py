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
from torch import Tensor

from gnnexp.errors import ConfigError
from gnnexp.models.archs import GNNSpec, ModelSpec
from gnnexp.models.fast import sparse as fast
from gnnexp.models.fast.typed import TypedSAGE
from gnnexp.models.hetero_body import Body
from gnnexp.models.hetero_inputs import EdgeType, hetero_inputs, hetero_layout, typed_layers

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
    unlinked = [t for t in lonely if not any(src == t for src, _, _ in schema.edge_types)]
    if unlinked:  # no edge type names them at all: reverse edges cannot help
        raise ConfigError(
            f"Node type(s) {', '.join(unlinked)} appear in no edge type, so message passing cannot update them.",
            "give them edges (an edge table naming them), or remove their node tables.",
        )
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
