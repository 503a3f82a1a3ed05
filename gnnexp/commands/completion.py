"""``gnnexp completion bash``: shell completion for commands, config groups and keys.

Completion after ``gnnexp train`` is Hydra's own (group options, config keys); it is
asked with the ``train`` word removed, which is the command line Hydra expects.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gnnexp.cli import COMMANDS
from gnnexp.config.components import SCHEMA_PREFIX

BASH = """\
_gnnexp_completion()
{
    local word="${COMP_WORDS[COMP_CWORD]}"
    if [ "${COMP_WORDS[1]}" == "train" ] && [ "$COMP_CWORD" -gt 1 ]; then
        local choices
        choices=$(COMP_LINE="gnnexp ${COMP_LINE#*train}" COMP_POINT=$COMP_POINT gnnexp train -sc query=bash 2>/dev/null)
        COMPREPLY=($(compgen -o nospace -o default -W "$choices" -- "$word"))
    elif [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "%s" -- "$word"))
    else
        COMPREPLY=($(compgen -o default -- "$word"))
    fi
}
COMP_WORDBREAKS=${COMP_WORDBREAKS//=}
complete -o nospace -o default -F _gnnexp_completion gnnexp
"""


def is_schema(candidate: str) -> bool:
    """Whether a completion candidate picks an internal schema, e.g. ``model=base_gat``.

    The schemas are in Hydra's ConfigStore, so Hydra offers them beside the YAML options,
    but on their own they fail validation (model.name must be set).
    """
    return candidate.rpartition("=")[2].startswith(SCHEMA_PREFIX)


@contextmanager
def hide_schemas() -> Iterator[None]:
    """Hydra's shell completion without internal schemas, and with flags anywhere on the line.

    Hydra's completion plugins (bash, zsh, fish) all answer through
    ``CompletionPlugin._query``, and nothing between the plugin and its print can filter,
    so the method is swapped for the duration of the call.
    """
    from hydra.plugins.completion_plugin import CompletionPlugin

    from gnnexp.commands.train import hydra_order

    original = CompletionPlugin._query

    def _query(self: CompletionPlugin, config_name: str | None, line: str) -> list[Any]:
        # Hydra parses the line as it parses a command line, so it needs the same order;
        # a trailing space (a new word is being started) must survive the reordering.
        ordered = " ".join(hydra_order(line.split())) + line[len(line.rstrip()) :]
        return [c for c in original(self, config_name, ordered) if not is_schema(c)]

    CompletionPlugin._query = _query  # type: ignore[method-assign]
    try:
        yield
    finally:
        CompletionPlugin._query = original  # type: ignore[method-assign]


def main(args: list[str]) -> int:
    if args != ["bash"]:
        sys.stderr.write(
            'gnnexp: error: usage: gnnexp completion bash. Fix: add eval "$(gnnexp completion bash)" to ~/.bashrc.\n'
        )
        return 2
    sys.stdout.write(BASH % " ".join(COMMANDS))
    return 0
