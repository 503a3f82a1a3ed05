"""What this process is, for the code that may fork it (gnnexp.search.forked).

A fork copies every lock as it stands, held ones included, while only the forking thread
goes on in the child. Forking is safe only where gnnexp knows every thread: in its own
command's process, whose other threads it names here.
"""

from __future__ import annotations

import os

# Set by the console script (gnnexp.cli.run) to its own pid; a caller's process (a notebook,
# a test calling gnnexp in-process) does not have it, and a child process has another pid.
COMMAND_PID = "GNNEXP_COMMAND_PID"
VIEW_THREAD = "gnnexp-sweep-view"  # gnnexp.sweep_view's thread, which holds no lock across a fork


def mark_command() -> None:
    os.environ[COMMAND_PID] = str(os.getpid())


def is_command() -> bool:
    return os.environ.get(COMMAND_PID) == str(os.getpid())
