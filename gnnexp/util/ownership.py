"""A run directory has one owner: a lock for the whole run, and no silent reuse of a finished one."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from gnnexp.errors import GnnexpError, OutputError

LOCK_FILE = ".gnnexp.lock"
# What a run leaves behind: a directory holding any of these holds an earlier run.
RUN_FILES = ("results.json", "failed.json", "metrics.csv", "checkpoints")


class RunDirError(GnnexpError):
    """The run directory belongs to another run (running now, or finished earlier)."""


def check_reusable(run_dir: Path, resume: str | None, overwrite: bool) -> None:
    """Refuse a new run into a directory that holds an earlier one, unless it resumes that
    run or the config says ``overwrite=true``."""
    if overwrite or not run_dir.is_dir():
        return
    found = [name for name in RUN_FILES if (run_dir / name).exists()]
    if not found:
        return
    if resume and Path(resume).expanduser().resolve().is_relative_to(run_dir.resolve()):
        return
    raise RunDirError(
        f"{run_dir} already holds a run ({', '.join(found)}); a new run would overwrite its results.",
        f"choose another hydra.run.dir, resume it with trainer.resume={run_dir}, or add overwrite=true to replace it.",
    )


class RunDirLock:
    """An exclusive lock on ``<run dir>/.gnnexp.lock``, held until :meth:`release` (or exit).

    The lock is the kernel's (``flock``): it goes away with the process, so a run killed
    with SIGKILL leaves no stale lock behind. The file holds the owner's PID for the message.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE
        self.file: IO[str] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            file = open(self.path, "a+")  # noqa: SIM115 (held open for the whole run)
        except OSError as err:
            raise OutputError(
                f"Cannot write to the output directory {self.path.parent} ({err.strerror or err}).",
                "choose a writable place with hydra.run.dir=... (or hydra.sweep.dir=... for -m).",
            ) from err
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise RunDirError(
                f"{self.path.parent} is in use by another gnnexp run (PID {holder}).",
                "wait for it to finish, or choose another hydra.run.dir.",
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self.file = file

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the descriptor releases the lock
            self.file = None
