"""Applying the ``transform=[...]`` list to a loaded dataset (torch and PyG code).

The transforms run once, when a dataset is loaded, in the order given; the result is
cached with the transform settings in its key, per process (``loading.load_dataset``) and on
disk under the data directory (``gnnexp.data.transform_cache``), so a changed option never
reuses an older result. Positional encodings (each transform's
``pe_attr``) are then appended to the node features, last, in that order: every model takes
them as input columns, and ``GraphData.pe_dim`` says how many of the last columns they are
(GPS feeds them through its own encoder).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import torch
from omegaconf import OmegaConf

from gnnexp.config.components import declared
from gnnexp.data.loading import GraphData, _edge_width
from gnnexp.data.transforms import GDC, LaplacianPE, OneHotDegree, TransformSpec
from gnnexp.errors import DataError

# The seed of the draws a transform makes (the Laplacian encoding's signs): a dataset is
# transformed the same way in every run and every process.
SEED = 0


def specs(node: Any) -> list[tuple[str, TransformSpec]]:
    """The transforms a ``transform`` config node chooses, in order, with their settings."""
    values = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    assert values is None or isinstance(values, dict)
    kinds = declared("transform")
    return [(str(name), kinds[str(name)](**(settings or {}))) for name, settings in (values or {}).items()]


def apply_transforms(data: GraphData, node: Any, applied: list[Any] | None = None) -> GraphData:
    """``data`` with every graph transformed as ``node`` (the ``transform`` config) says.

    ``applied``: the graphs this function gave for the same data and settings before (kept on
    disk by ``gnnexp.data.transform_cache``), used instead of transforming again."""
    chosen = specs(node)
    if not chosen:
        return data
    import torch_geometric.transforms as T

    graphs = [data.graphs] if data.level == "node" else list(data.graphs)
    for name, spec in chosen:
        _check_fits(name, spec, graphs, data.name)
    composed = T.Compose([build(spec) for _, spec in chosen])
    pe = [(spec.pe_attr, spec.pe_width()) for _, spec in chosen if spec.pe_attr is not None]
    out = applied
    if out is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            out = [_with_pe(composed(graph), pe) for graph in graphs]
    names = ", ".join(name for name, _ in chosen)
    pe_dim = sum(width for _, width in pe)
    redraw = None
    if any(spec.random() for _, spec in chosen):  # training graphs: the whole list, drawn anew

        def fresh(graph: Any) -> Any:
            return _with_pe(composed(graph), pe)

        redraw = functools.partial(Redrawn, graphs, fresh)
    return dataclasses.replace(
        data,
        redraw=redraw,
        graphs=out[0] if data.level == "node" else out,
        num_features=int(out[0].num_node_features),
        num_edge_features=_edge_width(out[0]),
        pe_dim=pe_dim,
        notes={**data.notes, "transforms": names + (f" ({pe_dim} PE columns)" if pe_dim else "")},
    )


class Redrawn(torch.utils.data.Dataset):
    """``graphs[indices[i]]`` transformed anew each time item ``i`` is read: a random transform
    draws again for every training graph in every epoch (with the run's seeded generator)."""

    def __init__(self, graphs: list[Any], transform: Callable[[Any], Any], indices: list[int]) -> None:
        self.graphs, self.transform, self.indices = graphs, transform, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.transform(self.graphs[self.indices[i]])


def build(spec: TransformSpec) -> Any:
    """The PyG transform a declared one names, called with its arguments."""
    import torch_geometric.transforms as T

    return getattr(T, spec.pyg)(**spec.arguments())


def _with_pe(graph: Any, pe: list[tuple[str, int]]) -> Any:
    """``graph`` with its positional encodings appended to ``x`` (and no longer apart)."""
    if not pe:
        return graph
    columns = []
    for attr, _ in pe:
        columns.append(graph[attr].float().view(graph.num_nodes, -1))
        del graph[attr]
    x = graph.x
    graph.x = torch.cat(columns if x is None else [x.float().view(graph.num_nodes, -1), *columns], dim=-1)
    return graph


def _check_fits(name: str, spec: TransformSpec, graphs: list[Any], dataset: str) -> None:
    """A transform the data cannot take ends in one line, before PyG fails on it."""
    from torch_geometric.utils import degree

    if isinstance(spec, OneHotDegree):
        largest = max(
            (
                int(degree(g.edge_index[1 if spec.in_degree else 0], g.num_nodes).max())
                for g in graphs
                if g.num_edges
            ),
            default=0,
        )
        if largest > spec.max_degree:
            raise DataError(
                f"transform.{name}.max_degree={spec.max_degree} is below the largest degree of "
                f"dataset={dataset} ({largest}).",
                f"set transform.{name}.max_degree={largest}.",
            )
    if isinstance(spec, LaplacianPE):
        smallest = min(int(g.num_nodes) for g in graphs)
        if smallest <= spec.k:
            raise DataError(
                f"transform.{name}.k={spec.k} needs graphs of more than k nodes; dataset={dataset} "
                f"has one of {smallest}.",
                f"set transform.{name}.k={max(1, smallest - 1)} or lower.",
            )
    if isinstance(spec, GDC):
        edge_attr = graphs[0].edge_attr
        if edge_attr is not None and edge_attr.dim() != 1:
            raise DataError(
                f"transform={name} reads edge_attr as edge weights, and dataset={dataset} has "
                f"{_edge_width(graphs[0])} features per edge.",
                "drop the edge features (e.g. dataset.use_edge_attr=false) or drop gdc.",
            )
