"""``gnnexp list [GROUP]``: every config group and option, with a line about each.

Reads the YAML files directly (the first comment line is the description), so it needs
neither Hydra's composition nor torch, and answers in a fraction of a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from gnnexp.commands.args import Parser
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

    parser = Parser(prog="gnnexp list", description=__doc__.splitlines()[0])
    parser.add_argument("group", nargs="?", help="only this group (e.g. model)")
    parser.add_argument("option", nargs="?", help="the settings of one option (e.g. gnnexp list model gat)")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="every component's settings as a Markdown table (the README's)",
    )
    parser.add_argument(
        "--config-dir", type=Path, action="append", default=[], help="your own config directory"
    )
    options = parser.parse_args(args)
    if options.markdown:
        sys.stdout.write(settings_markdown())
        return 0
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
    if options.option:
        return _print_settings(options.group, options.option, groups)
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


def _component_of(group: str, option: str) -> type | None:
    """The declared class behind an option file (``dataset=cora`` -> the planetoid source)."""
    from gnnexp.config.components import GROUPS, lookup
    from gnnexp.config.schema import NODES

    if group in NODES:
        return NODES[group]
    if group not in GROUPS:
        return None
    if lookup(group, option) is not None:
        return lookup(group, option)
    path = config_dir() / group / f"{option}.yaml"
    data = yaml.safe_load(path.read_text()) if path.is_file() else {}
    for entry in (data or {}).get("defaults", []):
        if isinstance(entry, str) and entry.startswith(SCHEMA_PREFIX):
            return lookup(group, entry.removeprefix(SCHEMA_PREFIX))
    return None


def _allowed(meta: dict, kind: object) -> str:
    from gnnexp.config.components import expected

    return expected(meta, kind)


def _print_settings(group: str, option: str, groups: dict) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from gnnexp.config.components import description, settings

    if option not in groups.get(group, {}):
        names = sorted(groups.get(group, {}))
        sys.stderr.write(
            f"gnnexp: error: unknown {group} option '{option}'.{did_you_mean(option, names)} "
            f"Options: {', '.join(names)}.\n"
        )
        return 2
    cls = _component_of(group, option)
    if cls is None:
        sys.stderr.write(f"gnnexp: error: {group}={option} declares no settings of its own.\n")
        return 2
    table = Table(title=f"{group}={option}: {description(cls)}", title_justify="left")
    for column in ("setting", "default", "allowed", "what it does"):
        table.add_column(column)
    for name, default, meta, kind in settings(cls):
        if meta.get("doc") is None:
            continue
        row = [f"{group}.{name}", _shown(default), _allowed(meta, kind), meta["doc"]]
        table.add_row(*(escape(cell) for cell in row))
    Console().print(table)
    return 0


def _shown(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def settings_markdown() -> str:
    """Every declared component and its settings, as the README's table (a test keeps the
    README equal to this). Settings every option of a group shares are listed once."""
    from gnnexp.config.components import GROUPS, base_of, declared, description, settings
    from gnnexp.config.schema import NODES, Config

    def cells(cls: type, skip: set[str]) -> str:
        out = []
        for name, default, meta, kind in settings(cls):
            if meta.get("doc") is None or name in skip:
                continue
            allowed = _allowed(meta, kind)
            out.append(f"`{name}` ({_shown(default)}{'; ' + allowed if allowed else ''})")
        return ", ".join(out) or "-"

    lines = ["| option | what it is | settings (default; allowed) |", "|---|---|---|"]
    for group in GROUPS:
        base = base_of(group)
        shared = {name for name, *_ in settings(base)} if base else set()
        if base:
            lines.append(f"| `{group}=*` | every {group}: {description(base)} | {cells(base, set())} |")
        for name, cls in declared(group).items():
            lines.append(f"| `{group}={name}` | {description(cls)} | {cells(cls, shared)} |")
    for label, cls in (*NODES.items(), ("top level", Config)):
        lines.append(f"| `{label}` | {description(cls)} | {cells(cls, set())} |")
    return "\n".join(line.replace("\n", " ") for line in lines) + "\n"
