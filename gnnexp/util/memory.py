"""Refusing work that cannot fit in memory before allocating it.

Past the machine's memory torch's allocator fails with a traceback, or (Linux overcommit)
the kernel kills the process once the pages are touched; an estimate made first turns
absurd sizes (a width of 1e11, a billion-node generator) into one line.
"""

from __future__ import annotations

import math
import os

from gnnexp.errors import ConfigError


def physical_memory() -> int | None:
    """Bytes of RAM on this machine; None where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:,.1f} GB" if nbytes < 1e15 else f"{nbytes / 1e9:.3g} GB"


def check_fits(nbytes: float, what: str, fix: str) -> None:
    """Refuse ``what`` (needing about ``nbytes``) when it exceeds this machine's memory."""
    total = physical_memory()
    if total is not None and nbytes > total:
        need = f"about {_gb(nbytes)}" if math.isfinite(nbytes) else "more than any machine has"
        raise ConfigError(f"{what} needs {need} of memory; this machine has {_gb(total)}.", fix)
