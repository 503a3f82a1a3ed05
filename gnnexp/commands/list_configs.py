"""``gnnexp list [GROUP [OPTION]]``: every config group and option, with a line about each.

Reads the YAML files directly (the first comment line is the description) and the
declared components, so it needs neither Hydra's composition nor torch, and answers in a
fraction of a second. ``--format markdown`` prints the same tables as Markdown: the
README's and docs' tables are these, between ``<!-- generated: gnnexp list ... -->`` and
``<!-- end generated -->`` (``python -m gnnexp.commands.list_configs FILE...`` rewrites
them; tests/test_generated_docs.py keeps them equal). The config files are read in
``gnnexp.commands.config_files``, the tables built in ``gnnexp.commands.listings``, the
generated blocks rendered in ``gnnexp.commands.generated_docs``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gnnexp.commands.args import Parser, imports_from
from gnnexp.commands.config_files import _schema_named, collect
from gnnexp.commands.listings import all_settings, group_summary, option_list, option_settings
from gnnexp.errors import did_you_mean
from gnnexp.paths import config_dir


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


if __name__ == "__main__":
    from gnnexp.commands.generated_docs import render_blocks

    # python -m gnnexp.commands.list_configs README.md docs/*.md: rewrite the generated blocks.
    for name in sys.argv[1:]:
        path = Path(name)
        path.write_text(render_blocks(path.read_text()))
