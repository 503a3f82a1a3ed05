"""The tasks on typed graphs (dataset level ``hetero``), declared (torch-free)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gnnexp.config.components import component, option
from gnnexp.models.layout import PLAIN, Layout
from gnnexp.tasks.kinds import TaskSpec

if TYPE_CHECKING:
    import torch
    from omegaconf import DictConfig

    from gnnexp.data.loading import GraphData
    from gnnexp.tasks.base import Task
    from gnnexp.util.ranks import Dist

HETERO_AGGRS = ("sum", "mean", "max", "min")


@dataclass
class HeteroTaskSpec(TaskSpec):
    """A task on a typed graph; built-in models run on it through PyG's ``to_hetero``."""

    hetero_aggr: str = option(
        "sum",
        doc="how a node type combines what its edge types bring (to_hetero models; hgt and rgcn_hetero have their own)",
        choices=HETERO_AGGRS,
    )

    levels = ("hetero",)

    def model(self, cfg: DictConfig, in_channels: int, out_channels: int, layout: Layout = PLAIN) -> Any:
        raise NotImplementedError("a typed graph's model is built from its graph (hetero_model)")

    def hetero_model(
        self, cfg: DictConfig, graph: Any, out_channels: int, fast: bool = False
    ) -> torch.nn.Module:
        """The network this task trains on ``graph`` (the model node ``cfg``); ``fast``: for
        the fast paths (the same parameters and outputs)."""
        from gnnexp.models.hetero import build_hetero_model

        return build_hetero_model(cfg, graph, out_channels, self.hetero_aggr, fast)


@component("task", "hetero_node")
class HeteroNodeTaskSpec(HeteroTaskSpec):
    """Node classification or regression on one node type of a typed graph (task.target)."""

    target: str | None = option(None, doc="the node type to predict (null: the one type with labels)")

    def build(
        self, cfg: DictConfig, data: GraphData, device: torch.device, fold: int | None, dist: Dist, fast: bool
    ) -> Task:
        from gnnexp.tasks.hetero_node import HeteroNodeTask

        return HeteroNodeTask(cfg, data, device, fast)

    def predictions(
        self,
        cfg: DictConfig,
        data: GraphData,
        shape: dict[str, Any] | None,
        load: Callable[[torch.nn.Module], None],
    ) -> tuple[list[str], list[list[Any]]]:
        """Header and rows of predictions, one row per node of the target type, by the model
        ``cfg`` describes with the trained weights (``load`` puts them in)."""
        from gnnexp.tasks.hetero_node import predict_nodes

        return predict_nodes(cfg, data, shape, load)
