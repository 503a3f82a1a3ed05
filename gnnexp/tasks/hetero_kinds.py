"""The tasks on typed graphs (dataset level ``hetero``), declared (torch-free)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

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


def _fan_outs_by_type(value: Any) -> bool:
    return all(
        isinstance(k, str) and k.count("__") == 2 and len(v) > 0 and all(n == -1 or n >= 1 for n in v)
        for k, v in dict(value).items()
    )


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
    num_neighbors: dict[str, list[int]] = option(
        doc="loader=neighbor: fan-outs per hop of some edge types, by src__relation__dst "
        "(the others: loader.num_neighbors)",
        factory=dict,
        rule=(_fan_outs_by_type, "a map of src__relation__dst to lists of fan-outs >= 1 (or -1)"),
    )

    seed_nodes: ClassVar[bool] = True  # loader=neighbor samples around the target's nodes

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
