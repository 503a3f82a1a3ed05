"""Every file gnnexp writes goes through here: whole or not at all, and never over a non-file.

A write resolves symbolic links first (the link stays a link, its target gets the new
content), writes a temporary sibling, flushes it to disk and renames it over the target.
A failed write leaves the previous file as it was and is reported in one line naming it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from gnnexp.errors import OutputError


def target_of(path: Path) -> Path:
    """The regular file a write to ``path`` replaces (through links); refuses devices,
    directories, pipes and sockets, which a rename would replace instead of writing to."""
    real = Path(os.path.realpath(path))
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        return real
    except OSError as err:
        raise OutputError(
            f"Cannot write {path} ({err.strerror or err}).", "choose another output path."
        ) from err
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise OutputError(
            f"{path} is {kind}; gnnexp writes only regular files.", "give a file path, e.g. --out out.csv."
        )
    return real


@contextmanager
def atomic_file(path: Path, mode: str = "w", newline: str | None = None) -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the block ends without an error."""
    real = target_of(Path(path))
    tmp = real.with_name(f".{real.name}.{os.getpid()}.tmp")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, mode, newline=newline) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, real)
    except OSError as err:
        full = err.errno in (errno.ENOSPC, errno.EDQUOT)
        raise OutputError(
            f"{'The disk is full' if full else 'Cannot write'}: {path} was not written "
            f"({err.strerror or err}); a previous {real.name}, if any, is unchanged.",
            "free some space, or choose a writable path.",
        ) from err
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_file(path) as file:
        file.write(text)


def write_json(path: Path, obj: Any) -> None:
    with atomic_file(path) as file:
        json.dump(obj, file, indent=2, default=str)
        file.write("\n")


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object (a
    damaged file is its reader's to report, never a crash)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
