"""``gnnexp completion bash``: shell completion for commands, config groups and keys.

Completion after ``gnnexp train`` is Hydra's own (group options, config keys); it is
asked with the ``train`` word removed, which is the command line Hydra expects, and
without the internal schemas (``gnnexp.commands.train.completion_without_schemas``).
"""

from __future__ import annotations

import sys

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

    gnnexp's own schemas are not listed (``hydra_plugins.gnnexp_schemas``), but a user's
    config dir may hold one (``model/base_mine.yaml``), which on its own fails validation.
    """
    return candidate.rpartition("=")[2].startswith(SCHEMA_PREFIX)


def main(args: list[str]) -> int:
    if args != ["bash"]:
        sys.stderr.write(
            'gnnexp: error: usage: gnnexp completion bash. Fix: add eval "$(gnnexp completion bash)" to ~/.bashrc.\n'
        )
        return 2
    sys.stdout.write(BASH % " ".join(COMMANDS))
    return 0
