"""Hydra's command line as ``gnnexp train`` passes it on: Hydra's flags first, then the overrides."""

from __future__ import annotations

# Hydra's own flags (its command-line parser's, get_args_parser) that take a value. The others
# (--help/-h, --hydra-help, --version, --resolve, --run/-r, --multirun/-m,
# --shell-completion/-sc) take none, like any --flag=value word.
HYDRA_VALUE_FLAGS = {
    "--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn",
    "--cfg", "-c", "--package", "-p", "--experimental-rerun",
}  # fmt: skip
HYDRA_INFO = {"--info", "-i"}  # an optional value, one of INFO_CHOICES
INFO_CHOICES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def hydra_order(args: list[str]) -> list[str]:
    """``args`` with Hydra's flags (and their values) first, the overrides after.

    Hydra parses its command line with ``parse_args`` and one ``nargs="*"`` positional, so
    overrides on both sides of a flag leave the later ones "unrecognized". Each group keeps
    its relative order. A flag whose value may be absent stays last: ``--info`` with no
    choice after it, and a flag missing its value (Hydra then reports that, rather than
    taking the first override as the value).
    """
    flags, overrides, last = _split(args)
    return [*flags, *overrides, *last]


def split_flags(args: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's flags (with their values), and the overrides."""
    flags, overrides, last = _split(args)
    return [*flags, *last], overrides


def _split(args: list[str]) -> tuple[list[str], list[str], list[str]]:
    flags: list[str] = []
    overrides: list[str] = []
    last: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in HYDRA_VALUE_FLAGS:
            if i + 1 < len(args):
                flags += args[i : i + 2]
                i += 1
            else:
                last.append(arg)
        elif arg in HYDRA_INFO:
            if i + 1 < len(args) and args[i + 1] in INFO_CHOICES:
                flags += args[i : i + 2]
                i += 1
            else:
                last.insert(0, arg)
        elif arg.startswith("-"):
            # A switch, a --flag=value, or a mistyped flag that Hydra will name; never an
            # override, which starts with a key, "+" or "~".
            flags.append(arg)
        else:
            overrides.append(arg)
        i += 1
    return flags, overrides, last
