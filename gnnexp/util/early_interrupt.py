"""A Ctrl-C that arrives while torch, PyG and Hydra import must not be lost.

Some C code run during those imports clears any pending Python error, a KeyboardInterrupt
included, so Python's own handler can raise into a place that swallows it: the run then
trains on as if nothing happened. This handler also remembers the signal, so the training
loop (which installs its own handler) and the command's exit status can still honour it.
Signal handlers are per process, so the memory is too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class _Latch:
    received = False


@contextmanager
def watch() -> Iterator[None]:
    """The remembering handler while a command runs (signals reach the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Latch.received = False
    previous = signal.signal(signal.SIGINT, _remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def received() -> bool:
    """Whether a Ctrl-C arrived since :func:`watch` began and nobody has taken it."""
    return _Latch.received


def take() -> bool:
    """Whether a Ctrl-C arrived and was not acted on; the caller acts on it now."""
    was, _Latch.received = _Latch.received, False
    return was


def _remember(signum: int, frame: FrameType | None) -> None:
    _Latch.received = True
    raise KeyboardInterrupt
