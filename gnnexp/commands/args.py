"""The argument parser of gnnexp's own commands: a usage mistake is one line, like any other."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """``argparse`` that reports a usage mistake as ``gnnexp: error: ... Fix: ...`` (status 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"gnnexp: error: {self.prog}: {message}. Fix: see '{self.prog} --help'.\n")
        raise SystemExit(2)
