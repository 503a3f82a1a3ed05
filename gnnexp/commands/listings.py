"""The tables ``gnnexp list`` shows (printed by rich, or as Markdown for the docs): options per
group, a summary per group, the settings of one option or of every declared component."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gnnexp.commands.config_files import _component_of, defaults, option_values
from gnnexp.paths import config_dir


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


def _shown(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)
