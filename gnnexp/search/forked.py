"""Trial workers forked from the sweeping process, each running one trial at a time in-process.

Launching a trial in a fresh process (joblib, submitit_local) costs a Python start-up,
torch's and PyG's imports (about 3 s of CPU) and the pickling of Hydra's state with every
trial; a GCN trial on Cora lasts about half a second. A forked worker starts with
everything this process has imported and the config files already read, so it pays none of
that, and runs each trial the way the basic launcher does in-process.

Fork is safe here because it happens before this process has run any torch operation
(OpenMP's thread pool does not survive a fork) and while its one other thread, the sweep
view's, holds no lock (gnnexp.sweep_view pauses it across a fork); each trial sets its own
thread count. Linux only: on macOS system frameworks are not fork-safe, and Windows has no
fork; there the sweeper uses joblib.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

# A trial's overrides and number -> its run directory (None when it has none).
RunTrial = Callable[[list[str], int], "str | None"]

STOP = None  # what a worker reads to exit
POLL_S = 0.2
PARENT_POLL_S = 0.5


def available() -> bool:
    return sys.platform.startswith("linux")


class ForkedWorkers:
    """``n`` forked processes that each run the trials sent to them, one at a time.

    :meth:`run` may be called from several threads at once (one per search worker); each
    call takes an idle process, so at most ``n`` trials run together.
    """

    def __init__(self, run_trial: RunTrial, n: int) -> None:
        context = multiprocessing.get_context("fork")
        self._idle: queue.Queue[tuple[Any, Connection]] = queue.Queue()
        self._all: list[tuple[Any, Connection]] = []
        for _ in range(n):
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, run_trial), daemon=True)
            with warnings.catch_warnings():
                # Python 3.12+ warns of fork beside threads. The sweep view's is held out of
                # every lock across the fork (gnnexp.sweep_view); no other runs yet.
                warnings.simplefilter("ignore", DeprecationWarning)
                process.start()
            theirs.close()
            self._all.append((process, mine))
            self._idle.put((process, mine))

    def run(self, overrides: list[str], number: int) -> tuple[str, str | None]:
        """Run one trial in an idle worker: ("ran", its directory), ("interrupted", None) when
        a signal stopped it before it could save, or ("died", message)."""
        while True:
            try:
                process, conn = self._idle.get(timeout=POLL_S)
                break
            except queue.Empty:
                if not any(process.is_alive() for process, _ in self._all):
                    return "died", "every worker process has exited"
        try:
            conn.send((overrides, number))
            while not conn.poll(POLL_S):
                if not process.is_alive():
                    return "died", _death(process)
            try:
                outcome, value = conn.recv()
            except (EOFError, OSError):
                return "died", _death(process)
            return str(outcome), value
        finally:
            if process.is_alive():
                self._idle.put((process, conn))

    def interrupt(self) -> None:
        """Pass a Ctrl-C on to the workers (they are not in the terminal's process group):
        the first makes each finish its epoch and save, a second stops them at once."""
        for process, _ in self._all:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)

    def close(self, wait_s: float = 60.0) -> None:
        """Let every worker finish its trial (an interrupted one saves first), then end them."""
        for _, conn in self._all:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(STOP)
        deadline = time.monotonic() + wait_s
        try:
            for process, _ in self._all:
                process.join(max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:
            self.interrupt()
            for process, _ in self._all:
                process.join(5)
            raise
        finally:
            for process, conn in self._all:
                if process.is_alive():
                    process.kill()
                    process.join()
                conn.close()


def _death(process: Any) -> str:
    process.join(5)  # reaped, so that its exit status is known
    return f"worker process {process.pid} exited with status {process.exitcode}"


def _serve(conn: Connection, run_trial: RunTrial) -> None:
    # Out of the terminal's process group: a Ctrl-C reaches the sweeping process, which passes
    # it on once (a worker that also got the terminal's would take the two as "stop now").
    os.setpgrp()
    _end_with_parent()
    # Between trials a Ctrl-C ends the worker quietly: the sweeping process reports it.
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message is STOP:
            return
        overrides, number = message
        try:
            out_dir = run_trial(overrides, number)
        except (KeyboardInterrupt, SystemExit) as err:  # a run stopped by a signal exits 128 + signal
            if isinstance(err, SystemExit) and err.code not in (128 + signal.SIGINT, 128 + signal.SIGTERM):
                _send(conn, ("died", f"the trial's run exited with status {err.code}"))
                continue
            _send(conn, ("interrupted", None))
            return
        except BaseException as err:  # reported as a failed trial by the sweeping process
            _send(conn, ("died", f"{type(err).__name__}: {err}"))
            continue
        if not _send(conn, ("ran", out_dir)):
            return


def _end_with_parent() -> None:
    """One SIGTERM when the sweeping process dies, however it dies: the trial then stops after
    its epoch and saves, as a run told to stop does, instead of training on unowned. (Linux's
    parent-death signal can arrive twice, which a run reads as "stop now, unsaved".)"""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="gnnexp-parent-watch", daemon=True).start()


def _send(conn: Connection, message: tuple[str, str | None]) -> bool:
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # a Ctrl-C must not cut a message
        conn.send(message)
        return True
    except (BrokenPipeError, OSError):
        return False
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
