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

from gnnexp.process import VIEW_THREAD, is_command

# A trial's overrides and number -> its run directory (None when it has none).
RunTrial = Callable[[list[str], int], "str | None"]

STOP = None  # what a worker reads to exit
POLL_S = 0.2
PARENT_POLL_S = 0.5


def available() -> bool:
    """Whether forking is safe here: on Linux, in gnnexp's own command process, with no
    thread but the sweep view's. A caller's process (a notebook, a test calling gnnexp
    in-process) may have threads, torch's among them, whose locks a fork would copy held."""
    if not sys.platform.startswith("linux") or not is_command():
        return False
    main = threading.main_thread()
    return all(t is main or t.name == VIEW_THREAD for t in threading.enumerate())


class ForkedWorkers:
    """``n`` forked processes that each run the trials sent to them, one at a time.

    :meth:`run` may be called from several threads at once (one per search worker); each
    call takes an idle process, so at most ``n`` trials run together. A process that dies
    (killed for memory, say) is not replaced, since forking beside the search's threads is
    not safe: the others go on, and once none is left :meth:`run` answers "gone".
    """

    def __init__(self, run_trial: RunTrial, n: int) -> None:
        context = multiprocessing.get_context("fork")
        self._idle: queue.Queue[tuple[Any, Connection]] = queue.Queue()
        self._all: list[tuple[Any, Connection]] = []
        for _ in range(n):
            mine, theirs = context.Pipe()
            # Not a daemon: a trial may start processes of its own (loader workers, DDP).
            # The child closes its copies of this process's ends of every pipe, so that each
            # worker sees its own pipe end when the search does.
            ends = [mine, *(end for _, end in self._all)]
            process = context.Process(target=_serve, args=(theirs, run_trial, ends), daemon=False)
            with warnings.catch_warnings():
                # Python 3.12+ warns of fork beside threads. The sweep view's is held out of
                # every lock across the fork (gnnexp.sweep_view); no other runs yet.
                warnings.simplefilter("ignore", DeprecationWarning)
                process.start()
            theirs.close()
            self._all.append((process, mine))
            self._idle.put((process, mine))

    def alive(self) -> int:
        return sum(process.is_alive() for process, _ in self._all)

    def run(self, overrides: list[str], number: int) -> tuple[str, str | None]:
        """Run one trial in an idle worker: ("ran", its directory); ("interrupted", None) when
        a signal stopped it; ("died", why) when its worker died under it; ("gone", why) when
        no worker is left to run it."""
        while True:
            try:
                process, conn = self._idle.get(timeout=POLL_S)
            except queue.Empty:
                if not self.alive():
                    return "gone", "every worker process has exited"
                continue
            try:
                conn.send((overrides, number))
            except (BrokenPipeError, OSError):  # died while idle: the trial has not started
                continue
            break
        outcome, value = "died", ""
        try:
            while not conn.poll(POLL_S):
                if not process.is_alive():
                    return outcome, _death(process)
            try:
                outcome, value = conn.recv()
            except (EOFError, OSError):
                return "died", _death(process)
            return str(outcome), value
        finally:
            if outcome in ("ran", "failed") and process.is_alive():
                self._idle.put((process, conn))  # an interrupted worker ends

    def interrupt(self) -> None:
        """Pass a Ctrl-C on to the workers (they are not in the terminal's process group):
        the first makes each finish its epoch and save, a second stops them at once."""
        for process, _ in self._all:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)

    def close(self) -> None:
        """Let every worker finish its trial (an interrupted one after its epoch, saved), then
        end them; a Ctrl-C meanwhile stops them at once."""
        for _, conn in self._all:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(STOP)
        try:
            for process, _ in self._all:
                process.join()
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
    return f"its worker process exited with status {process.exitcode}"


def _serve(conn: Connection, run_trial: RunTrial, parent_ends: list[Connection]) -> None:
    for end in parent_ends:
        end.close()
    # Out of the terminal's process group: a Ctrl-C reaches the sweeping process, which passes
    # it on once (a worker that also got the terminal's would take the two as "stop now").
    os.setpgrp()
    # A background process group may not write to a terminal set to "stty tostop" unless it
    # ignores this signal; the search's output is its own view, the workers' goes to files.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    _end_with_parent()
    while True:
        message = None
        try:
            message = conn.recv()
            if message is STOP:
                return
            overrides, number = message
            outcome = _run(run_trial, overrides, number)
        except (EOFError, OSError):
            return
        except KeyboardInterrupt:  # between trials (no message yet): just end
            if message is None:
                return
            outcome = ("interrupted", None)
        if not _send(conn, outcome) or outcome[0] == "interrupted":
            return


def _run(run_trial: RunTrial, overrides: list[str], number: int) -> tuple[str, str | None]:
    try:
        return "ran", run_trial(overrides, number)
    except SystemExit as err:  # a run stopped by a signal exits 128 + signal
        if err.code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            return "interrupted", None
        return "failed", f"the trial's run exited with status {err.code}"
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # reported as a failed trial by the sweeping process
        return "failed", f"{type(err).__name__}: {err}"


def _end_with_parent() -> None:
    """A SIGTERM when the sweeping process dies, however it dies: the trial then stops after
    its epoch and saves, as a run told to stop does, instead of training on unowned. Not
    when the run already has a stop signal (a Slurm cancel or ``pkill`` reaches every
    process): a second would mean "stop now, unsaved". (Linux's own parent-death signal can
    arrive twice.)"""
    from gnnexp.training.interrupt import signalled

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        if not signalled():
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="gnnexp-parent-watch", daemon=True).start()


def _send(conn: Connection, message: tuple[str, str | None]) -> bool:
    """Send ``message`` whole; False when the worker should end (the search is gone, or a
    Ctrl-C came meanwhile: held until the message is out, as a signal can reach any thread)."""
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        conn.send(message)
        sent = True
    except (BrokenPipeError, OSError):
        sent = False
    finally:
        signal.signal(signal.SIGINT, previous)
    return sent and not held
