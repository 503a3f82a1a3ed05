"""How node-level training batches are formed, each way one declared class (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass

from gnnexp.config.components import component, group_base, option


@group_base("loader")
@dataclass
class LoaderSpec:
    """How node-level training batches are formed: the full graph, or sampled subgraphs."""

    kind: str = "full"


@component("loader", "full")
class FullGraph(LoaderSpec):
    """Full-graph training: every epoch is one forward pass over the whole graph."""


def _fan_outs(value: list[int]) -> bool:
    return len(value) > 0 and all(k == -1 or k >= 1 for k in value)


@component("loader", "neighbor")
class NeighborSampling(LoaderSpec):
    """Neighbour-sampled mini-batches (GraphSAGE-style fan-out per layer) for large graphs."""

    num_neighbors: list[int] = option(
        doc="neighbours sampled per hop, one per layer (-1: all)",
        factory=lambda: [15, 10],
        rule=(_fan_outs, "a list of fan-outs >= 1 (or -1 for all neighbours)"),
    )
    batch_size: int = option(512, doc="seed nodes per mini-batch", ge=1)
    shuffle: bool = option(True, doc="shuffle the seed nodes every epoch")
    num_workers: int = option(0, doc="processes that sample batches in the background", ge=0)
    backend: str = option(
        "auto",
        doc="sampler: ours (torch), PyG's (needs pyg-lib or torch-sparse), or auto",
        choices=("auto", "torch", "pyg"),
    )
    eval: str = option(
        "full", doc="evaluate on the full graph or on sampled batches", choices=("full", "sampled")
    )
    eval_batch_size: int = option(2048, doc="seed nodes per evaluation batch", ge=1)
