"""The optimizers, each one declared class: its settings and the torch optimizer it builds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from omegaconf import MISSING

from gnnexp.config.components import component, group_base, option
from gnnexp.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from omegaconf import DictConfig


def _betas(value: list[float]) -> bool:
    return len(value) == 2 and all(0 <= b < 1 for b in value)


# torch's parameter groups: {"params": [...]} with settings of their own where they differ.
ParamGroup = dict[str, Any]


def _fusable(groups: list[ParamGroup]) -> bool | None:
    """Whether torch's fused Adam kernel (one pass over each tensor for the whole update;
    the same update) can take ``groups``; None leaves the choice to torch."""
    params = [p for g in groups for p in g["params"]]
    devices = {p.device.type for p in params}
    return (
        True if params and devices <= {"cpu", "cuda"} and all(p.is_floating_point() for p in params) else None
    )


MODEL_LR: Any = "${model.lr}"
MODEL_WEIGHT_DECAY: Any = "${oc.select:task.weight_decay,${model.weight_decay}}"


@group_base("optimizer")
@dataclass
class OptimizerSpec:
    """Settings every optimizer takes; ``lr`` and ``weight_decay`` follow the model's by default."""

    name: str = MISSING
    # The model's recommended values unless set (a task may set its own weight decay: link
    # prediction does). Interpolations resolve in the composed config; every option file and
    # a user's own (``defaults: [base_adam]``) inherit them from here.
    lr: float = option(MODEL_LR, doc="learning rate (default: the model's, model.lr)", gt=0)
    weight_decay: float = option(
        MODEL_WEIGHT_DECAY, doc="L2 penalty (default: the task's, else the model's model.weight_decay)", ge=0
    )
    weight_decay_on: str = option(
        "all",
        doc="parameters the L2 penalty applies to: all, or the first layer's only (Kipf & Welling's GCN)",
        choices=("all", "first_layer"),
    )

    def build(self, params: list[ParamGroup]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def kwargs(self) -> dict[str, Any]:
        """The constructor arguments: every setting torch's optimizer takes."""
        out = {k: v for k, v in asdict(self).items() if k not in ("name", "weight_decay_on")}
        if "betas" in out:
            out["betas"] = tuple(out["betas"])
        return out


@component("optimizer", "adam")
class Adam(OptimizerSpec):
    """Adam (Kingma & Ba 2015)."""

    betas: list[float] = option(
        doc="decay of the moment estimates",
        factory=lambda: [0.9, 0.999],
        rule=(_betas, "two numbers in [0, 1)"),
    )
    eps: float = option(1e-8, doc="added to the denominator for stability", gt=0)
    amsgrad: bool = option(False, doc="use the AMSGrad variant")

    def build(self, params: list[ParamGroup]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.Adam(params, **self.kwargs(), fused=_fusable(params))


@component("optimizer", "adamw")
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay."""

    def build(self, params: list[ParamGroup]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.AdamW(params, **self.kwargs(), fused=_fusable(params))


@component("optimizer", "sgd")
class SGD(OptimizerSpec):
    """Stochastic gradient descent with (Nesterov) momentum."""

    momentum: float = option(0.9, doc="momentum factor", ge=0, lt=1)
    nesterov: bool = option(False, doc="Nesterov momentum")
    dampening: float = option(0.0, doc="dampening of the momentum", ge=0, lt=1)

    def build(self, params: list[ParamGroup]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.SGD(params, **self.kwargs())


def parameter_groups(model: torch.nn.Module, weight_decay_on: str) -> list[ParamGroup]:
    """``model``'s parameters in the groups the weight decay setting asks for: one group, or
    the first message-passing layer's parameters apart with every other one undecayed."""
    from gnnexp.models.gnn import GNN

    if weight_decay_on == "all":
        return [{"params": list(model.parameters())}]
    gnn = next((m for m in model.modules() if isinstance(m, GNN)), None)
    if gnn is None:
        raise ConfigError(
            "optimizer.weight_decay_on=first_layer: this model has no message-passing layers.",
            "use optimizer.weight_decay_on=all.",
        )
    first = gnn.convs[0]
    decayed = {id(p) for p in first.parameters()}
    return [
        {"params": [p for p in model.parameters() if id(p) in decayed]},
        {"params": [p for p in model.parameters() if id(p) not in decayed], "weight_decay": 0.0},
    ]


def build_optimizer(cfg: DictConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The optimizer ``cfg.name`` over ``model``'s parameters."""
    from gnnexp.config.components import instance

    spec = instance("optimizer", cfg)
    try:
        return spec.build(parameter_groups(model, spec.weight_decay_on))
    except ValueError as err:  # torch's own argument checks, e.g. nesterov without momentum
        raise ConfigError(f"optimizer={cfg.name}: {err}.", "adjust the optimizer.* values.") from err
