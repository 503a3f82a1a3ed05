"""``gnnexp list [GROUP]``: every config group and option, with a line about each.

Reads the YAML files directly (the first comment line is the description), so it needs
neither Hydra's composition nor torch, and answers in a fraction of a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from gnnexp.config.components import SCHEMA_PREFIX
from gnnexp.errors import did_you_mean
from gnnexp.paths import config_dir

HIDDEN_GROUPS = ("hydra",)


def describe(path: Path) -> str:
    """The first comment line of a YAML file, or its _target_ when it has no comment."""
    text = path.read_text()
    for line in text.splitlines():
        stripped = line.strip()
        if (
            stripped.startswith("#")
            and stripped.lstrip("#").strip()
            and not stripped.startswith("# @package")
        ):
            return stripped.lstrip("#").strip()
        if stripped and not stripped.startswith("#"):
            break
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return "(unreadable YAML)"
    return f"_target_: {data['_target_']}" if isinstance(data, dict) and data.get("_target_") else ""


def defaults(root: Path) -> dict[str, str]:
    """Group -> default option, from the primary config's defaults list."""
    data = yaml.safe_load((root / "config.yaml").read_text()) or {}
    chosen = {}
    for entry in data.get("defaults", []):
        if isinstance(entry, dict):
            for key, value in entry.items():
                if not key.startswith("override") and value is not None:
                    chosen[key] = str(value)
    return chosen


def collect(roots: list[Path]) -> dict[str, dict[str, tuple[str, str]]]:
    """Group -> option -> (description, where it comes from); later roots override."""
    groups: dict[str, dict[str, tuple[str, str]]] = {}
    for index, root in enumerate(roots):
        origin = "gnnexp" if index == 0 else str(root)
        for path in sorted(root.rglob("*.yaml")):
            group = path.parent.relative_to(root).as_posix()
            if group == "." or group.split("/")[0] in HIDDEN_GROUPS or path.stem.startswith(SCHEMA_PREFIX):
                continue
            groups.setdefault(group, {})[path.stem] = (describe(path), origin)
    return groups


def main(args: list[str]) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    parser = argparse.ArgumentParser(prog="gnnexp list", description=__doc__.splitlines()[0])
    parser.add_argument("group", nargs="?", help="only this group (e.g. model)")
    parser.add_argument(
        "--config-dir", type=Path, action="append", default=[], help="your own config directory"
    )
    options = parser.parse_args(args)
    roots = [config_dir(), *options.config_dir]
    for root in options.config_dir:
        if not root.is_dir():
            sys.stderr.write(f"gnnexp: error: --config-dir {root} is not a directory.\n")
            return 2
    groups = collect(roots)
    if options.group and options.group not in groups:
        sys.stderr.write(
            f"gnnexp: error: unknown config group '{options.group}'.{did_you_mean(options.group, groups)} "
            f"Groups: {', '.join(sorted(groups))}.\n"
        )
        return 2
    chosen = defaults(config_dir())
    table = Table(
        title="gnnexp config groups (pick with group=option; * is the default)", title_justify="left"
    )
    table.add_column("group", style="bold")
    table.add_column("option")
    table.add_column("description")
    show_origin = bool(options.config_dir)
    if show_origin:
        table.add_column("from")
    for group in sorted(groups):
        if options.group and group != options.group:
            continue
        for i, (option, (text, origin)) in enumerate(sorted(groups[group].items())):
            mark = "*" if chosen.get(group) == option else ""
            row = [group if i == 0 else "", option + mark, text, *([origin] if show_origin else [])]
            # Cells are rich markup: "needs the [mlflow] extra" would lose "[mlflow]" as a tag.
            table.add_row(*(escape(cell) for cell in row))
        table.add_section()
    Console().print(table)
    return 0
