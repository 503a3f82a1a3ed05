"""Ctrl-C and SIGTERM during training: finish the epoch, save, then stop; twice: stop now."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from gnnexp.errors import say
from gnnexp.records import EpochRecord
from gnnexp.training.callbacks import INTERRUPTED, Callback, FitOutcome
from gnnexp.training.state import TrainState
from gnnexp.util import early_interrupt

_SIGNALLED = threading.Event()  # a stop signal reached a run of this process


def signalled() -> bool:
    """Whether a run in this process was told to stop by a signal (signals are per process)."""
    return _SIGNALLED.is_set()


class StopOnSignal(Callback):
    """The first SIGINT/SIGTERM asks the loop to stop after this epoch.

    A second signal exits at once (status 128 + signal): every file gnnexp writes is
    replaced atomically or flushed row by row, so nothing already written is left half-done.
    ``agree`` turns this process's answer into every process's (DDP ranks stop together).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, agree: Callable[[bool], bool] = bool) -> None:
        self.signum: int | None = None
        self.agree = agree
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        _SIGNALLED.clear()  # a signal to an earlier run of this process (a notebook) is not this one's
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
            if early_interrupt.take():  # a Ctrl-C during start-up that a library swallowed
                self._handle(signal.SIGINT, None)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __call__(self) -> bool:
        return self.signum is not None

    def on_start(self, state: TrainState) -> None:
        self.__enter__()

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if self.agree(self()):
            state.stop = INTERRUPTED

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        self.__exit__()

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self.__exit__()

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            _say(f"gnnexp: {name} again: stopping now.\n")
            os._exit(128 + signum)
        self.signum = signum
        _SIGNALLED.set()
        # A closed stderr (the pipe's reader died with the same Ctrl-C) must not raise here:
        # raised inside the loop, it would fail the run instead of stopping it cleanly.
        _say(f"gnnexp: {name}: finishing this epoch, then saving checkpoints/last.pt (again to quit now).\n")


def _say(text: str) -> None:
    """``text`` on stderr from a signal handler, which may run in the middle of a rich print.

    Under the live progress bar, sys.stderr is rich's proxy, which prints through the same
    console: re-entered there, the interrupted print's row came out twice. The handler writes
    to the real stderr instead, first clearing the bar's line (the bar redraws below).
    """
    proxied = getattr(sys.stderr, "rich_proxied_file", None)
    if proxied is not None:
        say("\r\x1b[2K" + text, proxied)
    else:
        say("\n" + text)
