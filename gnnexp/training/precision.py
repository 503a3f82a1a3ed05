"""Mixed precision: ``trainer.precision`` = 32, bf16 or 16 (fp16 with loss scaling)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

DTYPES = {"32": None, "bf16": torch.bfloat16, "16": torch.float16}


class Precision:
    """Autocast for forward passes and, for fp16, a gradient scaler around the step.

    With a scaler, an occasional non-finite gradient is expected: the scaler skips that
    step and lowers its scale, so only a non-finite loss counts as divergence.
    """

    def __init__(self, precision: str, device: torch.device) -> None:
        self.name = precision
        self.dtype = DTYPES[precision]
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type) if precision == "16" else None

    def autocast(self) -> AbstractContextManager[Any]:
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring gradients back to their true scale (before clipping or checking them)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


FULL = Precision("32", torch.device("cpu"))
