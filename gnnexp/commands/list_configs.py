"""``gnnexp list [GROUP [OPTION]]``: every config group and option, with a line about each.

Reads the YAML files directly (the first comment line is the description) and the
declared components, so it needs neither Hydra's composition nor torch, and answers in a
fraction of a second. ``--format markdown`` prints the same tables as Markdown: the
README's and docs' tables are these, between ``<!-- generated: gnnexp list ... -->`` and
``<!-- end generated -->`` (``python -m gnnexp.commands.list_configs FILE...`` rewrites
them; tests/test_generated_docs.py keeps them equal).
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gnnexp.commands.args import Parser, imports_from
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
    """Group -> option -> (description, where it comes from); later roots override. A
    user's option file without a comment line is described by its class's docstring when
    the class is declared (imported with ``imports=[...]``)."""
    from gnnexp.config.components import description

    groups: dict[str, dict[str, tuple[str, str]]] = {}
    for index, root in enumerate(roots):
        origin = "gnnexp" if index == 0 else str(root)
        for path in sorted(root.rglob("*.yaml")):
            group = path.parent.relative_to(root).as_posix()
            if group == "." or group.split("/")[0] in HIDDEN_GROUPS or path.stem.startswith(SCHEMA_PREFIX):
                continue
            text = describe(path)
            cls = _component_of(group, path.stem, [root]) if index and not text else None
            if cls is not None and cls.__doc__:
                text = description(cls)
            groups.setdefault(group, {})[path.stem] = (text, origin)
    return groups


@dataclass
class Listing:
    """One table: printed by rich, or as Markdown for the docs."""

    title: str
    columns: tuple[str, ...]
    rows: list[list[str]] = field(default_factory=list)

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        lines = [
            "| " + " | ".join(self.columns) + " |",
            "|" + "---|" * len(self.columns),
            *("| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows),
        ]
        return "\n".join(lines) + "\n"

    def print(self) -> None:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=escape(self.title), title_justify="left")  # "(needs the [wandb] extra)"
        for column in self.columns:
            table.add_column(column)
        for row in self.rows:
            if not row:
                table.add_section()
                continue
            # Cells are rich markup: "needs the [mlflow] extra" would lose "[mlflow]" as a tag.
            table.add_row(*(escape(cell) for cell in row))
        Console().print(table)


def main(args: list[str]) -> int:
    parser = Parser(prog="gnnexp list", description=__doc__.splitlines()[0])
    parser.add_argument("group", nargs="?", help="only this group (e.g. model)")
    parser.add_argument("option", nargs="?", help="the settings of one option (e.g. gnnexp list model gat)")
    parser.add_argument(
        "--settings",
        action="store_true",
        help="every declared component's settings (of GROUP only, when given)",
    )
    parser.add_argument(
        "--format", choices=("table", "markdown"), default="table", help="markdown: for the docs"
    )
    parser.add_argument(
        "--config-dir", type=Path, action="append", default=[], help="your own config directory"
    )
    # imports=[mymodels], as on a train command line: the user's components get declared.
    from gnnexp.config.trust import import_modules

    import_modules(imports_from(args))
    options = parser.parse_args([a for a in args if not a.lstrip("+").startswith("imports=")])
    for root in options.config_dir:
        if not root.is_dir():
            sys.stderr.write(f"gnnexp: error: --config-dir {root} is not a directory.\n")
            return 2
    roots = [config_dir(), *options.config_dir]
    groups = collect(roots)
    if options.group and options.group not in groups:
        sys.stderr.write(
            f"gnnexp: error: unknown config group '{options.group}'.{did_you_mean(options.group, groups)} "
            f"Groups: {', '.join(sorted(groups))}.\n"
        )
        return 2
    if options.option:
        if options.option not in groups[options.group]:
            names = sorted(groups[options.group])
            sys.stderr.write(
                f"gnnexp: error: unknown {options.group} option '{options.option}'."
                f"{did_you_mean(options.option, names)} Options: {', '.join(names)}.\n"
            )
            return 2
        listing = option_settings(options.group, options.option, roots)
        if listing is None:
            schema = _schema_named(options.group, options.option, roots)
            if schema is not None:
                sys.stderr.write(
                    f"gnnexp: error: {options.group}={options.option} builds on {schema}, which no "
                    f"imported module declares. Fix: add imports=[your_module] (as for gnnexp train).\n"
                )
                return 2
            sys.stderr.write(
                f"gnnexp: error: {options.group}={options.option} declares no settings of its own.\n"
            )
            return 2
    elif options.settings:
        listing = all_settings(roots, options.group)
    elif options.format == "markdown" and not options.group:
        listing = group_summary(groups)
    else:
        listing = option_list(groups, options.group, show_origin=bool(options.config_dir))
    if options.format == "markdown":
        sys.stdout.write(listing.markdown())
    else:
        listing.print()
    return 0


def option_list(
    groups: dict[str, dict[str, tuple[str, str]]], only: str | None, show_origin: bool
) -> Listing:
    """Every option of every group (or of ``only``), described; ``*`` marks the default."""
    chosen = defaults(config_dir())
    listing = Listing(
        "gnnexp config groups (pick with group=option; * is the default)",
        ("group", "option", "description", *(("from",) if show_origin else ())),
    )
    for group in sorted(groups):
        if only and group != only:
            continue
        for i, (option, (text, origin)) in enumerate(sorted(groups[group].items())):
            mark = "*" if chosen.get(group) == option else ""
            listing.rows.append(
                [group if i == 0 else "", option + mark, text, *([origin] if show_origin else [])]
            )
        listing.rows.append([])
    while listing.rows and not listing.rows[-1]:
        listing.rows.pop()
    return listing


def group_summary(groups: dict[str, dict[str, tuple[str, str]]]) -> Listing:
    """One row per group: its options (the default first) and the settings its components declare."""
    from gnnexp.config.components import GROUPS, base_of, declared, settings
    from gnnexp.config.schema import NODES, Config

    chosen = defaults(config_dir())
    listing = Listing("gnnexp config groups", ("group", "options (default first)", "settings"))
    for group in sorted(
        groups, key=lambda g: (g not in chosen, list(chosen).index(g) if g in chosen else 0, g)
    ):
        names = sorted(groups[group], key=lambda o: (o != chosen.get(group), o))
        shown = ", ".join(f"`{o}`" for o in names)
        keys: list[str] = []
        if group in NODES:
            keys = [_names(NODES[group], set())]
        elif group in GROUPS:
            base = base_of(group)
            shared = {n for n, *_ in settings(base)} if base else set()
            if base:
                keys.append(_names(base, set()))
            keys += [
                f"{name}: {_names(cls, shared)}"
                for name, cls in declared(group).items()
                if _names(cls, shared)
            ]
        listing.rows.append([f"`{group}`", shown, "; ".join(k for k in keys if k) or "-"])
    listing.rows.append(["top level", "", _names(Config, set(NODES))])
    return listing


def _names(cls: type, skip: set[str]) -> str:
    """The documented settings of ``cls`` but those in ``skip``, as code."""
    from gnnexp.config.components import settings

    return ", ".join(
        f"`{n}`" for n, _, meta, _ in settings(cls) if meta.get("doc") is not None and n not in skip
    )


def option_values(group: str, option: str, roots: list[Path]) -> dict[str, Any]:
    """The values ``group=option``'s file sets (the last root that has it wins): with the
    declared defaults, what ``group=option`` composes."""
    values: dict[str, Any] = {}
    for root in roots:
        path = root / group / f"{option}.yaml"
        if path.is_file():
            data = yaml.safe_load(path.read_text()) or {}
            values = {k: v for k, v in data.items() if k != "defaults"} if isinstance(data, dict) else {}
    return values


def _rows(cls: type, values: dict[str, Any], skip: set[str], prefix: str) -> Iterable[list[str]]:
    from gnnexp.config.components import expected, settings

    for name, default, meta, kind in settings(cls):
        if meta.get("doc") is None:
            continue
        value = values.get(name, default)
        if name in skip and value == default:
            continue
        yield [f"{prefix}{name}", _shown(value), expected(meta, kind), meta["doc"]]


def option_settings(group: str, option: str, roots: list[Path]) -> Listing | None:
    """The settings of ``group=option``: what its file sets over the declared defaults."""
    from gnnexp.config.components import GROUPS, description

    cls = _component_of(group, option, roots)
    if cls is None:
        return None
    listing = Listing(
        f"{group}={option}: {description(cls)}", ("setting", "default", "allowed", "what it does")
    )
    values, prefix = option_values(group, option, roots), f"{group}."
    if GROUPS.get(group) == "":  # a list group: each file holds its option's settings under its name
        values, prefix = values.get(option) or {}, f"{group}.{option}."
    listing.rows += _rows(cls, values, set(), prefix)
    return listing


def all_settings(roots: list[Path], only: str | None = None) -> Listing:
    """Every declared component and its settings; the settings every option of a group
    shares are listed once, in ``group=*``, unless an option's file changes them."""
    from gnnexp.config.components import GROUPS, base_of, declared, description, settings
    from gnnexp.config.schema import NODES, Config

    def cells(rows: Iterable[list[str]]) -> str:
        out = [f"`{name}` ({value}{'; ' + allowed if allowed else ''})" for name, value, allowed, _ in rows]
        return ", ".join(out) or "-"

    listing = Listing("declared components", ("option", "what it is", "settings (default; allowed)"))
    for group in GROUPS:
        if only and group != only:
            continue
        base = base_of(group)
        shared = {name for name, *_ in settings(base)} if base else set()
        if base:
            listing.rows.append(
                [f"`{group}=*`", f"every {group}: {description(base)}", cells(_rows(base, {}, set(), ""))]
            )
        for name, cls in declared(group).items():
            values = option_values(group, name, roots)
            listing.rows.append(
                [f"`{group}={name}`", description(cls), cells(_rows(cls, values, shared, ""))]
            )
    for label, cls in (*NODES.items(), ("top level", Config)):
        if not only or only == label:
            listing.rows.append([f"`{label}`", description(cls), cells(_rows(cls, {}, set(NODES), ""))])
    return listing


def _schema_named(group: str, option: str, roots: list[Path]) -> str | None:
    """The ``base_<name>`` schema ``group=option``'s file builds on (the last root that has it)."""
    schema = None
    for root in roots:
        path = root / group / f"{option}.yaml"
        try:
            data = yaml.safe_load(path.read_text()) if path.is_file() else None
        except yaml.YAMLError:
            continue
        if isinstance(data, dict):
            entries = data.get("defaults") or []
            schema = next((e for e in entries if isinstance(e, str) and e.startswith(SCHEMA_PREFIX)), schema)
    return schema


def _component_of(group: str, option: str, roots: list[Path]) -> type | None:
    """The declared class behind an option file (``dataset=cora`` -> the planetoid source)."""
    from gnnexp.config.components import GROUPS, lookup
    from gnnexp.config.schema import NODES

    if group in NODES:
        return NODES[group]
    if group not in GROUPS:
        return None
    if lookup(group, option) is not None:
        return lookup(group, option)
    schema = _schema_named(group, option, roots)
    return lookup(group, schema.removeprefix(SCHEMA_PREFIX)) if schema else None


def _shown(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


BLOCK = re.compile(r"(<!-- generated: (gnnexp list[^>]*?) -->\n)(.*?)(<!-- end generated -->)", re.S)


def generated(command: str) -> str:
    """What ``command`` (``gnnexp list ... --format markdown``) prints: a block's content."""
    import io
    from contextlib import redirect_stdout

    words = shlex.split(command)
    if words[:2] != ["gnnexp", "list"] or "markdown" not in words:
        raise ValueError(f"'{command}' is not a gnnexp list ... --format markdown command")
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(words[2:])
    if code != 0:
        raise ValueError(f"'{command}' failed with exit status {code}")
    return out.getvalue()


def render_blocks(text: str) -> str:
    """``text`` with every generated block's content replaced by its command's output."""
    return BLOCK.sub(lambda m: m.group(1) + generated(m.group(2)) + m.group(4), text)


if __name__ == "__main__":
    # python -m gnnexp.commands.list_configs README.md docs/*.md: rewrite the generated blocks.
    for name in sys.argv[1:]:
        path = Path(name)
        path.write_text(render_blocks(path.read_text()))
