"""Every table of options in the README and docs/ is generated from the declarations.

A block ``<!-- generated: gnnexp list ... --format markdown -->`` ... ``<!-- end generated -->``
holds exactly what that command prints; ``python -m gnnexp.commands.list_configs README.md
docs/*.md`` rewrites the blocks after a declaration changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gnnexp.commands.generated_docs import BLOCK, generated, render_blocks

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_there_are_generated_blocks() -> None:
    blocks = [m.group(2) for page in PAGES for m in BLOCK.finditer(page.read_text())]
    assert "gnnexp list --format markdown" in blocks, "the group table is hand-written again"
    assert any("--settings" in b for b in blocks), "no generated table of the components' settings"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_generated_blocks_equal_their_command(page: Path) -> None:
    text = page.read_text()
    for match in BLOCK.finditer(text):
        assert match.group(3) == generated(match.group(2)), (
            f"{page.name}: the block '{match.group(2)}' differs from the declarations; "
            f"run: python -m gnnexp.commands.list_configs {page.relative_to(REPO)}"
        )
    assert render_blocks(text) == text


def test_a_block_shows_what_an_option_composes() -> None:
    # model=gat's file sets these over the class defaults; the table must show the file's.
    gat = generated("gnnexp list model gat --format markdown")
    for row in (
        "| model.hidden_channels | 8 |",
        "| model.dropout | 0.6 |",
        "| model.act | elu |",
        "| model.lr | 0.005 |",
    ):
        assert row in gat, row
    assert "| model.heads | 8 |" in gat  # the class's default: said once, in the class
    settings = generated("gnnexp list --settings --format markdown")
    gat_row = next(line for line in settings.splitlines() if line.startswith("| `model=gat`"))
    assert "`dropout` (0.6;" in gat_row and "`heads` (8;" in gat_row
    cora = generated("gnnexp list dataset cora --format markdown")
    assert "| dataset.normalize_features | true |" in cora


def test_a_stale_block_is_rewritten() -> None:
    stale = (
        "x\n<!-- generated: gnnexp list device cpu --format markdown -->\nold\n<!-- end generated -->\ny\n"
    )
    fresh = render_blocks(stale)
    assert (
        "old" not in fresh
        and "| device.type | cpu |" in fresh
        and fresh.endswith("<!-- end generated -->\ny\n")
    )
    with pytest.raises(ValueError, match="not a gnnexp list"):
        generated("gnnexp train --format markdown")


def test_no_option_file_restates_a_declared_default() -> None:
    """One home per default: an option file sets only what differs from its schema."""
    import yaml

    from gnnexp.config.components import lookup, settings
    from gnnexp.config.schema import NODES

    restated = []
    for path in sorted((REPO / "conf").glob("*/*.yaml")):
        group, data = path.parent.name, yaml.safe_load(path.read_text()) or {}
        bases = [
            e[len("base_") :]
            for e in data.get("defaults", [])
            if isinstance(e, str) and e.startswith("base_")
        ]
        cls = NODES.get(group) if group in NODES else (lookup(group, bases[0]) if bases else None)
        if cls is None:
            continue
        declared = {name: default for name, default, *_ in settings(cls)}
        restated += [
            f"{path.relative_to(REPO)}: {k}" for k, v in data.items() if k in declared and declared[k] == v
        ]
    assert restated == [], f"said in the declaration already: {restated}"
    for name in ("adam", "adamw", "sgd"):
        assert "lr:" not in (REPO / "conf" / "optimizer" / f"{name}.yaml").read_text()
