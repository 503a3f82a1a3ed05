"""The generated tables of the README and docs: each block between
``<!-- generated: gnnexp list ... -->`` and ``<!-- end generated -->`` holds what its command
prints (``python -m gnnexp.commands.list_configs FILE...`` rewrites them)."""

from __future__ import annotations

import re
import shlex

from gnnexp.commands.list_configs import main

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
