"""Seeds and RNG state, so that runs repeat exactly and resume where they stopped."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_deterministic(enabled: bool, compiled: bool = False) -> None:
    """torch's deterministic algorithms (``trainer.deterministic``); an op without one warns.

    ``compiled``: the model runs under torch.compile (``trainer.compile``). Only then is
    torch's public switch used: besides the ATen flag it sets, it imports torch._inductor
    (about a second, paid by every run and every search trial's process) to tell the
    compiler. An eager model needs the ATen flag alone. tests/test_units.py checks that the
    flag is set and inductor left unimported, and fails if torch renames the setter.
    Uninitialised memory is left as is: filling every ``torch.empty`` would cost time and
    changes no result, since gnnexp writes every tensor it allocates.
    """
    if compiled:
        torch.use_deterministic_algorithms(enabled, warn_only=True)
    else:
        torch._C._set_deterministic_algorithms(enabled, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]


def rng_state() -> dict[str, Any]:
    """Every generator's state as plain data (loadable with ``weights_only=True``)."""
    # legacy=True (the default) gives a tuple; numpy's stubs pick the dict overload.
    np_state = cast("tuple[Any, ...]", np.random.get_state())
    version, words, gauss = random.getstate()
    state: dict[str, Any] = {
        # As a tensor: 625 Python ints would cost a checksum and a pickle op each.
        "python": [version, torch.tensor(words, dtype=torch.int64), gauss],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, words, gauss = state["python"]
    random.setstate((version, tuple(int(w) for w in words), gauss))
    name, keys, *others = state["numpy"]
    np.random.set_state((name, keys.numpy(), *others))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with every generator seeded, leaving the outer RNG state untouched."""
    state = rng_state()
    seed_everything(seed)
    try:
        yield
    finally:
        set_rng_state(state)
