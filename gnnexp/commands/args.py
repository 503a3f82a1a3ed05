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


def imports_from(args: list[str]) -> list[str]:
    """The modules an ``imports=[...]`` override names: they register components (and their
    ``base_<name>`` schemas) that the config files may use, so they load before composition."""
    import yaml

    modules: list[str] = []
    for arg in args:
        key, sep, value = arg.lstrip("+").partition("=")
        if key == "imports" and sep:
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                parsed = value
            modules += [str(m) for m in (parsed if isinstance(parsed, list) else [parsed]) if m]
    return modules
