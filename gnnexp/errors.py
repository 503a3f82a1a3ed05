"""User-facing errors: one line that names the problem and the fix."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Iterable
from typing import IO


class GnnexpError(Exception):
    """A mistake the user can fix; reported as one line, never as a traceback."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem} Fix: {fix}")


class ConfigError(GnnexpError):
    """The composed configuration asks for something impossible or unknown."""


class DataError(GnnexpError):
    """Dataset files are missing, unreadable or inconsistent."""


class CheckpointError(GnnexpError):
    """A checkpoint file is missing, truncated, corrupted or not one of ours."""


class OutputError(GnnexpError):
    """A file or directory cannot be written (permissions, read-only or full disk, not a file)."""


class TrainingError(GnnexpError):
    """Training cannot go on (for instance a non-finite loss)."""

    exit_code = 1


def closest(name: str, options: Iterable[str]) -> str | None:
    """The option most similar to ``name``, if any is reasonably close."""
    matches = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` or an empty string."""
    match = closest(name, options)
    return f" Did you mean '{match}'?" if match else ""


def closed_pipe(stream: IO[str]) -> None:
    """The reader of ``stream`` is gone (``gnnexp train | tee log`` after a Ctrl-C, or
    ``| head``): what is still printed there goes to os.devnull, so print(), logging and the
    interpreter's last flush at exit cannot fail a run that is still saving its files."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


def say(text: str, stream: IO[str] | None = None) -> None:
    """Write ``text`` to the console (stderr by default); a closed pipe swallows it."""
    stream = stream or sys.stderr
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        closed_pipe(stream)


def report(error: BaseException | str) -> None:
    """Print ``error`` as the single line users see."""
    say(f"gnnexp: error: {error}\n")


def reporting(body: Callable[[], int]) -> int:
    """Run a command's body; a user error, or a file that cannot be written, becomes the
    one-line report and a non-zero status instead of a traceback."""
    try:
        return body()
    except GnnexpError as err:
        report(err)
        return err.exit_code
    except BrokenPipeError:  # the reader of our output left (| head): not a file we failed to write
        closed_pipe(sys.stdout)
        return 0
    except OSError as err:
        report(
            f"cannot write {err.filename or 'a file'} ({err.strerror or err}). Fix: choose a writable path (--out)."
        )
        return 2


def quiet_known_warnings() -> None:
    """Silence torch's notes that say nothing to a user, in every process that trains (the
    CLI, and a parallel launcher's workers, which start without the CLI's filters)."""
    import warnings

    # torch flags CSR support as beta and notes that it skips invariant checks on every
    # construction; gnnexp builds its CSR tensors from valid ones, so the notes are noise.
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
    warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
    # Optuna marks samplers, pruners and figures as "experimental" on every use.
    warnings.filterwarnings("ignore", message=r".* is experimental \(supported from v")
